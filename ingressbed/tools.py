"""External tools and pinned downloads: the version lock, kind/kubectl, upstream manifests.

Everything the kind and cluster backends fetch from outside is named in
``manifests/lock.yaml`` with its SHA-256 (files) or digest (images). A tool is taken from
``PATH`` when there, else downloaded once into the user cache (``~/.cache/ingressbed``,
``$INGRESSBED_CACHE`` overrides) and verified; a cached file is verified again on every
use. A wrong checksum is an error, never a warning, and so is an empty one.

Errors are ``ToolError`` (a tool or download) or ``ConfigError`` (a version the lock does
not know); each is one line saying what, where from, and what to do.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingressbed.errors import ConfigError, ToolError
from ingressbed.paths import MANIFESTS

LOCK_PATH = MANIFESTS / "lock.yaml"
_DOWNLOAD_TIMEOUT = 60.0


def cache_dir() -> Path:
    """The user cache of ingressbed (``$INGRESSBED_CACHE`` or ``~/.cache/ingressbed``)."""
    explicit = os.environ.get("INGRESSBED_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ingressbed"


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    """``os/arch`` as release file names spell it (``linux/amd64``, ``darwin/arm64``)."""
    os_name = (system or platform.system()).lower()
    arch = (machine or platform.machine()).lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    return f"{os_name}/{arch}"


@dataclass(frozen=True)
class Pinned:
    """One file to download: where from and the SHA-256 it must have."""

    name: str
    url: str
    sha256: str
    source: str = ""


@dataclass(frozen=True)
class ControllerRelease:
    """One ingress-nginx release of the lock."""

    version: str
    manifests: dict[str, Pinned]  # "kind" / "cloud"
    images: dict[str, str]  # "controller" / "certgen" -> image@sha256:...


class Lock:
    """``manifests/lock.yaml``, parsed. Pure: reading it does no I/O beyond the file."""

    def __init__(self, data: dict[str, Any], path: Path = LOCK_PATH) -> None:
        self.data = data
        self.path = path

    @classmethod
    def load(cls, path: Path = LOCK_PATH) -> Lock:
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the version lock {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: not a mapping")
        return cls(data, path)

    @property
    def node_image(self) -> str:
        return str(self.data["node_image"])

    @property
    def schema_version(self) -> str:
        return str(self.data["kubernetes_schema_version"])

    def _release_entry(self, version: str) -> dict[str, Any]:
        entry = self.data["controller"]["releases"].get(normalize_version(version)) or {}
        return dict(entry)

    def node_image_for(self, controller_version: str) -> str:
        """The node image pinned for a controller release (else the default ``node_image``)."""
        entry = self._release_entry(controller_version)
        return str(entry.get("node_image") or self.node_image)

    def schema_version_for(self, controller_version: str) -> str:
        """The Kubernetes schema version matching ``node_image_for(controller_version)``."""
        entry = self._release_entry(controller_version)
        return str(entry.get("kubernetes_schema_version") or self.schema_version)

    def node_image_note(self, controller_version: str, node_image: str) -> str:
        """A one-line warning when ``node_image`` runs a Kubernetes newer than the release
        supports (the lock's ``kubernetes_max``), else ""."""
        entry = self._release_entry(controller_version)
        top = str(entry.get("kubernetes_max") or "")
        match = re.search(r":v(\d+)\.(\d+)", node_image.split("@")[0])
        if not top or not match:
            return ""
        if (int(match[1]), int(match[2])) <= version_tuple(top):
            return ""
        return (
            f"warning: ingress-nginx {normalize_version(controller_version)} supports "
            f"Kubernetes up to {top}; node image {node_image.split('@')[0]} is newer "
            "(untested upstream)"
        )

    @property
    def controller_versions(self) -> list[str]:
        return list(self.data["controller"]["releases"])

    @property
    def matrix(self) -> list[str]:
        return [str(v) for v in self.data["controller"]["matrix"]]

    def tool(self, name: str, key: str | None = None) -> Pinned:
        """The pinned download of tool ``name`` for platform ``key`` (default: this host)."""
        key = key or platform_key()
        entry = self.data["tools"][name]
        version = str(entry["version"])
        os_name, _, arch = key.partition("/")
        url = str(entry["url"]).format(version=version, os=os_name, arch=arch)
        sha = (entry.get("sha256") or {}).get(key) or ""
        return Pinned(f"{name}-{version}", url, str(sha), str(entry.get("checksum_source", "")))

    def tool_version(self, name: str) -> str:
        return str(self.data["tools"][name]["version"])

    def controller(self, version: str | None = None) -> ControllerRelease:
        """The release ``version`` (``1.15.1``, ``v1.15.1`` or ``controller-v1.15.1``)."""
        wanted = normalize_version(version or str(self.data["controller"]["default"]))
        releases = self.data["controller"]["releases"]
        if wanted not in releases:
            raise ConfigError(
                f"ingress-nginx {wanted} is not in {self.path.name} (pinned: "
                f"{', '.join(releases)}); pick one of those or add it with its manifest sha256 "
                "and image digests"
            )
        rel = releases[wanted]
        manifests = {
            flavor: Pinned(f"ingress-nginx-{wanted}-{flavor}.yaml", m["url"], m.get("sha256") or "")
            for flavor, m in rel["manifests"].items()
        }
        return ControllerRelease(wanted, manifests, dict(rel["images"]))


def normalize_version(version: str) -> str:
    """``controller-v1.15.1`` / ``1.15.1`` / ``v1.15.1`` -> ``v1.15.1``."""
    v = version.strip().removeprefix("controller-")
    return v if v.startswith("v") else f"v{v}"


def version_tuple(version: str) -> tuple[int, ...]:
    """``v1.11.8`` -> (1, 11, 8); pre-release suffixes are ignored."""
    core = normalize_version(version)[1:].split("-")[0]
    return tuple(int(p) for p in core.split(".") if p.isdigit())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, pinned: Pinned, lock_path: Path = LOCK_PATH) -> None:
    """Raise ``ToolError`` unless ``path`` has the pinned SHA-256 (an empty pin is an error)."""
    if not pinned.sha256:
        raise ToolError(
            f"{lock_path.name} has no sha256 for {pinned.name} ({pinned.url}): the lock needs a "
            "checksum; add it from the release's published checksum file"
        )
    got = sha256_file(path)
    if got != pinned.sha256:
        raise ToolError(
            f"{path} has sha256 {got}, but {lock_path.name} pins {pinned.sha256} for "
            f"{pinned.name} ({pinned.url}); delete the file and retry, or fix the lock"
        )


