"""The controller's first pass: one backend per Service port, made by the oldest Ingress (pure).

Ingresses are taken oldest first. The first one that references a Service port creates
its backend, and only that Ingress's ``upstream-hash-by``, subset, ``load-balance``,
``service-upstream`` and canary settings go into it; a later Ingress on the same
backend changes none of them (a note says so when its values differ). One exception,
as in the controller: an Ingress's ``defaultBackend`` always makes its backend anew.

Endpoints are those of the Service port the Ingress names (by port number, target
port or port name, the Service's first matching port), in the order given; with
``service-upstream`` the backend has one endpoint, the Service's ClusterIP and port.
"""

from __future__ import annotations

from ingressbed.controller.annotations import Parsed
from ingressbed.controller.model import NoteKind, ServiceSpec
from ingressbed.controller.state import State, WorkBackend, WorkIngress, upstream_name
from ingressbed.objects import BackendRef, Service
from ingressbed.vocabulary import Endpoint

#: Backend-level settings: the creator's count, a later Ingress's are ignored.
_BACKEND_SETTINGS: tuple[str, ...] = (
    "upstream-hash-by",
    "upstream-hash-by-subset",
    "upstream-hash-by-subset-size",
    "load-balance",
    "service-upstream",
)


def _spec(service: Service) -> ServiceSpec:
    return ServiceSpec(service.type, service.cluster_ip, service.ports)


def _endpoints(state: State, wi: WorkIngress, ref: BackendRef, backend: str) -> list[Endpoint]:
    """``serviceEndpoints``: the endpoints of the Service port ``ref`` names."""
    ns = wi.ingress.namespace
    service = state.services.get((ns, ref.service))
    if service is None:
        state.note(
            NoteKind.INFO,
            f"Service {ns}/{ref.service} does not exist: no endpoints, requests get 503",
            ingress=wi,
            backend=backend,
        )
        return []
    if service.type == "ExternalName":
        state.note(
            NoteKind.UNMODELLED,
            f"Service {service.key} is of type ExternalName (resolved by DNS in the balancer)",
            ingress=wi,
            backend=backend,
        )
        return []
    wanted = str(ref.port)
    for port in service.ports:
        if wanted in (str(port.port), str(port.target), port.name):
            found = list(state.endpoints.get((ns, ref.service, port.port), ()))
            if not found:
                state.note(
                    NoteKind.INFO,
                    f"no endpoints for {service.key} port {port.port}: requests get 503",
                    ingress=wi,
                    backend=backend,
                )
            return found
    state.note(
        NoteKind.INFO,
        f"Service {service.key} has no port {wanted}: no endpoints, requests get 503",
        ingress=wi,
        backend=backend,
    )
    return []


def _cluster_endpoint(
    state: State, wi: WorkIngress, ref: BackendRef, backend: str
) -> Endpoint | None:
    """``getServiceClusterEndpoint``: the ClusterIP endpoint, or None (pods are used then)."""
    service = state.services.get((wi.ingress.namespace, ref.service))
    why = ""
    if service is None:
        why = "the Service does not exist"
    elif service.cluster_ip in ("", "None"):
        why = f"Service {service.key} has no ClusterIP"
    else:
        if isinstance(ref.port, int):
            return Endpoint(service.cluster_ip, ref.port)
        for port in service.ports:
            if port.name == ref.port:
                return Endpoint(service.cluster_ip, port.port)
        why = f"Service {service.key} has no port named {ref.port}"
    state.note(
        NoteKind.INFO,
        f"service-upstream: {why}, so the pods' endpoints are used",
        ingress=wi,
        annotation="service-upstream",
        backend=backend,
    )
    return None


def _configure(state: State, ups: WorkBackend, wi: WorkIngress, parsed: Parsed) -> None:
    ups.hash_by = parsed.hash_by
    ups.load_balance = parsed.load_balance or state.configmap.get("load-balance", "round_robin")
    ups.created_by = wi
    if parsed.canary.enabled:
        ups.no_server = True
        ups.shaping = parsed.canary.shaping


def _fill(state: State, ups: WorkBackend, wi: WorkIngress, ref: BackendRef) -> bool:
    """Endpoints and Service of a new backend; False where the controller stops early."""
    parsed = wi.parsed
    if parsed.service_upstream:
        endpoint = _cluster_endpoint(state, wi, ref, ups.name)
        if endpoint is not None:
            ups.endpoints = [endpoint]
            ups.service_upstream = True
    if not ups.endpoints:
        ups.endpoints = _endpoints(state, wi, ref, ups.name)
    service = state.services.get((wi.ingress.namespace, ref.service))
    if service is None:
        return False
    ups.service_spec = _spec(service)
    return True


def _ignored_settings(state: State, wi: WorkIngress, ups: WorkBackend) -> None:
    """Note a later Ingress's backend settings that differ from the creator's."""
    creator = ups.created_by
    if creator is None or creator is wi:
        return
    mine, theirs = wi.parsed.set_for_backend, creator.parsed.set_for_backend
    for short in _BACKEND_SETTINGS:
        if short in mine and mine[short] != theirs.get(short):
            shown = f"{short}: {theirs[short]!r}" if short in theirs else f"no {short}"
            state.note(
                NoteKind.IGNORED,
                f"backend {ups.name} was created by the older Ingress {creator.key} "
                f"({shown}); only the oldest Ingress on a backend sets it",
                ingress=wi,
                annotation=short,
                backend=ups.name,
            )


def create_upstreams(state: State) -> None:
    """``createUpstreams``: fill ``state.upstreams`` from the Ingresses, oldest first.

    Args:
        state: the build state; its ``upstreams`` holds the default backend already.
    """
    for wi in state.ingresses:
        ns = wi.ingress.namespace
        default = wi.ingress.default_backend
        if default is not None:
            name = upstream_name(ns, default)
            replaced = state.upstreams.get(name)
            ups = WorkBackend(name, ns, default.service)
            _configure(state, ups, wi, wi.parsed)
            if replaced is not None and replaced.created_by is not None:
                state.note(
                    NoteKind.INFO,
                    f"its defaultBackend makes backend {name} anew: the settings of "
                    f"{replaced.created_by.key} for it are replaced",
                    ingress=wi,
                    backend=name,
                )
            state.upstreams[name] = ups
            _fill(state, ups, wi, default)
            if (ns, default.service) not in state.services:
                ups.service_spec = None
        for rule in wi.rules:
            for path in rule.paths:
                if path.backend is None:
                    continue
                name = upstream_name(ns, path.backend)
                if name in state.upstreams:
                    _ignored_settings(state, wi, state.upstreams[name])
                    continue
                ups = WorkBackend(name, ns, path.backend.service, path.backend.port)
                _configure(state, ups, wi, wi.parsed)
                state.upstreams[name] = ups
                _fill(state, ups, wi, path.backend)
