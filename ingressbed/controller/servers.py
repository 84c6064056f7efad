"""The controller's second pass: servers, their locations, and cookie affinity (pure).

``create_servers`` makes one server per host, named by the oldest (non-canary) Ingress
that defines it, with a ``/`` location on the default backend (or on that Ingress's
``defaultBackend``) that carries that Ingress's location annotations. ``attach`` then
walks every Ingress path, oldest first: a path adds a location, or takes over the
server's default ``/``; a path another Ingress already holds (same path and type) is
left to it. On the way, cookie affinity is merged into the path's backend: the type is
set by any Ingress with ``affinity: cookie``, the mode by the first Ingress that names
one, and every cookie Ingress overwrites the cookie's attributes, so the last one
processed wins, and adds its path to the cookie's locations.
"""

from __future__ import annotations

from dataclasses import fields

from ingressbed.controller.model import (
    DEFAULT_BACKEND,
    DEFAULT_SERVER,
    CookieAffinity,
    NoteKind,
)
from ingressbed.controller.state import (
    State,
    WorkBackend,
    WorkIngress,
    WorkLocation,
    WorkServer,
    upstream_name,
)
from ingressbed.objects import IngressPath

#: Cookie attribute fields and the annotation that sets each.
_ATTRIBUTE_ANNOTATIONS: dict[str, str] = {
    "name": "session-cookie-name",
    "expires": "session-cookie-expires",
    "max_age": "session-cookie-max-age",
    "path": "session-cookie-path",
    "domain": "session-cookie-domain",
    "samesite": "session-cookie-samesite",
    "conditional_samesite_none": "session-cookie-conditional-samesite-none",
    "secure": "session-cookie-secure",
    "change_on_failure": "session-cookie-change-on-failure",
}


def create_servers(state: State) -> None:
    """``createServers``: the catch-all server and one server per host.

    Args:
        state: the build state; ``upstreams`` are already made.
    """
    root = WorkLocation("/", "Prefix", DEFAULT_BACKEND, is_default_backend=True)
    state.servers[DEFAULT_SERVER] = WorkServer(DEFAULT_SERVER, [root])
    for wi in state.ingresses:
        if wi.parsed.canary.enabled:
            continue
        backend = DEFAULT_BACKEND
        default = wi.ingress.default_backend
        if default is not None and upstream_name(wi.ingress.namespace, default) in state.upstreams:
            backend = upstream_name(wi.ingress.namespace, default)
            catch_all = state.servers[DEFAULT_SERVER].locations[0]
            if catch_all.is_default_backend and not wi.ingress.rules:
                catch_all.is_default_backend = False
                catch_all.backend = backend
                catch_all.service = default.service
                catch_all.apply(wi, keep_rewrite=True)
        for rule in wi.rules:
            host = rule.host or DEFAULT_SERVER
            if host in state.servers:
                continue
            location = WorkLocation("/", "Prefix", backend, is_default_backend=True)
            location.apply(wi)
            state.servers[host] = WorkServer(host, [location], wi)


def _place(
    state: State, wi: WorkIngress, server: WorkServer, path: IngressPath, ups: WorkBackend
) -> None:
    """Add a location for ``path``, take over a default ``/``, or leave it to its holder."""
    assert path.backend is not None
    for location in server.locations:
        if location.path != path.path:
            continue
        if location.path_type != path.path_type:
            break  # same path, other type: a location of its own
        if not location.is_default_backend:
            holder = location.ingress.key if location.ingress else "the controller"
            if location.ingress is not wi:
                state.note(
                    NoteKind.IGNORED,
                    f"host {server.hostname} path {path.path} ({path.path_type}) is already "
                    f"served by {holder}, which keeps it",
                    ingress=wi,
                    backend=ups.name,
                )
            return
        location.backend = ups.name
        location.is_default_backend = False
        location.service = path.backend.service
        location.port = ups.port
        location.apply(wi)
        return
    location = WorkLocation(
        path.path,
        path.path_type or "Prefix",
        ups.name,
        service=path.backend.service,
        port=ups.port,
    )
    location.apply(wi)
    server.locations.append(location)


def _shown(value: object) -> str:
    return "(not set)" if value in ("", False) else repr(value)


def _merge_cookie(state: State, wi: WorkIngress, ups: WorkBackend, host: str, path: str) -> None:
    parsed = wi.parsed.affinity
    affinity = ups.affinity
    if not affinity.type:
        affinity.type = parsed.type
    if not affinity.mode:
        affinity.mode = parsed.mode
        if parsed.mode:
            ups.mode_from = wi.key
    elif parsed.mode and parsed.mode != affinity.mode:
        state.note(
            NoteKind.IGNORED,
            f"backend {ups.name} already has affinity-mode {affinity.mode!r} from "
            f"{ups.mode_from}: the first Ingress that names a mode sets it",
            ingress=wi,
            annotation="affinity-mode",
            backend=ups.name,
        )
    if parsed.type != "cookie" or parsed.cookie is None:
        return
    new = parsed.cookie
    if ups.cookie_from and ups.cookie_from[-1] != wi.key:
        before = affinity.cookie
        earlier = next(w for w in state.ingresses if w.key == ups.cookie_from[-1])
        for attribute in (f.name for f in fields(CookieAffinity) if f.name != "locations"):
            old, now = getattr(before, attribute), getattr(new, attribute)
            if old != now:
                state.note(
                    NoteKind.OVERRIDDEN,
                    f"{_shown(old)} is replaced on backend {ups.name} by {wi.key}'s "
                    f"{_shown(now)}: the last Ingress processed that sets affinity: cookie "
                    "on a backend decides every cookie attribute",
                    ingress=earlier,
                    annotation=_ATTRIBUTE_ANNOTATIONS[attribute],
                    backend=ups.name,
                )
    affinity.cookie = new
    if wi.key in ups.cookie_from:
        ups.cookie_from.remove(wi.key)
    ups.cookie_from.append(wi.key)
    affinity.locations.setdefault(host, []).append(path)


def attach(state: State) -> None:
    """``getBackendServers``' walk: locations for every path, and cookie affinity.

    Args:
        state: the build state; servers and upstreams are made.
    """
    for wi in state.ingresses:
        for rule in wi.rules:
            host = rule.host or DEFAULT_SERVER
            server = state.servers.get(host) or state.servers[DEFAULT_SERVER]
            if not rule.http:
                continue
            for path in rule.paths:
                if path.backend is None:
                    continue
                ups = state.upstreams[upstream_name(wi.ingress.namespace, path.backend)]
                if ups.no_server:
                    continue
                _place(state, wi, server, path, ups)
                _merge_cookie(state, wi, ups, host, path.path)
