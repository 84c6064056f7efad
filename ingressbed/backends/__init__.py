"""Backends: where the bed runs. ``create(options)`` builds the one the options name.

``auto`` picks kind when a Docker daemon answers, else local, and says which and why.
"""

from __future__ import annotations

from ingressbed.backends.base import Backend
from ingressbed.options import BedOptions
from ingressbed.progress import Steps


def docker_answers(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether a Docker daemon answers a ping, and a short reason."""
    try:
        import docker  # the SDK; imported here so local runs never need a daemon

        client = docker.from_env(timeout=int(timeout))
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure means "no usable daemon"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return False, first[:160]
    return True, "the Docker daemon answered"


def resolve(options: BedOptions, steps: Steps) -> str:
    """The concrete backend name for ``options.backend`` (resolving ``auto`` loudly)."""
    if options.backend != "auto":
        return options.backend
    ok, why = docker_answers()
    chosen = "kind" if ok else "local"
    steps.note(
        f"*** backend auto -> {chosen}: "
        + (why if ok else f"no Docker daemon answers ({why}); using plain nginx + processes")
        + " ***"
    )
    return chosen


def create(options: BedOptions, steps: Steps | None = None) -> Backend:
    """Build (not start) the backend ``options`` names."""
    steps = steps or Steps(quiet=options.quiet)
    name = resolve(options, steps)
    if name == "local":
        from ingressbed.backends.local import LocalBackend

        return LocalBackend(options, steps)
    if name == "kind":
        from ingressbed.backends.kind import KindBackend

        return KindBackend(options, steps)
    from ingressbed.backends.cluster import ClusterBackend

    return ClusterBackend(options, steps)
