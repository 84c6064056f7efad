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


class Flavor(StrEnum):
    """A data plane, and the placement-model flavor that predicts its picks."""

    NGINX = "nginx"  # plain nginx, as F5 NGINX Ingress renders it (local backend)
    INGRESS_NGINX = "ingress-nginx"  # the controller's Lua balancer (kind, cluster)
    HAPROXY = "haproxy"  # HAProxy 2.6 with balance source|uri|hdr (placement model)
    ENVOY = "envoy"  # Envoy as Envoy Gateway configures it: Maglev (placement model)


class DataPlane(StrEnum):
    """What balances in a run: a flavor and how a successor controller renders a candidate.

    ``ingress-nginx`` runs on kind and cluster. The local backend runs plain nginx or
    HAProxy, each rendered as the controllers that replace ingress-nginx render it
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
    """Everything a backend needs to serve one candidate or scenario."""

    ingress: IngressSpec
    controller: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # ConfigMap keys
    replicas: int = 6
    #: How many of the ``replicas`` pods answer ``slow_ms`` milliseconds late (hellogo's
    #: ``--delay-ms``); a backend starts them so and reports them in ``Pod.slow_ms``.
    slow_pods: int = 0
    slow_ms: int = 0


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
    no pod answered.
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

    @property
    def ok(self) -> bool:
        return bool(self.pod) and 100 <= self.status < 400