def download(pinned: Pinned, dest: Path, *, executable: bool = False) -> Path:
    """Download ``pinned`` to ``dest`` (verified; reused when already there and valid)."""
    if dest.exists():
        verify(dest, pinned)
        return dest
    if not pinned.sha256:
        verify(dest, pinned)  # raises: the lock needs a checksum
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(pinned.url, timeout=_DOWNLOAD_TIMEOUT) as resp:
                    shutil.copyfileobj(resp, out)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ToolError(
                    f"could not download {pinned.name} from {pinned.url}: {reason}; check the "
                    f"network, or put the file at {dest} yourself (it must have sha256 "
                    f"{pinned.sha256})"
                ) from exc
        verify(tmp, pinned)
        if executable:
            tmp.chmod(0o755)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def find_tool(name: str, lock: Lock | None = None, *, fetch: bool = True) -> Path:
    """``name`` (kind or kubectl) from PATH, else the pinned download in the user cache.

    ``INGRESSBED_PINNED_TOOLS=1`` skips PATH (CI: the runner's kind may be another version).

    Raises ``ToolError`` when it is on neither and ``fetch`` is False or the download fails.
    """
    pinned_only = os.environ.get("INGRESSBED_PINNED_TOOLS", "") not in ("", "0")
    on_path = None if pinned_only else shutil.which(name)
    if on_path:
        return Path(on_path)
    lock = lock or Lock.load()
    pinned = lock.tool(name)
    dest = cache_dir() / "bin" / pinned.name
    if not fetch and not dest.exists():
        raise ToolError(
            f"{name} is not on PATH and not in {dest.parent}; install {name} "
            f"{lock.tool_version(name)} or let ingressbed download it"
        )
    return download(pinned, dest, executable=True)


