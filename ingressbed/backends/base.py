"""The backend interface: where the bed runs.

A backend brings up a data plane and hellogo pods, applies a ``Setup`` (Ingress,
annotations, controller keys, replicas; or several Ingresses and Services, each Service
with pods of its own: ``Setup.ingresses``, ``Setup.services``), and answers questions about
what it serves.
Tests only ever see this interface and ``capabilities``; they never ask which backend
they are on. Each backend lives in its own module (``local.py``, ``kind.py``,
``cluster.py``) and implements every method; one that cannot support a feature leaves
the matching capability out, and tests needing it skip with ``missing(...)``'s reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ingressbed.backends.bringup import BringUpStep
from ingressbed.vocabulary import (
    SERVICE_NAME,
    Address,
    Capability,
    DataPlane,
    Endpoint,
    Pod,
    Setup,
)


@runtime_checkable
class Backend(Protocol):
    """What every backend provides. All methods block until the effect is served."""

    #: "local", "kind" or "cluster".
    name: str
    #: What this backend can do.
    capabilities: frozenset[Capability]

    @property
    def data_plane(self) -> DataPlane:
        """What balances (``ingress-nginx`` on kind and cluster; on local ``nginx``,
        ``haproxy:pod-ids`` ...): ``ingressbed.planes.plane(data_plane)`` says how it
        balances a setup."""
        ...

    def versions(self) -> dict[str, str]:
        """Versions of what runs (nginx, controller, node image, ...), for the report."""
        ...

    def bring_up(self) -> list[BringUpStep]:
        """The ordered steps ``start()`` runs; ``--dry-run`` prints them described."""
        ...

    def start(self) -> None:
        """Bring up the data plane: ``run_all(self.bring_up(), ...)``. Idempotent."""
        ...

    def controller_version(self) -> str | None:
        """The ingress-nginx release whose rules the data plane follows (kind and cluster:
        the controller's; a model of it: ``ingressbed.controller.MODEL_VERSION``), or None
        when the data plane is no ingress-nginx. ``on: ingress-nginx@RANGE`` is judged on it."""
        ...

    def apply(self, setup: Setup) -> None:
        """Serve ``setup``: pods at ``setup.replicas``, controller keys, the Ingress.

        With several objects (``Setup.ingresses``, ``Setup.services``): every Ingress,
        oldest first, each Service with ``setup.replicas_of(name)`` pods of its own; an
        Ingress or Service of the last setup that ``setup`` no longer has is deleted.
        Returns once a new connection to ``address()`` is served by the new config (the
        bed refreshes what a real controller would keep stale, e.g. a hash key).
        Raises ``ConfigError`` for a setup this backend cannot serve.
        """
        ...

    def apply_keeping_balancers(self, setup: Setup) -> None:
        """Serve ``setup`` as ``kubectl apply`` would to a running controller: what the
        controller keeps from before (a hash balancer's old key) stays. Returns once the
        controller has taken the change; no traffic check (the change may not show).
        A backend without ``Capability.RAW_APPLY`` does what ``apply`` does."""
        ...

    def pods(self) -> list[Pod]:
        """The running hellogo pods (of every Service; ``Pod.service`` says whose)."""
        ...

    def endpoints(self, port: int, service: str = SERVICE_NAME) -> list[Endpoint]:
        """The balancer's peers for ``port`` of ``service``, in the order the balancer holds
        them. ``port`` is the Service's port number (hellogo's ports are its pods' too)."""
        ...

    def scale(self, replicas: int, service: str = SERVICE_NAME) -> None:
        """Change the number of pods of ``service`` and wait until the balancer uses the
        new set."""
        ...

    def kill(self, pod: str) -> None:
        """Kill one pod abruptly; return once the balancer no longer uses it and its
        replacement (if the backend replaces pods) is in."""
        ...

    def address(self) -> Address:
        """Where the ingress listens, from the test runner's point of view."""
        ...

    def diagnostics(self, dest: Path) -> list[Path]:
        """Write what helps explain a failure (config, logs, backends) under ``dest``."""
        ...

    def mark_failed(self) -> None:
        """Something failed: with ``--keep on-failure``, ``close`` keeps what it started."""
        ...

    def close(self) -> None:
        """Stop and remove everything this backend started, unless told to keep it."""
        ...


class Capable(Protocol):
    """What ``missing`` reads of a backend."""

    capabilities: frozenset[Capability]


@dataclass(frozen=True)
class ControllerState:
    """What a real ingress-nginx controller says it serves, for an explanation.

    ``namespace`` is where the bed's objects are (backend names start with it),
    ``backends`` the JSON ``/dbg backends all`` printed, ``nginx_conf`` ``nginx -T``.
    """

    namespace: str
    backends: str
    nginx_conf: str


@runtime_checkable
class ShowsController(Protocol):
    """A backend that runs a real controller and can show it (kind, cluster)."""

    def controller_state(self) -> ControllerState:
        """``/dbg backends all`` and ``nginx -T`` of the controller, now.

        Raises:
            SetupError: the controller could not be asked.
        """
        ...


def missing(backend: Capable, needed: Iterable[str]) -> list[str]:
    """Capabilities in ``needed`` that ``backend`` lacks, sorted."""
    return sorted(set(needed) - backend.capabilities)


def skip_reason(backend: Backend, needed: Iterable[str]) -> str | None:
    """A one-line skip reason if ``backend`` lacks any of ``needed``, else None."""
    lacking = missing(backend, needed)
    if not lacking:
        return None
    return f"backend {backend.name} ({backend.data_plane}) lacks: {', '.join(lacking)}"
