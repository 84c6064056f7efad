"""``--backend auto``: kind when this machine can run it, else local, and one line why.

Kind is chosen only when every check kind's own bring-up would make first passes: the
data plane is ingress-nginx (kind runs the real controller), the Docker endpoint is on
this machine, a daemon answers, the host checks pass for the node image the cluster
would run (cgroup version, rootless mode, free disk; ``host_checks``), and a kind binary
is on PATH, in the cache, or its pinned download answers. Anything else: local.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from ingressbed import host_checks
from ingressbed.docker_env import DockerCLI, local_free_bytes, remote_problem, resolve
from ingressbed.errors import BedError
from ingressbed.options import DEFAULT_DATA_PLANE, BedOptions
from ingressbed.tools import Lock, cache_dir

#: Seconds for ``docker info`` and for the probe of kind's download.
PROBE_TIMEOUT = 5.0

Probe = Callable[[str], str]


def url_answers(url: str) -> str:
    """ "" when ``url`` answers a HEAD request, else why not (one short clause)."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT):
            return ""
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        return str(getattr(exc, "reason", exc))


def kind_missing(lock: Lock, environ: Mapping[str, str], probe: Probe = url_answers) -> str:
    """Why no kind binary can be had ("" = on PATH, cached, or downloadable)."""
    pinned_only = environ.get("INGRESSBED_PINNED_TOOLS", "") not in ("", "0")
    if not pinned_only and shutil.which("kind", path=environ.get("PATH")):
        return ""
    pinned = lock.tool("kind")
    dest = cache_dir() / "bin" / pinned.name
    if dest.exists():
        return ""
    why = probe(pinned.url)
    return f"no kind binary here and its download does not answer ({why})" if why else ""


def kind_fits(
    options: BedOptions,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    probe: Probe = url_answers,
) -> tuple[bool, str]:
    """Whether ``--backend auto`` should run on kind, and one short line saying why.

    Args:
        options: the bed's options (data plane, controller version, node image).
        environ, home: where the Docker endpoint is resolved from (this process's).
        probe: checks that kind's download answers (tests pass a fake).

    Returns:
        (True, what was found) or (False, the first check that failed).
    """
    from ingressbed.backends import short_reason

    if options.data_plane != DEFAULT_DATA_PLANE:
        return False, (
            f"--data-plane {options.data_plane} runs on the local backend only (kind runs "
            "the real ingress-nginx)"
        )
    environ = os.environ if environ is None else environ
    try:
        endpoint = resolve(environ, home or Path.home())
        remote = remote_problem(endpoint)
        if remote:
            return False, short_reason(remote)
        info = DockerCLI(endpoint).info(timeout=PROBE_TIMEOUT)
        lock = Lock.load()
        release = lock.controller(options.controller_version)
        node_image = options.node_image or lock.node_image_for(release.version)
        free = local_free_bytes(endpoint, str(info.get("DockerRootDir") or ""))
        errors = host_checks.errors(host_checks.check(info, node_image, free))
        if errors:
            return False, short_reason(errors[0])
        missing = kind_missing(lock, environ, probe)
        if missing:
            return False, short_reason(missing)
    except BedError as exc:
        return False, short_reason(str(exc))
    return True, f"a Docker daemon answers at {endpoint.describe()} and kind's host checks pass"
