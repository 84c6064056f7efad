"""Vocabulary shared by every layer: data planes, capabilities, setups, observations.

Data flows one way: a ``Setup`` (from the catalog or a scenario) goes to a backend,
clients turn requests into ``Observation`` values, and measurements turn observations
into properties. These types carry no behaviour beyond small conveniences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # objects.py builds on this module; the fields only name its types
    from ingressbed.objects import Ingress, Service

#: hellogo's three listeners, as in incident 1.
HTTP_PORT = 8080
HTTP2_PORT = 9090
WS_PORT = 8081
HELLOGO_PORTS: tuple[int, ...] = (HTTP_PORT, HTTP2_PORT, WS_PORT)

#: Name of the hellogo Service / Deployment on every backend.
SERVICE_NAME = "hellogo"

#: Annotation prefix of ingress-nginx.
ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io/"

_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_COUNTS: Mapping[str, int] = MappingProxyType({})


class Flavor(StrEnum):
    """A data plane, and the placement-model flavor that predicts its picks."""

    NGINX = "nginx"  # plain nginx, as F5 NGINX Ingress renders it (local backend)
    INGRESS_NGINX = "ingress-nginx"  # the controller's Lua balancer (kind, cluster)
    HAPROXY = "haproxy"  # HAProxy 2.6 with balance source|uri|hdr (placement model)
    ENVOY = "envoy"  # Envoy as Envoy Gateway configures it: Maglev (placement model)


class DataPlane(StrEnum):
    """What balances in a run: a flavor and how a successor controller renders a candidate.

    ``ingress-nginx`` runs on kind and cluster. The local backend runs plain nginx, HAProxy
    or Envoy, each rendered as the controllers that replace ingress-nginx render it
    (docs/translation.md): the name before ``:`` is the flavor, the part after it the
    rendering (none: the faithful translation of the candidate). Each value has its module
    in ``ingressbed.planes``; only names live here.
    """

    INGRESS_NGINX = "ingress-nginx"
    NGINX = "nginx"  # hash KEY consistent (F5 NGINX Ingress lb-method "hash KEY consistent")
    NGINX_HASH = "nginx:hash"  # plain hash KEY (lb-method "hash KEY")
    NGINX_IP_HASH = "nginx:ip-hash"  # ip_hash whatever the key (lb-method "ip_hash")
    HAPROXY = "haproxy"  # hash-type consistent, server ids by position
    HAPROXY_POD_IDS = "haproxy:pod-ids"  # hash-type consistent, a stable id per pod
    HAPROXY_MAP_BASED = "haproxy:map-based"  # HAProxy's default hash-type, ids by position
    ENVOY = "envoy"  # Envoy as Envoy Gateway configures it: Maglev
    ENVOY_RING_HASH = "envoy:ring-hash"  # Envoy with ring hash, as Contour and Istio configure it

    @property
    def flavor(self) -> Flavor:
        """The placement-model flavor of this data plane."""
        return Flavor(self.value.partition(":")[0])

    @property
    def rendering(self) -> str:
        """The part after ``:`` (empty for the faithful translation)."""
        return self.value.partition(":")[2]


class Placement(StrEnum):
    """How an ingress-nginx candidate's annotations place requests (``balancing.Balancing``)."""

    HASH = "hash"
    SUBSET = "subset"
    COOKIE_BALANCED = "cookie-balanced"
    COOKIE_PERSISTENT = "cookie-persistent"
    SERVICE_UPSTREAM = "service-upstream"
    EWMA = "ewma"
    ROUND_ROBIN = "round-robin"


class Capability(StrEnum):
    """What a backend can do. A setup or test names the ones it needs."""

    HASH = "hash"  # upstream-hash-by: consistent hashing on a key
    HASH_KEY = "hash-key"  # the data plane hashes on the key as written (not ip_hash's client)
    SUBSET = "hash-subset"  # upstream-hash-by-subset
    COOKIE = "cookie-affinity"  # affinity: cookie (balanced / persistent)
    SERVICE_UPSTREAM = "service-upstream"  # proxy to the ClusterIP, kube-proxy balances
    EWMA = "ewma"  # load-balance: ewma
    LEGACY_HASH = "legacy-hash-by"  # a controller below 0.33 (one-variable annotation)
    WEBSOCKET = "websocket"
    SCALE = "scale"
    KILL = "kill"
    CORS = "cors"
    RAW_APPLY = "raw-apply"  # apply an Ingress change as kubectl does, without the bed's refresh
    CANARY = "canary"  # canary Ingresses (canary: "true") as alternative backends
    SEVERAL_OBJECTS = (
        "several-objects"  # several Ingresses and Services, merged as the controller does
    )


ALL_CAPABILITIES: frozenset[Capability] = frozenset(Capability)


