"""How the kind backend builds the hellogo image: with BuildKit when the docker CLI has
the buildx plugin, else with the legacy builder (no BuildKit).

``DOCKER_BUILDKIT=1`` without buildx fails at once ("BuildKit is enabled but the buildx
component is missing or broken"), which is what Debian/Ubuntu's ``docker.io`` and Colima
with Homebrew's docker give; hellogo's Dockerfile needs no BuildKit feature. With
BuildKit, ``--provenance=false`` keeps the result a plain image rather than an index with
an attestation manifest, which ``kind load`` cannot import from Docker's containerd image
store.
"""

from __future__ import annotations

import re
import shlex

#: Said once when buildx is missing.
NO_BUILDX = (
    "docker buildx is not installed: building hellogo with the legacy builder (no BuildKit); "
    "install docker-buildx for BuildKit"
)


def build_command(tag: str, folder: str, buildkit: bool) -> tuple[dict[str, str], list[str]]:
    """The environment additions and ``docker`` arguments that build ``folder`` as ``tag``.

    Args:
        tag: the image tag.
        folder: the build context (hellogo's folder).
        buildkit: whether ``docker buildx version`` answered.

    Returns:
        (``DOCKER_BUILDKIT`` setting, argv after ``docker``).
    """
    if buildkit:
        return {"DOCKER_BUILDKIT": "1"}, ["build", "--provenance=false", "--tag", tag, folder]
    return {"DOCKER_BUILDKIT": "0"}, ["build", "--tag", tag, folder]


def plan_text(tag: str, folder: str) -> str:
    """The build step as the dry-run plan shows it: one shell line choosing the builder as
    the bed does, then each command on its own."""
    commands = {}
    for buildkit in (True, False):
        env, argv = build_command(tag, folder, buildkit)
        commands[buildkit] = shlex.join([f"{k}={v}" for k, v in env.items()] + ["docker", *argv])
    said = shlex.quote(NO_BUILDX)
    return "\n".join(
        [
            f"$ if docker buildx version >/dev/null 2>&1; then {commands[True]}; "
            f"else echo {said} >&2; {commands[False]}; fi",
            f"with buildx (BuildKit): {commands[True]}",
            f"without buildx (the legacy builder, said in one line): {commands[False]}",
        ]
    )


#: ``docker info``'s Architecture (the kernel's name) -> the image platform's.
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def native_platform(architecture: str) -> str:
    """The image platform of a daemon whose ``docker info`` says ``architecture``."""
    return f"linux/{_ARCH.get(architecture.strip().lower(), architecture.strip().lower())}"


def save_command(tag: str, archive: str, platform: str | None) -> list[str]:
    """``docker`` arguments that save ``tag`` for ``platform`` only: on Docker's containerd
    image store an image is an index, and kind imports a single-platform archive only.
    ``platform`` None: the image as the daemon holds it (``SAVE_HAS_NO_PLATFORM``)."""
    only = ["--platform", platform] if platform else []
    return ["save", *only, "--output", archive, tag]


#: What ``docker save --platform`` says where the daemon (API < 1.48, Docker < 28) or the
#: CLI cannot save one platform; recorded with dockerd 20.10.24 (Debian 12's docker.io)
#: behind its own CLI and behind CLI 28.2.2. Such a daemon has the classic image store,
#: one platform per image: a plain ``docker save`` is what kind can import.
SAVE_HAS_NO_PLATFORM = re.compile(r'unknown flag: --platform|"--platform" requires API version')
