"""The fake backend's ingress-nginx: the controller model, per request.

On the ``ingress-nginx`` plane the fake asks the controller model
(``ingressbed.controller.build``) what the controller builds from the setup's objects
(several Ingresses and Services, ``Setup.ingresses``; or its one Ingress on hellogo), and
places each request as nginx and the Lua balancer would:

1. the server of the request's host (else the catch-all ``_``), and its location as
   nginx chooses (an exact location, else regex locations in order, else the longest
   prefix);
2. the location's backend, or its canary (the first alternative) by the balancer's own
   order: a cookie the main backend issued keeps the main, one the canary issued the
   canary; then ``canary-by-header`` (value, pattern, ``always``/``never``), then
   ``canary-by-cookie``, then ``canary-weight``;
3. a pod of that backend by its balancer: the chash ring (or a subset, a random member)
   of the key the running balancer holds, sticky cookies (balanced or persistent; a new
   session gets the ``Set-Cookie`` the balancer writes, on the locations its cookie
   lists), else round robin.

The balancers a worker holds (``controller.Balancer``) are made fresh by the bed's
``apply``, and taken through a change as a running controller takes it by
``apply_keeping_balancers`` (``controller.apply``): a new hash key alone stays unused.

Like the rest of the fake it is a model, never evidence about a real data plane; what it
leaves out: ewma (round robin here), service-upstream (the pods here), failed tries.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingressbed import controller, planes
from ingressbed.controller import Backend, Balancer, Configuration, Location, Server
from ingressbed.controller.cookies import cookie_path, lua_number
from ingressbed.controller.model import DEFAULT_COOKIE_NAME
from ingressbed.objects import DEFAULT_NAMESPACE, Ingress, Service
from ingressbed.placement import Request
from ingressbed.placement.cookie import backend_key, split_cookie
from ingressbed.planes.ingress_nginx import CookieUpstream, IngressNginxBalance
from ingressbed.vocabulary import DataPlane, Endpoint, Placement, Setup

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Placed:
    """Where one request goes: a status without a pod (404, 503), or a pod's endpoint,
    the ``Set-Cookie`` values the balancer adds, and the backend that served it."""

    status: int
    endpoint: Endpoint | None = None
    cookies: tuple[str, ...] = ()
    backend: str = ""


def objects(setup: Setup) -> tuple[tuple[Ingress, ...], tuple[Service, ...]]:
    """The setup's Ingresses and Services (one Ingress: it, on the hellogo Service)."""
    if setup.ingresses:
        return setup.ingresses, setup.services
    ingress, service = controller.from_ingress_spec(setup.ingress)
    return (ingress,), (service,)


def build(setup: Setup, endpoints: Mapping[tuple[str, int], Sequence[Endpoint]]) -> Configuration:
    """The controller model's configuration for ``setup`` on the fake's pods.

    Args:
        endpoints: the endpoints of each (Service, Service port number).
    """
    ingresses, services = objects(setup)
    keyed = {(DEFAULT_NAMESPACE, s, p): tuple(e) for (s, p), e in endpoints.items()}
    return controller.build(ingresses, services, keyed, setup.controller)


def _pattern(location: Location) -> str:
    found = _QUOTED.search(location.nginx)
    text = found.group(1) if found else location.path
    return text.replace('\\"', '"').replace("\\\\", "\\")


def match(server: Server, path: str) -> Location | None:
    """The location nginx chooses for ``path`` (no query) in ``server``."""
    exact = [loc for loc in server.locations if loc.nginx.startswith("=")]
    for loc in exact:
        if _pattern(loc) == path:
            return loc
    prefixes = [loc for loc in server.locations if not loc.regex and not loc.nginx.startswith("=")]
    longest = max(
        (loc for loc in prefixes if path.startswith(_pattern(loc))),
        key=lambda loc: len(_pattern(loc)),
        default=None,
    )
    for loc in server.locations:
        if loc.regex and re.search(_pattern(loc), path, re.IGNORECASE):
            return loc
    return longest