#: A local copy of ingress-nginx's release trees (``controller-<tag>/deploy/...``), for
#: machines without network access; files there are verified like downloads.
UPSTREAM_MIRROR_ENV = "INGRESSBED_UPSTREAM_MIRROR"


def mirror_path(release: ControllerRelease, flavor: str, mirror: Path) -> Path:
    """Where ``release``'s ``flavor`` manifest sits in a mirror of ingress-nginx trees."""
    return (
        mirror
        / f"controller-{release.version}"
        / "deploy"
        / "static"
        / "provider"
        / flavor
        / "deploy.yaml"
    )


def controller_manifest(
    release: ControllerRelease,
    flavor: str = "kind",
    *,
    fetch: bool = True,
    mirror: Path | None = None,
) -> Path:
    """The verified upstream ingress-nginx manifest of ``release`` (``kind`` or ``cloud``).

    Looked up in the user cache, then in ``mirror`` (default ``$INGRESSBED_UPSTREAM_MIRROR``),
    then downloaded when ``fetch``. Every file is checked against the lock's sha256.
    """
    pinned = release.manifests[flavor]
    dest = cache_dir() / "manifests" / pinned.name
    if dest.exists():
        verify(dest, pinned)
        return dest
    if mirror is None and os.environ.get(UPSTREAM_MIRROR_ENV):
        mirror = Path(os.environ[UPSTREAM_MIRROR_ENV])
    if mirror is not None:
        local = mirror_path(release, flavor, mirror)
        if local.is_file():
            verify(local, pinned)
            return local
    if not fetch:
        where = f"{dest.parent}" + (f" nor in {mirror}" if mirror else "")
        raise ToolError(
            f"{pinned.name} is not in {where}; run once with network access, put {pinned.url} "
            f"in {dest.parent}, or set {UPSTREAM_MIRROR_ENV} to a folder holding "
            f"controller-{release.version}/deploy/static/provider/{flavor}/deploy.yaml "
            f"(sha256 {pinned.sha256 or 'missing from the lock'})"
        )
    return download(pinned, dest)


def parse_kind_version(text: str) -> tuple[int, int, int] | None:
    """The version ``kind version`` printed (``kind v0.32.0 go1.24 linux/amd64`` or
    ``kind version v0.32.0 (...)``); None when it shows none."""
    match = re.search(r"\bv(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def kind_on_path_usable(version_text: str, pinned_version: str) -> tuple[bool, str]:
    """Whether the kind on PATH (its ``kind version`` output) is at least the pinned one.

    An older kind breaks with the pinned node image (kubeadm config version, ``kind load``).
    Returns (usable, a one-line reason for the progress output).
    """
    got = parse_kind_version(version_text)
    want = version_tuple(pinned_version)
    if got is None:
        return False, f"`kind version` printed no version ({version_text.strip()[:80]!r})"
    shown = "v" + ".".join(map(str, got))
    if got < want:
        return False, f"kind {shown} on PATH is older than the pinned {pinned_version}"
    return True, f"kind {shown} on PATH"


def find_kind(lock: Lock | None = None, note: Callable[[str], None] | None = None) -> Path:
    """kind from PATH when it is at least the pinned version, else the pinned download.

    ``note`` is told when PATH's kind is passed over, and why.
    """
    lock = lock or Lock.load()
    pinned_only = os.environ.get("INGRESSBED_PINNED_TOOLS", "") not in ("", "0")
    on_path = None if pinned_only else shutil.which("kind")
    if on_path:
        try:
            out = subprocess.run(
                [on_path, "version"], capture_output=True, text=True, timeout=30, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            out = str(exc)
        usable, why = kind_on_path_usable(out, lock.tool_version("kind"))
        if usable:
            return Path(on_path)
        if note is not None:
            note(f"  {why}; using the pinned, checksummed kind {lock.tool_version('kind')}")
    pinned = lock.tool("kind")
    return download(pinned, cache_dir() / "bin" / pinned.name, executable=True)
