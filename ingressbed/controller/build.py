"""The controller's step as a pure function: objects in, ``Configuration`` out.

``build(ingresses, services, endpoints, configmap)`` does what ingress-nginx's
controller does on every sync (controller-v1.15.1, ``getConfiguration``):

1. takes the Ingresses oldest first (creation order; on a tie, the greater
   ``namespace/name`` first, as the controller sorts them) and parses their annotations,
   leaving out every Ingress the controller refuses;
2. makes one backend per Service port, from the oldest Ingress that references it
   (``upstreams``);
3. makes one server per host and a location per path, merging cookie affinity into the
   backends (``servers``);
4. turns canary Ingresses into alternative backends (``canary``);
5. sorts backends by name, servers by host name and locations as nginx needs them, and
   writes each location's text for nginx (``locations``).

With ``admission_webhook`` (the default, as the controller is deployed) an Ingress that
repeats an older Ingress's host and path, neither of them a canary, is refused as the
webhook refuses it. ``use-forwarded-headers`` is always on in the bed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType

from ingressbed.controller import canary, locations, servers, upstreams
from ingressbed.controller.annotations import parse
from ingressbed.controller.model import (
    DEFAULT_BACKEND,
    DEFAULT_ENDPOINT,
    IMPLEMENTATIONS,
    Backend,
    Configuration,
    Location,
    Note,
    NoteKind,
    Server,
    SessionAffinity,
)
from ingressbed.controller.state import PortKey, State, WorkBackend, WorkIngress, WorkServer
from ingressbed.controller.validation import go_bool
from ingressbed.controller.versions import ControllerVersion, controller_version
from ingressbed.errors import ConfigError
from ingressbed.objects import Ingress, Service
from ingressbed.vocabulary import ANNOTATION_PREFIX, Endpoint

#: Annotations that only concern backends; any other annotation of the Ingress that owns
#: a location is taken to shape the location (a change of one reloads nginx).
_BACKEND_ONLY = (
    "upstream-hash-by",
    "load-balance",
    "service-upstream",
    "affinity",
    "session-cookie-",
    "canary",
)


def _order(ingresses: Iterable[Ingress]) -> list[Ingress]:
    by_key = sorted(ingresses, key=lambda i: i.key, reverse=True)
    return sorted(by_key, key=lambda i: i.order)


def _fingerprint(wi: WorkIngress | None) -> str:
    if wi is None:
        return ""
    kept = sorted(
        (k, v)
        for k, v in wi.ingress.annotations.items()
        if k.startswith(ANNOTATION_PREFIX)
        and not k[len(ANNOTATION_PREFIX) :].startswith(_BACKEND_ONLY)
    )
    return repr(kept)


def _assemble(state: State) -> tuple[list[Server], list[WorkBackend]]:
    default = WorkBackend(DEFAULT_BACKEND, endpoints=[DEFAULT_ENDPOINT], service_spec=None)
    state.upstreams[DEFAULT_BACKEND] = default
    upstreams.create_upstreams(state)
    servers.create_servers(state)
    servers.attach(state)
    canary.merge(state)
    built = [_server(ws) for _, ws in sorted(state.servers.items())]
    return built, [b for _, b in sorted(state.upstreams.items())]


def _server(ws: WorkServer) -> Server:
    normalized = locations.normalize(locations.order(ws.locations))
    owners = locations.regex_owners(normalized)
    frozen = tuple(
        Location(
            path=loc.path,
            path_type=loc.path_type,
            backend=loc.backend,
            nginx=locations.nginx_text(loc, bool(owners)),
            ingress_path=loc.ingress_path or "/",
            is_default_backend=loc.is_default_backend,
            ingress=loc.ingress.key if loc.ingress else "",
            service=loc.service,
            port=loc.port,
            rewrite_target=loc.rewrite_target,
            use_regex=loc.use_regex,
            fingerprint=_fingerprint(loc.ingress),
        )
        for loc in normalized
    )
    return Server(ws.hostname, frozen, ws.ingress.key if ws.ingress else "", owners)


def _backend(wb: WorkBackend) -> Backend:
    affinity = wb.affinity
    cookie = replace(
        affinity.cookie,
        locations=MappingProxyType({h: tuple(p) for h, p in sorted(affinity.locations.items())}),
    )
    return Backend(
        name=wb.name,
        port=wb.port,
        endpoints=tuple(wb.endpoints),
        affinity=SessionAffinity(affinity.type, affinity.mode, cookie),
        hash_by=wb.hash_by,
        load_balance=wb.load_balance,
        no_server=wb.no_server,
        traffic_shaping=wb.shaping,
        alternatives=tuple(wb.alternatives),
        service_spec=wb.service_spec,
        namespace=wb.namespace,
        service=wb.service,
        created_by=wb.created_by.key if wb.created_by else "",
        service_upstream=wb.service_upstream,
        cookie_from=tuple(wb.cookie_from),
        mode_from=wb.mode_from,
    )


def _overlap(state: State, wi: WorkIngress, built: list[Server]) -> str:
    """``checkOverlap``: why the admission webhook refuses ``wi``, or ""."""
    owners = {w.key: w for w in state.ingresses}
    for rule in wi.rules:
        if not rule.http:
            continue
        host = rule.host or "_"
        for path in rule.paths:
            if path.backend is None:
                continue
            for server in built:
                if server.hostname != host:
                    continue
                for loc in server.locations:
                    if loc.path != path.path or loc.is_default_backend or loc.ingress == wi.key:
                        continue
                    other = owners.get(loc.ingress)
                    if other is None:
                        continue
                    mine, theirs = _canary_flag(wi), _canary_flag(other)
                    if (mine is None and theirs is None) or (mine and theirs):
                        return (
                            f'host "{host}" and path "{path.path}" are already defined in '
                            f"Ingress {other.key} (the admission webhook refuses it; without "
                            "the webhook the older Ingress keeps the location)"
                        )
    return ""


def _canary_flag(wi: WorkIngress) -> bool | None:
    raw = wi.ingress.annotations.get(ANNOTATION_PREFIX + "canary")
    return None if raw is None else go_bool(raw) is True


def _final_notes(state: State, backends: Sequence[Backend]) -> None:
    for backend in backends:
        creator = next((w for w in state.ingresses if w.key == backend.created_by), None)
        kind = backend.implementation
        if backend.affinity.type == "cookie" and backend.hash_by.key:
            state.note(
                NoteKind.IGNORED,
                f"backend {backend.name} has cookie affinity (from "
                f"{', '.join(backend.cookie_from) or 'a canary merge'}): sticky beats hash, the "
                "hash key is never read",
                ingress=creator,
                annotation="upstream-hash-by",
                backend=backend.name,
            )
        explicit = creator is not None and "load-balance" in creator.parsed.set_for_backend
        if explicit and kind != (backend.load_balance or "round_robin"):
            why = (
                f"unknown to the balancer, which uses {kind}"
                if backend.load_balance not in IMPLEMENTATIONS
                else f"the backend's balancer is {kind} (affinity and hash keys come first)"
            )
            state.note(
                NoteKind.IGNORED,
                why,
                ingress=creator,
                annotation="load-balance",
                backend=backend.name,
            )
        if kind in ("chash", "chashsubset") and not backend.hash_by.key:
            state.note(
                NoteKind.INFO,
                f"load-balance {kind} without upstream-hash-by hashes an empty key: every "
                "request goes to the same pod" + (" group" if kind == "chashsubset" else ""),
                ingress=creator,
                annotation="load-balance",
                backend=backend.name,
            )
        if kind.startswith("sticky") and backend.affinity.type != "cookie":
            state.note(
                NoteKind.UNMODELLED,
                f"load-balance {kind} without affinity: cookie (a cookie without a name)",
                ingress=creator,
                annotation="load-balance",
                backend=backend.name,
            )
        if len(backend.alternatives) > 1:
            state.note(
                NoteKind.IGNORED,
                f"backend {backend.name} has {len(backend.alternatives)} canaries; the balancer "
                f"only ever uses the first, {backend.alternatives[0]}",
                backend=backend.name,
            )
    for wi in state.ingresses:
        if wi.parsed.affinity.canary_behavior and not wi.parsed.canary.enabled:
            state.note(
                NoteKind.IGNORED,
                "read only from a canary Ingress (the canary's own setting counts)",
                ingress=wi,
                annotation="affinity-canary-behavior",
            )


def build(
    ingresses: Iterable[Ingress],
    services: Iterable[Service],
    endpoints: Mapping[PortKey, Sequence[Endpoint]],
    configmap: Mapping[str, str] | None = None,
    *,
    version: str | None = None,
    admission_webhook: bool = True,
) -> Configuration:
    """Build the configuration a controller makes from these objects.

    Args:
        ingresses: the Ingresses; ``Ingress.order`` says which is older.
        services: the Services they name.
        endpoints: the endpoints of each Service port, keyed by (namespace, Service
            name, Service port number), in the order the controller holds them.
        configmap: the controller's ConfigMap keys (``load-balance``,
            ``service-upstream``, ``annotations-risk-level`` are read).
        version: the controller release (``None``: the pinned one, v1.15.1).
        admission_webhook: refuse an Ingress that repeats an older one's host and
            path, as the controller's admission webhook does.

    Returns:
        The configuration, with a note for every ignored, defaulted or refused value.

    Raises:
        ConfigError: a release the model does not cover, or two objects of one name.
    """
    release = controller_version(version)
    cm = MappingProxyType(dict(configmap or {}))
    ordered = _order(ingresses)
    _unique([i.key for i in ordered], "Ingress")
    by_name = {(s.namespace, s.name): s for s in services}
    _unique([s.key for s in services], "Service")
    notes: list[Note] = []
    accepted: list[WorkIngress] = []
    for ingress in ordered:
        parsed = parse(ingress, release, cm)
        if parsed.rejected:
            notes.append(Note(NoteKind.REJECTED, parsed.rejected, ingress.key))
            continue
        wi = WorkIngress.of(ingress, parsed)
        if admission_webhook and accepted:
            trial = _state(release, cm, [*accepted, wi], by_name, endpoints)
            refused = _overlap(trial, wi, _assemble(trial)[0])
            if refused:
                notes.append(Note(NoteKind.REJECTED, refused, ingress.key))
                continue
        notes.extend(parsed.notes)
        accepted.append(wi)
    state = _state(release, cm, accepted, by_name, endpoints)
    built_servers, work_backends = _assemble(state)
    backends = tuple(_backend(b) for b in work_backends)
    _final_notes(state, backends)
    if go_bool(cm.get("use-forwarded-headers", "true")) is False:
        notes.append(
            Note(
                NoteKind.IGNORED,
                "the bed always sets it to true",
                "",
                "use-forwarded-headers",
                cm["use-forwarded-headers"],
            )
        )
    return Configuration(
        version=str(release),
        servers=tuple(built_servers),
        backends=backends,
        notes=tuple(dict.fromkeys([*notes, *state.notes])),
        ingresses=tuple(w.key for w in accepted),
        configmap=cm,
    )


def _state(
    release: ControllerVersion,
    configmap: Mapping[str, str],
    accepted: list[WorkIngress],
    services: Mapping[tuple[str, str], Service],
    endpoints: Mapping[PortKey, Sequence[Endpoint]],
) -> State:
    fresh = [WorkIngress(w.ingress, w.parsed, w.rules) for w in accepted]
    return State(release, configmap, fresh, services, endpoints)


def _unique(keys: list[str], kind: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ConfigError(f"two {kind} objects are named {key}: names must be unique")
        seen.add(key)