class Routes:
    """One configuration's routing and balancing (see the module docstring)."""

    def __init__(
        self,
        config: Configuration,
        plane: DataPlane,
        rng: random.Random,
        held: Mapping[str, Balancer] | None = None,
    ) -> None:
        self.config = config
        self.plane = plane
        self.rng = rng
        self.held = controller.balancers(config) if held is None else held
        self._turns: dict[str, itertools.count[int]] = {}

    def server(self, host: str) -> Server:
        for server in self.config.servers:
            if server.hostname == host:
                return server
        return self.config.server(controller.DEFAULT_SERVER)

    def place(self, host: str, target: str, headers: Mapping[str, str]) -> Placed:
        """Where a request goes (``headers`` with lower-case names)."""
        server = self.server(host)
        location = match(server, target.split("?", 1)[0])
        if location is None or location.backend == controller.DEFAULT_BACKEND:
            return Placed(404)
        main = self.config.backend(location.backend)
        chosen = self._canary(main, headers)
        if not chosen.endpoints:
            return Placed(503, backend=chosen.name)
        client = headers.get("x-forwarded-for", "127.0.0.1").split(",")[0].strip()
        request = Request(client_ip=client, host=host, request_uri=target, headers=headers)
        endpoint, cookie = self._pick(chosen, request, server, location, headers)
        return Placed(200, endpoint, (cookie,) if cookie else (), chosen.name)

    # --- canary ---------------------------------------------------------------------------

    def _affinitized(self, backend: Backend, headers: Mapping[str, str]) -> bool:
        if backend.affinity.type != "cookie":
            return False
        value = _cookie(headers, backend.affinity.cookie.name, last=True)
        return value is not None and split_cookie(value)[1] == backend_key(backend.name)

    def _canary(self, main: Backend, headers: Mapping[str, str]) -> Backend:
        if self._affinitized(main, headers) or not main.alternatives:
            return main
        canary = self.config.backend(main.alternatives[0])
        if self._affinitized(canary, headers):
            return canary
        policy = canary.traffic_shaping
        value = headers.get(policy.header.lower()) if policy.header else None
        if value is not None:
            if policy.header_value:
                if value == policy.header_value:
                    return canary
            elif policy.header_pattern:
                if re.search(policy.header_pattern, value):
                    return canary
            elif value == "always":
                return canary
            elif value == "never":
                return main
        said = _cookie(headers, policy.cookie, last=False) if policy.cookie else None
        if said == "always":
            return canary
        if said == "never":
            return main
        total = max(policy.weight_total, 100)
        return canary if self.rng.randint(1, total) <= policy.weight else main

    # --- balancing ------------------------------------------------------------------------

    def _pick(
        self,
        backend: Backend,
        request: Request,
        server: Server,
        location: Location,
        headers: Mapping[str, str],
    ) -> tuple[Endpoint, str]:
        eps = backend.endpoints
        kind = backend.implementation
        if kind.startswith("sticky"):
            mode = "persistent" if kind == "sticky_persistent" else "balanced"
            name = backend.affinity.cookie.name or DEFAULT_COOKIE_NAME
            sticky = CookieUpstream(tuple(dict.fromkeys(eps)), mode, name, backend.name)
            value = _cookie(headers, name, last=True)
            pick = sticky.pick(Request(cookies={name: value} if value is not None else {}))
            if pick.fixed:
                return self.rng.choice(pick.endpoints), ""
            session = sticky.new_session(f"{self.rng.getrandbits(64):016x}", self.rng.choice)
            listed = backend.affinity.cookie.locations.get(server.hostname, ())
            if location.ingress_path not in listed:
                return session.endpoint, ""
            return session.endpoint, _set_cookie(backend, location, session.value)
        if kind in ("chash", "chashsubset"):
            placement = Placement.SUBSET if kind == "chashsubset" else Placement.HASH
            running = self.held.get(backend.name)
            key = running.hash_by if running is not None else backend.hash_by.key
            size = running.subset_size if running is not None else backend.hash_by.subset_size
            balance = IngressNginxBalance(
                self.plane, placement.value, key, subset_size=size or None
            )
            pick = balance.upstream(eps).pick(request)
            if pick.fixed:
                return self.rng.choice(pick.endpoints), ""
        turn = self._turns.setdefault(backend.name, itertools.count(self.rng.randrange(len(eps))))
        return eps[next(turn) % len(eps)], ""


def _cookie(headers: Mapping[str, str], name: str, *, last: bool) -> str | None:
    """The value of cookie ``name`` in the request (the last or the first of that name)."""
    found = [
        value.strip()
        for part in headers.get("cookie", "").split(";")
        for key, sep, value in [part.partition("=")]
        if sep and key.strip() == name
    ]
    if not found:
        return None
    return found[-1] if last else found[0]


def _set_cookie(backend: Backend, location: Location, value: str) -> str:
    """The ``Set-Cookie`` the Lua balancer writes for a new session (attributes in its
    order: Expires, Max-Age, Domain, Path, Secure, HttpOnly, SameSite)."""
    cookie = backend.affinity.cookie
    parts = [f"{cookie.name or DEFAULT_COOKIE_NAME}={value}"]
    seconds = lua_number(cookie.expires) if cookie.expires else None
    if seconds is not None:
        when = time.gmtime(time.time() + float(seconds))
        parts.append("Expires=" + time.strftime("%a, %d-%b-%y %H:%M:%S GMT", when))
    max_age = lua_number(cookie.max_age) if cookie.max_age else None
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if cookie.domain:
        parts.append(f"Domain={cookie.domain}")
    parts.append(f"Path={cookie_path(cookie, location.ingress_path)}")
    if cookie.secure:
        parts.append("Secure")
    parts.append("HttpOnly")
    if cookie.samesite in ("Strict", "Lax", "None"):
        parts.append(f"SameSite={cookie.samesite}")
    return "; ".join(parts)


def modelled(plane: DataPlane) -> bool:
    """Whether the fake runs ``plane`` through the controller model (the plane follows
    ingress-nginx's releases: ``Plane.versioned``)."""
    return planes.plane(plane).versioned


def serves(setup: Setup, plane: DataPlane) -> bool:
    """Whether the fake routes ``setup`` through the controller model (every setup of a
    plane that follows ingress-nginx's releases)."""
    return modelled(plane)
