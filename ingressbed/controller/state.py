"""The working state of one build: mutable backends, servers and locations (pure).

The controller builds its configuration by mutating maps of upstreams and servers in
several passes; the build steps (``upstreams``, ``servers``, ``canary``) do the same
on these classes, and ``build`` freezes the result into the ``model`` types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ingressbed.controller.annotations import Parsed
from ingressbed.controller.model import (
    CookieAffinity,
    HashBy,
    Note,
    NoteKind,
    ServiceSpec,
    TrafficShaping,
)
from ingressbed.controller.versions import ControllerVersion
from ingressbed.objects import BackendRef, Ingress, IngressPath, IngressRule, Service
from ingressbed.vocabulary import ANNOTATION_PREFIX, Endpoint

#: Endpoints are given per (namespace, Service name, Service port number).
PortKey = tuple[str, str, int]


@dataclass
class WorkIngress:
    """An Ingress in force: its rules as the controller stores them, and its parsed annotations.

    The controller's store gives an empty path ``/`` and turns a missing or
    ``ImplementationSpecific`` path type into ``Prefix``; ``rules`` are already so.
    """

    ingress: Ingress
    parsed: Parsed
    rules: tuple[IngressRule, ...] = ()

    @property
    def key(self) -> str:
        return self.ingress.key

    @classmethod
    def of(cls, ingress: Ingress, parsed: Parsed) -> WorkIngress:
        def stored(path: IngressPath) -> IngressPath:
            kind = path.path_type
            return replace(
                path,
                path=path.path or "/",
                path_type="Prefix" if kind in (None, "ImplementationSpecific") else kind,
            )

        rules = tuple(replace(r, paths=tuple(stored(p) for p in r.paths)) for r in ingress.rules)
        return cls(ingress, parsed, rules)


@dataclass
class WorkAffinity:
    """``SessionAffinityConfig`` under construction."""

    type: str = ""
    mode: str = ""
    cookie: CookieAffinity = field(default_factory=CookieAffinity)
    locations: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class WorkBackend:
    """A backend (upstream) under construction."""

    name: str
    namespace: str = ""
    service: str = ""
    port: int | str = 0
    endpoints: list[Endpoint] = field(default_factory=list)
    service_spec: ServiceSpec | None = field(default_factory=lambda: ServiceSpec(type=""))
    hash_by: HashBy = field(default_factory=HashBy)
    load_balance: str = ""
    no_server: bool = False
    shaping: TrafficShaping = field(default_factory=TrafficShaping)
    alternatives: list[str] = field(default_factory=list)
    affinity: WorkAffinity = field(default_factory=WorkAffinity)
    created_by: WorkIngress | None = None
    service_upstream: bool = False
    cookie_from: list[str] = field(default_factory=list)
    mode_from: str = ""
    canary_of: list[str] = field(default_factory=list)

    def copy_affinity_from(self, other: WorkBackend) -> None:
        """The canary merge: this backend takes a deep copy of ``other``'s affinity."""
        mine = other.affinity
        self.affinity = WorkAffinity(
            mine.type, mine.mode, mine.cookie, {h: list(p) for h, p in mine.locations.items()}
        )


@dataclass
class WorkLocation:
    """A location under construction; ``path`` is not normalized yet."""

    path: str
    path_type: str
    backend: str
    is_default_backend: bool = False
    ingress: WorkIngress | None = None
    service: str = ""
    port: int | str = 0
    rewrite_target: str = ""
    use_regex: bool = False
    ingress_path: str = ""

    def apply(self, owner: WorkIngress, *, keep_rewrite: bool = False) -> None:
        """The location takes ``owner``'s location annotations (``locationApplyAnnotations``)."""
        self.ingress = owner
        if not keep_rewrite:
            self.rewrite_target = owner.parsed.rewrite_target
            self.use_regex = owner.parsed.use_regex


@dataclass
class WorkServer:
    """A server under construction; ``ingress`` is the Ingress that created it."""

    hostname: str
    locations: list[WorkLocation]
    ingress: WorkIngress | None = None


@dataclass
class State:
    """Everything one build reads and writes."""

    version: ControllerVersion
    configmap: Mapping[str, str]
    ingresses: list[WorkIngress]
    services: Mapping[tuple[str, str], Service]
    endpoints: Mapping[PortKey, Sequence[Endpoint]]
    notes: list[Note] = field(default_factory=list)
    upstreams: dict[str, WorkBackend] = field(default_factory=dict)
    servers: dict[str, WorkServer] = field(default_factory=dict)

    def note(
        self,
        kind: NoteKind,
        reason: str,
        *,
        ingress: WorkIngress | None = None,
        annotation: str = "",
        backend: str = "",
    ) -> None:
        """Record a note (the annotation's value is taken from the Ingress)."""
        value = None
        if ingress is not None and annotation:
            value = ingress.ingress.annotations.get(ANNOTATION_PREFIX + annotation)
        self.notes.append(
            Note(kind, reason, ingress.key if ingress else "", annotation, value, backend)
        )


def upstream_name(namespace: str, ref: BackendRef) -> str:
    """The controller's backend name: ``<namespace>-<service>-<port>``."""
    return f"{namespace}-{ref.service}-{ref.port}"
