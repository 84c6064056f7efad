"""Backends: where the bed runs. ``create(options)`` builds the one the options name.

``auto`` picks kind when this machine can run it (``backends.auto``: the data plane is
ingress-nginx, a local Docker daemon answers, kind's host checks pass, a kind binary can be
had), else local, and says which and why in one line.
``fake`` is the in-process stand-in (``backends.fake``): it places requests as the data
plane's model says and checks the layers above a data plane, never a data plane.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

from ingressbed.backends.base import Backend
from ingressbed.errors import BedError
from ingressbed.options import BedOptions, check_data_plane
from ingressbed.progress import Steps


def docker_answers(timeout: float = 5.0) -> tuple[bool, str]:
    """Whether a Docker daemon answers ``docker info``, and one short line saying why.

    The endpoint is resolved as the docker CLI does (DOCKER_HOST, contexts), the same way
    the kind backend and kind itself reach Docker; no raw tool output is passed on.
    """
    from ingressbed.docker_env import DockerCLI, resolve

    try:
        endpoint = resolve(os.environ, Path.home())
        DockerCLI(endpoint).info(timeout=timeout)
    except BedError as exc:
        return False, short_reason(str(exc))
    return True, f"a Docker daemon answers at {endpoint.describe()}"


def short_reason(message: str, limit: int = 120) -> str:
    """The first clause of an error message, cut to ``limit`` characters."""
    first = message.splitlines()[0] if message else "unknown error"
    first = first.split("; ")[0]
    return first if len(first) <= limit else first[: limit - 3] + "..."


def resolve(options: BedOptions, steps: Steps) -> str:
    """The concrete backend name for ``options.backend`` (resolving ``auto`` loudly)."""
    if options.backend != "auto":
        return options.backend
    from ingressbed.backends.auto import kind_fits

    ok, why = kind_fits(options)
    chosen = "kind" if ok else "local"
    steps.note(
        f"*** backend auto -> {chosen}: "
        + (why if ok else f"{why}; using {options.data_plane} + processes")
        + " ***"
    )
    return chosen


def create(options: BedOptions, steps: Steps | None = None) -> Backend:
    """Build (not start) the backend ``options`` names."""
    steps = steps or Steps(quiet=options.quiet)
    name = resolve(options, steps)
    check_data_plane(name, options.data_plane)  # auto: checked once it is resolved
    ignored = options.not_applying(name)
    if ignored:  # said once, here, where the backend is chosen
        steps.warn(
            f"ingressbed: {' and '.join(ignored)}: "
            f"{'applies' if len(ignored) == 1 else 'apply'} to the kind and cluster backends "
            "only; the local backend ignores "
            f"{'it' if len(ignored) == 1 else 'them'}"
        )
    if name == "local":
        from ingressbed.backends.local import LocalBackend

        # The local backend takes up the several-objects contract of base.Backend in
        # issue 19 (endpoints and scale per Service, apply_keeping_balancers,
        # controller_version); until then scenarios only call what it has.
        return cast(Backend, LocalBackend(options, steps))
    if name == "fake":
        from ingressbed.backends.fake import FakeBackend

        return FakeBackend(options.data_plane, steps=steps)
    if name == "kind":
        from ingressbed.backends.kind import KindBackend

        return KindBackend(options, steps)
    from ingressbed.backends.cluster import ClusterBackend

    return ClusterBackend(options, steps)
