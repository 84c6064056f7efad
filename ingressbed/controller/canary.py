"""The controller's canary pass: canary backends become alternatives of main ones (pure).

A canary Ingress (``canary: "true"``) makes no server and no location. After every
Ingress has been walked, each canary's backends are matched against the locations of
the servers it names: a location with the same path and path type on a main backend
(not the default backend, not another canary) takes the canary backend as an
alternative; with ``affinity-canary-behavior`` other than ``legacy`` (read from the
canary Ingress) the canary backend gets a copy of the main backend's cookie affinity.
A canary backend that matches nothing is deleted, and nothing merges when no
non-canary Ingress exists. A canary path whose host has no server is left alone.
"""

from __future__ import annotations

from ingressbed.controller.model import DEFAULT_BACKEND, DEFAULT_SERVER, NoteKind
from ingressbed.controller.state import State, WorkBackend, WorkIngress, WorkServer, upstream_name
from ingressbed.objects import BackendRef


def _can_merge(primary: WorkBackend, alternative: WorkBackend) -> bool:
    return (
        primary.name != alternative.name
        and primary.name != DEFAULT_BACKEND
        and not primary.no_server
    )


def _merge_backend(wi: WorkIngress, primary: WorkBackend, alternative: WorkBackend) -> bool:
    if alternative.name in primary.alternatives:
        return True
    if wi.parsed.affinity.canary_behavior != "legacy":
        alternative.copy_affinity_from(primary)
    primary.alternatives.append(alternative.name)
    alternative.canary_of.append(primary.name)
    return True


def _match(
    state: State, wi: WorkIngress, server: WorkServer, ref: BackendRef, path: str | None, kind: str
) -> None:
    """Merge the backend of ``ref`` into the locations of ``server`` it matches."""
    name = upstream_name(wi.ingress.namespace, ref)
    alternative = state.upstreams.get(name)
    if alternative is None:
        state.note(
            NoteKind.INFO, f"canary backend {name} was already deleted", ingress=wi, backend=name
        )
        return
    merged = same = False
    for location in server.locations:
        primary = state.upstreams.get(location.backend)
        if primary is None:
            continue
        same = primary.name == alternative.name
        if same:
            state.note(
                NoteKind.IGNORED,
                f"canary backend {name} is the main backend of {server.hostname} "
                f"{location.path} (another Ingress serves it): not a canary there",
                ingress=wi,
                annotation="canary",
                backend=name,
            )
            break
        if _can_merge(primary, alternative) and (
            path is None or (location.path == path and location.path_type == kind)
        ):
            merged = _merge_backend(wi, primary, alternative)
    if not same and not merged:
        where = f"{server.hostname} {path}" if path is not None else "the catch-all server"
        state.note(
            NoteKind.IGNORED,
            f"no main backend serves {where} ({kind}): the controller deletes canary backend "
            f"{name}",
            ingress=wi,
            annotation="canary",
            backend=name,
        )
        del state.upstreams[name]


def merge(state: State) -> None:
    """``mergeAlternativeBackends`` for every canary Ingress, in processing order.

    Args:
        state: the build state; locations are attached.
    """
    canaries = [wi for wi in state.ingresses if wi.parsed.canary.enabled]
    if len(canaries) == len(state.ingresses):
        for wi in canaries:
            state.note(
                NoteKind.IGNORED,
                "every Ingress is a canary: there is no main backend to merge into",
                ingress=wi,
                annotation="canary",
            )
        return
    for wi in canaries:
        default = wi.ingress.default_backend
        if default is not None:
            _match(state, wi, state.servers[DEFAULT_SERVER], default, None, "any")
        for rule in wi.rules:
            host = rule.host or DEFAULT_SERVER
            for path in rule.paths:
                if path.backend is None:
                    continue
                server = state.servers.get(host)
                if server is None:
                    state.note(
                        NoteKind.IGNORED,
                        f"host {host} has no server (only non-canary Ingresses make one): "
                        f"the canary path {path.path} merges nowhere",
                        ingress=wi,
                        annotation="canary",
                    )
                    continue
                _match(state, wi, server, path.backend, path.path, path.path_type or "Prefix")
