"""Cookie persistence on HAProxy, as the HAProxy-based controllers render ``affinity: cookie``
(pure).

Both controllers write HAProxy's ``cookie NAME insert indirect nocache ...`` on the
backend: a request whose cookie names a server of the backend goes there; any other
request is balanced (``balance roundrobin`` here) and the answer inserts the cookie of
the server it reached. What differs is the server's cookie value:

- **HAProxy Technologies' controller** (``cookie-persistence: NAME``): dynamic cookies,
  ``dynamic-cookie-key`` fixed by the controller (``ohph7OoGhong`` in v3.2.11,
  ``pkg/service/service.go``);
- **haproxy-ingress** (``affinity: cookie``, the defaults): dynamic cookies with the global
  ``cookie-key`` (default ``Ingress``), keywords ``indirect nocache httponly``;
- **haproxy-ingress** with ``session-cookie-dynamic: "false"`` and
  ``session-cookie-value-strategy: pod-uid``: each server line carries ``cookie <pod UID>``,
  the same value for a pod on every Service port.

A dynamic cookie is HAProxy's ``srv_set_dyncookie``: XXH64 (seed 0) of the key, the
server's address bytes (4 for IPv4, 16 for IPv6, network order) and its port as 4 bytes in
network order, written as 16 lower-case hex digits. The bed has no pod UID; its stand-in is
a UUID derived from the pod's address (the local backend never hands an address out twice
in a run), one per pod like the UID.

There is no ``balanced``/``persistent`` choice: a cookie pins its server for as long as the
server is in the backend (a new pod takes only new visitors), and a cookie naming no server
of the backend (its pod is gone) is balanced anew and replaced.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import xxhash

from ingressbed.placement.upstream import IN_TURN, Pick
from ingressbed.placement.variables import Request
from ingressbed.planes.base import PinnedByCookie, Session
from ingressbed.vocabulary import ANNOTATION_PREFIX, Endpoint, Placement, Setup

#: ``Pick.why`` of a visitor without a cookie naming a server of the backend.
NO_COOKIE = "no cookie naming a server: balance roundrobin, then HAProxy inserts its cookie"
#: Namespace of the stand-in pod UIDs.
_POD_UIDS = uuid.UUID("6f1d3c52-2b0e-4a55-9a43-4c0b8d3e7a10")


@dataclass(frozen=True)
class CookieStyle:
    """How one controller renders cookie affinity.

    ``controller`` names it and what it is set with; ``keywords`` follow ``insert`` on the
    ``cookie`` line; ``dynamic_key`` is the ``dynamic-cookie-key`` (None: static values,
    one pod UID per server).
    """

    controller: str
    keywords: str
    dynamic_key: str | None


HAPROXYTECH = CookieStyle(
    "HAProxy Technologies' cookie-persistence (dynamic cookies, the controller's fixed key)",
    "indirect nocache",
    "ohph7OoGhong",
)
HAPROXY_INGRESS = CookieStyle(
    "haproxy-ingress affinity: cookie (dynamic cookies, the default cookie-key)",
    "indirect nocache httponly",
    "Ingress",
)
HAPROXY_INGRESS_POD_UID = CookieStyle(
    "haproxy-ingress affinity: cookie with session-cookie-value-strategy: pod-uid (the pod's "
    "UID, the same on every port)",
    "indirect nocache httponly",
    None,
)


def dynamic_cookie(key: str, endpoint: Endpoint) -> str:
    """HAProxy's dynamic cookie of a server at ``endpoint`` with ``dynamic-cookie-key`` ``key``."""
    address = ipaddress.ip_address(endpoint.address.strip("[]"))
    data = key.encode() + address.packed + endpoint.port.to_bytes(4, "big")
    return f"{xxhash.xxh64_intdigest(data, 0):016x}"


def pod_uid(address: str) -> str:
    """The stand-in UID of the pod at ``address`` (one per pod, the same on every port)."""
    return str(uuid.uuid5(_POD_UIDS, str(ipaddress.ip_address(address.strip("[]")))))