@dataclass(frozen=True, order=True)
class Endpoint:
    """One balancer peer: a pod address and a Service target port."""

    address: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """Parse ``A.B.C.D:P`` or ``[v6]:P``."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"endpoint {text!r} is not ADDRESS:PORT")
        return cls(host.strip("[]"), int(port))


@dataclass(frozen=True)
class Pod:
    """One hellogo replica."""

    name: str
    ip: str
    node: str = ""
    slow_ms: int = 0  # extra latency of every answer (Setup.slow_pods); 0: none
    service: str = SERVICE_NAME  # the Service whose pods it is (Setup.services)


@dataclass(frozen=True)
class Route:
    """One Ingress path: requests to ``host`` + ``path`` go to hellogo's ``service_port``."""

    path: str
    service_port: int
    host: str | None = None
    path_type: str = "Prefix"


@dataclass(frozen=True)
class IngressSpec:
    """The Ingress of a setup, already converted to what every backend understands."""

    name: str
    routes: tuple[Route, ...]
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def annotation(self, short: str, default: str | None = None) -> str | None:
        """Value of ``nginx.ingress.kubernetes.io/<short>``, or ``default``."""
        return self.annotations.get(ANNOTATION_PREFIX + short, default)

    @property
    def ports(self) -> tuple[int, ...]:
        """Distinct service ports the routes use, in route order."""
        return tuple(dict.fromkeys(r.service_port for r in self.routes))


@dataclass(frozen=True)
class Setup:
    """Everything a backend needs to serve one candidate or scenario.

    **Several objects** (the contract every backend reads): ``ingresses`` holds every
    Ingress of a bug report, oldest first, as pasted (names, annotations, canaries; the
    backend puts them in its own namespace), and ``services`` the Services they name, each
    served by its own hellogo pods (``replicas_of(name)`` of them, labelled with
    ``Pod.service``), keeping their port numbers and names, their target ports already
    mapped onto hellogo's 8080, 9090 and 8081. Both empty (every catalog candidate and e2e
    test): the one ``ingress`` on the hellogo Service with ``replicas`` pods, as always.
    Either way ``ingress`` is the view a plane that knows one Ingress reads: the oldest
    non-canary Ingress, each route going to the hellogo port behind its Service port. A
    setup with two or more Ingresses or Services (``several``) needs
    ``Capability.SEVERAL_OBJECTS``, and one with a canary Ingress ``Capability.CANARY``
    (``ingress_keys.required_capabilities``): a backend without them never gets one.
    """

    ingress: IngressSpec
    controller: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # ConfigMap keys
    replicas: int = 6
    #: How many of the ``replicas`` pods answer ``slow_ms`` milliseconds late (hellogo's
    #: ``--delay-ms``); a backend starts them so and reports them in ``Pod.slow_ms``.
    slow_pods: int = 0
    slow_ms: int = 0
    #: Every Ingress, oldest first (empty: the one ``ingress`` on hellogo).
    ingresses: tuple[Ingress, ...] = ()
    #: Every Service the Ingresses name, target ports mapped onto hellogo's.
    services: tuple[Service, ...] = ()
    #: Pods per Service where it differs from ``replicas``.
    service_replicas: Mapping[str, int] = field(default_factory=lambda: _NO_COUNTS)

    def replicas_of(self, service: str = SERVICE_NAME) -> int:
        """How many pods serve ``service``."""
        return self.service_replicas.get(service, self.replicas)

    @property
    def service_names(self) -> tuple[str, ...]:
        """The Services whose pods the bed runs (``hellogo`` alone without ``services``)."""
        return tuple(s.name for s in self.services) or (SERVICE_NAME,)

    @property
    def several(self) -> bool:
        """True with two or more Ingresses or Services (``Capability.SEVERAL_OBJECTS``)."""
        return len(self.ingresses) > 1 or len(self.services) > 1


@dataclass(frozen=True)
class Address:
    """Where the ingress listens, as seen from the test runner."""

    host: str
    port: int
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def ws_base_url(self) -> str:
        return f"{'wss' if self.scheme == 'https' else 'ws'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Observation:
    """One request's answer.

    ``client`` is the simulated client address (sent as X-Forwarded-For), ``key`` the
    request target (path and query), ``route`` the Ingress path prefix it went through.
    ``pod`` is empty and ``status`` is the HTTP status (0 for a transport error) when
    no pod answered. ``headers`` holds only the response headers the sender was asked to
    keep (a scenario's steps keep ``Set-Cookie``, ``Date`` and the headers its
    expectations name; the mix traffic keeps none), lower-case, repeats in order;
    ``cookie`` is the ``Cookie`` header the request carried ("" for none).
    """

    protocol: str  # "http", "ws" or "curl"
    client: str
    host: str
    key: str
    pod: str
    pod_ip: str
    port: int
    status: int
    cache_status: str | None = None
    elapsed: float = 0.0
    route: str = ""
    step: str = ""
    error: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    cookie: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.pod) and 100 <= self.status < 400

    def header(self, name: str) -> list[str]:
        """Every kept value of response header ``name`` (any case), in order."""
        wanted = name.lower()
        return [v for k, v in self.headers if k == wanted]
