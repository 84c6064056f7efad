"""What the controller builds: servers, locations, backends, and the notes on the way (pure).

These types follow the controller's own (``ingress.Configuration``, ``Server``,
``Location``, ``Backend`` and its nested ``SessionAffinityConfig``,
``UpstreamHashByConfig`` and ``TrafficShapingPolicy``), keep only what routing and
balancing need, and add where each value came from (which Ingress created a backend,
which Ingresses set its cookie), so an explanation can say why.

``Note`` records every annotation value that was ignored, defaulted, dropped or refused,
and what the model does not cover. ``implementation`` says which balancer the Lua side
builds for a backend, as its ``get_implementation`` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from ingressbed.objects import ServicePort
from ingressbed.vocabulary import Endpoint

#: The backend of the catch-all server and of hosts without a ``/`` path.
DEFAULT_BACKEND = "upstream-default-backend"
#: The catch-all server's name.
DEFAULT_SERVER = "_"
#: The controller's own default backend answers 404 here.
DEFAULT_ENDPOINT = Endpoint("127.0.0.1", 8181)
DEFAULT_COOKIE_NAME = "INGRESSCOOKIE"
DEFAULT_SUBSET_SIZE = 3
#: The Lua balancer implementations (``balancer.lua`` ``IMPLEMENTATIONS``).
IMPLEMENTATIONS: tuple[str, ...] = (
    "round_robin",
    "chash",
    "chashsubset",
    "sticky_balanced",
    "sticky_persistent",
    "ewma",
)

_NO_LOCATIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({})


class NoteKind(StrEnum):
    """What happened to a value."""

    IGNORED = "ignored"  # present, valid, and without effect
    DEFAULTED = "defaulted"  # invalid or out of range: the default is used
    OVERRIDDEN = "overridden"  # a later Ingress's value replaced this one
    REJECTED = "rejected"  # the whole Ingress is refused
    UNMODELLED = "not modelled"  # the model does not cover it
    INFO = "info"  # how a rule applied, worth knowing


@dataclass(frozen=True)
class Note:
    """One finding of the build.

    ``ingress`` is ``namespace/name`` (empty for the ConfigMap or the whole model),
    ``annotation`` the short annotation or ConfigMap key (empty when about the object),
    ``backend`` the backend it concerns, if one.
    """

    kind: NoteKind
    reason: str
    ingress: str = ""
    annotation: str = ""
    value: str | None = None
    backend: str = ""

    def text(self) -> str:
        """One line: ``ignored: ns/a upstream-hash-by="$uri": <reason>``."""
        subject = self.ingress or ("ConfigMap" if self.annotation else "")
        if self.annotation:
            shown = "" if self.value is None else f"={self.value!r}"
            subject = f"{subject} {self.annotation}{shown}".strip()
        return f"{self.kind.value}: {subject + ': ' if subject else ''}{self.reason}"


@dataclass(frozen=True)
class CookieAffinity:
    """``cookieSessionAffinity``: the cookie's attributes and the locations that set it.

    ``locations`` maps a host (``_`` for none) to the Ingress paths, as written, on which
    the balancer sets the cookie.
    """

    name: str = ""
    expires: str = ""
    max_age: str = ""
    path: str = ""
    domain: str = ""
    samesite: str = ""
    conditional_samesite_none: bool = False
    secure: bool = False
    change_on_failure: bool = False
    locations: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _NO_LOCATIONS)


@dataclass(frozen=True)
class SessionAffinity:
    """``sessionAffinityConfig``: type (``cookie`` or empty), mode, and the cookie."""

    type: str = ""
    mode: str = ""
    cookie: CookieAffinity = field(default_factory=CookieAffinity)


@dataclass(frozen=True)
class HashBy:
    """``upstreamHashByConfig``. ``subset_size`` is 0 only when the group was dropped."""

    key: str = ""
    subset: bool = False
    subset_size: int = 0


@dataclass(frozen=True)
class TrafficShaping:
    """``trafficShapingPolicy`` of a canary (alternative) backend."""

    weight: int = 0
    weight_total: int = 0
    header: str = ""
    header_value: str = ""
    header_pattern: str = ""
    cookie: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    """The part of a Service the controller posts with a backend (its spec).

    ``raw`` keeps a dumped service object (JSON text) as read, so a dump written back
    is unchanged; empty for services the model built.
    """

    type: str = "ClusterIP"
    cluster_ip: str = ""
    ports: tuple[ServicePort, ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class Backend:
    """One backend: a Service port (``<namespace>-<service>-<port>``) and its balancing.

    The fields up to ``service_spec`` are the controller's; the rest say where they
    came from. ``port`` is the Service port as the Ingress names it (0 when the
    backend came from an Ingress's default backend, as the controller leaves it).
    """

    name: str
    port: int | str = 0
    endpoints: tuple[Endpoint, ...] = ()
    affinity: SessionAffinity = field(default_factory=SessionAffinity)
    hash_by: HashBy = field(default_factory=HashBy)
    load_balance: str = ""
    no_server: bool = False
    traffic_shaping: TrafficShaping = field(default_factory=TrafficShaping)
    alternatives: tuple[str, ...] = ()
    service_spec: ServiceSpec | None = None
    ssl_passthrough: bool = False
    namespace: str = ""
    service: str = ""
    created_by: str = ""
    service_upstream: bool = False
    cookie_from: tuple[str, ...] = ()
    mode_from: str = ""

    @property
    def implementation(self) -> str:
        """The Lua balancer this backend gets (see ``implementation``)."""
        return implementation(self)

    @property
    def serves_503(self) -> bool:
        """True when the backend has no endpoints: the balancer is dropped, requests get 503."""
        return not self.endpoints


def implementation(backend: Backend) -> str:
    """The Lua balancer of a backend, as ``balancer.lua`` chooses it.

    Cookie affinity wins over a hash key (sticky beats hash), a hash key over
    ``load-balance``; an unknown ``load-balance`` falls back to round robin.

    Args:
        backend: the backend.

    Returns:
        One of ``IMPLEMENTATIONS``.
    """
    if backend.affinity.type == "cookie":
        return "sticky_persistent" if backend.affinity.mode == "persistent" else "sticky_balanced"
    if backend.hash_by.key:
        return "chashsubset" if backend.hash_by.subset else "chash"
    name = backend.load_balance or "round_robin"
    return name if name in IMPLEMENTATIONS else "round_robin"


@dataclass(frozen=True)
class Location:
    """One nginx location of a server.

    ``path`` is the location path after the controller's normalization (a Prefix path
    gains a trailing ``/`` and an Exact twin), ``ingress_path`` the path as the Ingress
    wrote it (nginx's ``$location_path``, which the cookie's default Path and the
    cookie locations list use), ``nginx`` the exact text after ``location``.
    """

    path: str
    path_type: str
    backend: str
    nginx: str
    ingress_path: str = "/"
    is_default_backend: bool = False
    ingress: str = ""
    service: str = ""
    port: int | str = 0
    rewrite_target: str = ""
    use_regex: bool = False
    fingerprint: str = ""

    @property
    def regex(self) -> bool:
        """True when nginx matches this location as a case-insensitive regex."""
        return self.nginx.startswith("~*")

    @property
    def rewrite(self) -> str:
        """The target nginx rewrites to here: empty without a target or when it is the path."""
        return self.rewrite_target if self.rewrite_target != self.path else ""


@dataclass(frozen=True)
class Server:
    """One server (virtual host). ``ingress`` is the oldest Ingress that defines the host:
    its server-level annotations and the ``/`` location's annotations count.
    ``regex_because`` names the Ingresses whose ``use-regex`` or ``rewrite-target``
    turned every location of the server into a regex location."""

    hostname: str
    locations: tuple[Location, ...]
    ingress: str = ""
    regex_because: tuple[str, ...] = ()

    @property
    def regex(self) -> bool:
        """True when nginx gets every location of this server as a regex."""
        return bool(self.regex_because)


@dataclass(frozen=True)
class Configuration:
    """What the controller builds from Ingresses, Services, endpoints and its ConfigMap.

    ``servers`` are sorted by hostname, ``backends`` by name, as the controller sorts
    them; ``ingresses`` are the Ingresses in force, in processing order.
    """

    version: str
    servers: tuple[Server, ...]
    backends: tuple[Backend, ...]
    notes: tuple[Note, ...] = ()
    ingresses: tuple[str, ...] = ()
    configmap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    use_forwarded_headers: bool = True

    def backend(self, name: str) -> Backend:
        """The backend named ``name``.

        Raises:
            KeyError: no such backend.
        """
        for backend in self.backends:
            if backend.name == name:
                return backend
        raise KeyError(name)

    def server(self, hostname: str) -> Server:
        """The server for ``hostname`` (``_`` for the catch-all).

        Raises:
            KeyError: no such server.
        """
        for server in self.servers:
            if server.hostname == hostname:
                return server
        raise KeyError(hostname)

    def notes_about(self, *, ingress: str = "", backend: str = "") -> tuple[Note, ...]:
        """Notes about one Ingress and/or one backend (empty filters match all)."""
        return tuple(
            n
            for n in self.notes
            if (not ingress or n.ingress == ingress) and (not backend or n.backend == backend)
        )

    @property
    def rejected(self) -> tuple[Note, ...]:
        """The Ingresses the controller refuses, one note each."""
        return tuple(n for n in self.notes if n.kind == NoteKind.REJECTED)

    @property
    def unmodelled(self) -> tuple[Note, ...]:
        """What the model does not cover in this configuration."""
        return tuple(n for n in self.notes if n.kind == NoteKind.UNMODELLED)
