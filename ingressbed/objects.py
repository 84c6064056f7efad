"""The Kubernetes objects a user pastes, as typed frozen values (pure vocabulary).

``Ingress`` and ``Service`` hold what the controller reads of them, whatever API version
they were written in. Paths and path types are kept as written; the controller's own
defaults (an empty path is ``/``, ``ImplementationSpecific`` is ``Prefix``) are applied by
the build, where the controller applies them. A ``Setup`` carries them (``ingresses``,
``services``), so every layer may use them; ``ingressbed.controller`` re-exports them.

``ingressbed.controller.read`` reads them from YAML; ``from_ingress_spec`` turns the bed's
one-Ingress ``IngressSpec`` and the hellogo Service into these objects, so existing
setups map onto the controller model unchanged, and ``spec_view`` goes the other way for
one Ingress of several (the view planes that know one Ingress read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ingressbed.vocabulary import (
    ANNOTATION_PREFIX,
    HTTP2_PORT,
    HTTP_PORT,
    SERVICE_NAME,
    WS_PORT,
    IngressSpec,
    Route,
)

V1 = "networking.k8s.io/v1"
BETA_VERSIONS: tuple[str, ...] = ("extensions/v1beta1", "networking.k8s.io/v1beta1")
INGRESS_VERSIONS: tuple[str, ...] = (*BETA_VERSIONS, V1)
PATH_TYPES: tuple[str, ...] = ("Exact", "Prefix", "ImplementationSpecific")
SERVICE_TYPES: tuple[str, ...] = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_NAMESPACE = "default"
#: hellogo's Service port names, as the bed's manifests name them.
HELLOGO_PORT_NAMES: Mapping[int, str] = MappingProxyType(
    {HTTP_PORT: "http", HTTP2_PORT: "http2", WS_PORT: "ws"}
)

_EMPTY: Mapping[str, str] = MappingProxyType({})
_SPECIFIC = "ImplementationSpecific"
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``: the value, or None when it is not a boolean."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


@dataclass(frozen=True)
class BackendRef:
    """An Ingress backend: a Service and its port, by number or by name."""

    service: str
    port: int | str


@dataclass(frozen=True)
class IngressPath:
    """One path of a rule. ``backend`` is None for a resource backend (the controller skips it)."""

    path: str
    path_type: str | None
    backend: BackendRef | None


@dataclass(frozen=True)
class IngressRule:
    """One rule: a host (``""`` for none) and its paths; ``http`` is False without ``http:``."""

    host: str
    paths: tuple[IngressPath, ...] = ()
    http: bool = True


@dataclass(frozen=True)
class Ingress:
    """One Ingress object; ``order`` is its creation order (smaller is older)."""

    namespace: str
    name: str
    rules: tuple[IngressRule, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    default_backend: BackendRef | None = None
    ingress_class: str = ""
    tls_hosts: tuple[str, ...] = ()
    order: int = 0
    api_version: str = V1

    @property
    def key(self) -> str:
        """``namespace/name``, as the controller names the object."""
        return f"{self.namespace}/{self.name}"

    def annotation(self, short: str, default: str | None = None) -> str | None:
        """Value of ``nginx.ingress.kubernetes.io/<short>``, or ``default``."""
        return self.annotations.get(ANNOTATION_PREFIX + short, default)

    @property
    def is_canary(self) -> bool:
        """True when ``canary`` reads as true, as the controller parses it."""
        return go_bool(self.annotation("canary") or "") is True


@dataclass(frozen=True)
class ServicePort:
    """One Service port; ``target_port`` is a number or a container port name."""

    port: int
    name: str = ""
    target_port: int | str = 0
    protocol: str = "TCP"

    @property
    def target(self) -> int | str:
        """The target port, defaulted to ``port`` as the API server does."""
        return self.target_port or self.port


@dataclass(frozen=True)
class Service:
    """One Service object (what the controller reads of it)."""

    namespace: str
    name: str
    ports: tuple[ServicePort, ...] = ()
    type: str = "ClusterIP"
    cluster_ip: str = ""

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def port(self, ref: int | str) -> ServicePort | None:
        """The port an Ingress names by number or by name (the first match), or None."""
        for port in self.ports:
            if (isinstance(ref, int) and port.port == ref) or (ref and port.name == ref):
                return port
        return None


def hellogo_service(namespace: str = DEFAULT_NAMESPACE, cluster_ip: str = "") -> Service:
    """The bed's hellogo Service: ports 8080 (http), 9090 (http2) and 8081 (ws).

    Args:
        namespace: its namespace.
        cluster_ip: its ClusterIP, when the caller has one (service-upstream needs it).

    Returns:
        The Service.
    """
    ports = tuple(
        ServicePort(p, HELLOGO_PORT_NAMES[p], p) for p in (HTTP_PORT, HTTP2_PORT, WS_PORT)
    )
    return Service(namespace, SERVICE_NAME, ports, "ClusterIP", cluster_ip)


def from_ingress_spec(
    spec: IngressSpec, *, namespace: str = DEFAULT_NAMESPACE, cluster_ip: str = ""
) -> tuple[Ingress, Service]:
    """The bed's one-Ingress setup as controller objects: the Ingress and hellogo's Service.

    Routes keep their order; routes of one host become one rule (hosts in the order they
    first appear; no host is ``""``).

    Args:
        spec: the setup's Ingress.
        namespace: the namespace of both objects.
        cluster_ip: hellogo's ClusterIP, if known.

    Returns:
        ``(ingress, service)``.
    """
    by_host: dict[str, list[IngressPath]] = {}
    for route in spec.routes:
        by_host.setdefault(route.host or "", []).append(
            IngressPath(route.path, route.path_type, BackendRef(SERVICE_NAME, route.service_port))
        )
    rules = tuple(IngressRule(host, tuple(paths)) for host, paths in by_host.items())
    ingress = Ingress(
        namespace=namespace,
        name=spec.name,
        rules=rules,
        annotations=MappingProxyType(dict(spec.annotations)),
    )
    return ingress, hellogo_service(namespace, cluster_ip)


def spec_view(ingress: Ingress, services: Sequence[Service]) -> IngressSpec:
    """One Ingress of several as the bed's ``IngressSpec`` (what one-Ingress planes read).

    Each path goes to the pod port behind the Service port it names: the Service's target
    port when it is a number, hellogo's port of that name (``http``, ``http2``, ``ws``)
    when it is one, else 8080; a Service the list does not hold also means 8080. Paths
    keep their order, host and type (none: ``ImplementationSpecific``); the default
    backend is a catch-all ``/`` route after them.

    Args:
        ingress: the Ingress.
        services: the Services of the setup (target ports already hellogo's).

    Returns:
        The view.
    """
    by_name = {s.name: s for s in services}
    names = {name: port for port, name in HELLOGO_PORT_NAMES.items()}

    def pod_port(ref: BackendRef) -> int:
        service = by_name.get(ref.service)
        port = service.port(ref.port) if service is not None else None
        if port is None:
            return HTTP_PORT
        target = port.target
        return target if isinstance(target, int) else names.get(target, HTTP_PORT)

    routes = [
        Route(
            p.path or "/",
            pod_port(p.backend),
            r.host or None,
            p.path_type or "ImplementationSpecific",
        )
        for r in ingress.rules
        for p in r.paths
        if p.backend is not None
    ]
    if ingress.default_backend is not None:
        routes.append(Route("/", pod_port(ingress.default_backend), None, "Prefix"))
    return IngressSpec(ingress.name, tuple(routes), MappingProxyType(dict(ingress.annotations)))
