"""What the planes standing for ingress-nginx's successors share (pure).

- The refusals: what no successor the nginx and HAProxy planes stand for can express, as
  ``NoEquivalent`` with its reason in one line (the migration report shows it as ``—``):
  subset hashing (ingress-nginx's own Lua balancer) and the key grammar of ingress-nginx
  below 0.33 (a bug). Each plane adds its own (sticky cookies on open-source nginx).
- ``service-upstream``: one upstream server per Service port, the Service's address, which
  the local backend serves with its Service proxy (kube-proxy's stand-in): its
  ``ServicePort`` values and the balancer's one peer per port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError, NoEquivalent
from ingressbed.placement.keys import is_legacy
from ingressbed.planes.base import Plane, RunContext, ServicePort
from ingressbed.planes.settings import upstream_name
from ingressbed.vocabulary import DataPlane, Endpoint, Placement, Setup

#: ``Pick.why`` of the one upstream server of ``service-upstream``.
VIA_SERVICE = "service-upstream: the Service's address, kube-proxy picks a pod per connection"


def refuse_ingress_nginx_only(
    plane: DataPlane, balancing: Balancing, controller_version: str | None, successor: str
) -> None:
    """Raise for what only ingress-nginx does (``successor`` names what ``plane`` stands for).

    Raises:
        NoEquivalent: subset hashing, or a controller release below 0.33 (its one-variable
            reading of ``upstream-hash-by``).
        ConfigError: ``controller_version`` is not a release.
    """
    if balancing.placement == Placement.SUBSET:
        raise NoEquivalent(
            f"{plane} has no equivalent of upstream-hash-by-subset: a key picking a group of "
            f"pods, a random member per request, is ingress-nginx's own; with {successor} a key "
            "goes to one server"
        )
    if controller_version is not None and is_legacy(controller_version):
        raise NoEquivalent(
            f"{plane} has no equivalent of ingress-nginx below 0.33 reading upstream-hash-by as "
            f"one variable name (a bug that put every request on one pod); with {successor} "
            "the key is evaluated as written"
        )


def wants_service(setup: Setup) -> bool:
    """Whether ``setup`` asks for ``service-upstream``."""
    return Balancing.of(setup).placement == Placement.SERVICE_UPSTREAM


def service_ports(
    setup: Setup, endpoints: Mapping[int, Sequence[Endpoint]], run: RunContext
) -> list[ServicePort]:
    """One Service port per hellogo port under ``service-upstream`` (none otherwise): the
    Service address ``run.service_address``, spreading connections over the port's pods."""
    if not wants_service(setup):
        return []
    return [
        ServicePort(upstream_name(port), run.service_address, port, tuple(eps))
        for port, eps in endpoints.items()
    ]


def servers(
    service_upstream: bool, endpoints: Mapping[int, Sequence[Endpoint]], run: RunContext
) -> Mapping[int, Sequence[Endpoint]]:
    """What a rendered upstream lists: the pods, or under ``service-upstream`` the Service
    address (no server where the Service has no pod, so the upstream answers 503).

    Raises:
        ConfigError: ``service-upstream`` without a Service address to send to.
    """
    if not service_upstream:
        return endpoints
    if not run.service_address:
        raise ConfigError("service-upstream needs a Service address; the local backend gives one")
    return {
        port: [Endpoint(run.service_address, port)] if eps else []
        for port, eps in endpoints.items()
    }


@dataclass(frozen=True)
class SuccessorPlane(Plane):
    """A plane standing for a controller that replaces ingress-nginx: under
    ``service-upstream`` its balancer holds the Service's address (``service_ports`` above,
    and so ``Plane.peers``), as F5, haproxy-ingress and Envoy Gateway's ``routingType:
    Service`` write it."""

    def service_ports(
        self,
        setup: Setup,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> list[ServicePort]:
        return service_ports(setup, endpoints, run)