@dataclass(frozen=True)
class HaproxyCookie:
    """Cookie persistence on one plane: the cookie's name and the controller's style."""

    name: str
    style: CookieStyle

    def value(self, endpoint: Endpoint) -> str:
        """The cookie value of the server at ``endpoint``."""
        if self.style.dynamic_key is not None:
            return dynamic_cookie(self.style.dynamic_key, endpoint)
        return pod_uid(endpoint.address)

    def line(self) -> str:
        """The backend's ``cookie`` line."""
        dynamic = " dynamic" if self.style.dynamic_key is not None else ""
        return f"cookie {self.name} insert {self.style.keywords}{dynamic}"

    def key_line(self) -> str | None:
        """The backend's ``dynamic-cookie-key`` line (None: static values)."""
        key = self.style.dynamic_key
        return None if key is None else f'dynamic-cookie-key "{key}"'

    def server_option(self, endpoint: Endpoint) -> str:
        """What a server line adds: `` cookie VALUE`` for static values, else nothing."""
        return "" if self.style.dynamic_key is not None else f" cookie {self.value(endpoint)}"


def sent(request: Request, name: str) -> str | None:
    """The value of the first cookie called exactly ``name`` that ``request`` sends (HAProxy
    compares the name with its case and takes the first match)."""
    if name in request.cookies:
        return request.cookies[name]
    header = request.cookie_header() or ""
    for item in header.split(";"):
        key, equals, value = item.strip().partition("=")
        if equals and key == name:
            return value.strip()
    return None


@dataclass(frozen=True)
class HaproxyCookieUpstream(PinnedByCookie):
    """A backend with cookie persistence: the cookie's server, else no fixed endpoint."""

    endpoints: tuple[Endpoint, ...]
    cookie: HaproxyCookie
    #: A visitor without a cookie is balanced like every request: the next server in
    #: turn (``balance roundrobin`` on one thread).
    new_visitors: ClassVar[str] = IN_TURN

    @property
    def cookie_name(self) -> str:
        return self.cookie.name

    def pick(self, request: Request) -> Pick:
        value = sent(request, self.cookie.name)
        if value:
            for endpoint in self.endpoints:  # HAProxy takes the first server with that value
                if self.cookie.value(endpoint) == value:
                    return Pick.to(endpoint)
        return Pick.anywhere(NO_COOKIE)

    def new_session(self, token: str, draw: Callable[[Sequence[Endpoint]], Endpoint]) -> Session:
        """The cookie HAProxy inserts for a visitor without one, and the server it pins
        (``draw`` stands for the balancing; ``token`` is unused: the value is the server's)."""
        endpoint = draw(self.endpoints)
        return Session(self.cookie.name, self.cookie.value(endpoint), endpoint)


def cookie_notes(setup: Setup, placement: Placement, style: CookieStyle) -> tuple[str, ...]:
    """What HAProxy's cookie persistence changes for ``affinity: cookie`` in ``placement``."""
    notes = [
        f"rendered as {style.controller}",
        "HAProxy has one cookie mode: the cookie pins its server for as long as the server "
        "is in the backend; a cookie naming a removed server is balanced anew and replaced",
    ]
    if placement == Placement.COOKIE_BALANCED:
        notes.append(
            "affinity-mode balanced's rebalancing does not happen: a new pod takes new "
            "visitors only"
        )
    unrendered = sorted(
        key.removeprefix(ANNOTATION_PREFIX)
        for key in setup.ingress.annotations
        if key.removeprefix(ANNOTATION_PREFIX).startswith("session-cookie-")
        and key != ANNOTATION_PREFIX + "session-cookie-name"
    )
    if unrendered:
        notes.append(f"not rendered (HAProxy's inserted cookie has no such attribute): "
                     f"{', '.join(unrendered)}")  # fmt: skip
    return tuple(notes)
