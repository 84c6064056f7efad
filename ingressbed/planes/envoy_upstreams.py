"""The upstreams of the envoy planes: where Envoy sends a request (pure).

- ``EnvoyHashUpstream``: a consistent-hash cluster and the route's hash policies, placed by
  ``EnvoyPredictor`` (Maglev or ring hash); ``random`` where no policy yields a value;
- ``EnvoyCookieUpstream``: a ``Cookie`` hash with a TTL, whose first cookie Envoy makes from
  the connection's two addresses;
- ``EnvoySessionUpstream``: ``sessionPersistence``, the cookie naming the ``ip:port`` that
  answered.

The cookie upstreams also say what a visitor without a cookie gets (``new_session``), for
the fake backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import xxhash

from ingressbed.placement.envoy import EnvoyPredictor
from ingressbed.placement.envoy_policy import cookie_value
from ingressbed.placement.envoy_request import view
from ingressbed.placement.envoy_session import encode, pinned
from ingressbed.placement.ring import Ring
from ingressbed.placement.upstream import AT_RANDOM, BY_CONNECTION, RANDOM, Pick
from ingressbed.placement.variables import Request
from ingressbed.planes.base import PinnedByCookie
from ingressbed.vocabulary import Endpoint

#: ``Pick.why`` of a first visit.
NO_COOKIE = "no cookie yet: Envoy makes one from the connection's addresses"
NO_SESSION = "no session cookie yet: least request picks, and the answer pins it"


@dataclass(frozen=True)
class EnvoySession:
    """The cookie a visitor without one gets, and the pod it pins."""

    name: str
    value: str
    endpoint: Endpoint


@dataclass(frozen=True)
class EnvoyHashUpstream:
    """A consistent-hash cluster and the route's hash policies: ``EnvoyPredictor``."""

    endpoints: tuple[Endpoint, ...]
    predictor: EnvoyPredictor

    def pick(self, request: Request) -> Pick:
        chosen = self.predictor.pick(request)
        return Pick.anywhere(RANDOM) if chosen is None else Pick.to(chosen)

    def shares(self) -> dict[Endpoint, float]:
        return self.predictor.shares()

    def repeat_chance(self) -> float:
        return 1.0

    def ring(self) -> Ring[Endpoint] | None:
        return None


@dataclass(frozen=True)
class EnvoyCookieUpstream(EnvoyHashUpstream):
    """A ``Cookie`` hash with a TTL: a request without the cookie gets one that Envoy makes
    from the connection (``XXH64(peer ip:port + listener ip:port)``), placed as if sent."""

    cookie_name: str = ""
    #: A visitor without a cookie lands where its connection's cookie hashes.
    new_visitors: ClassVar[str] = BY_CONNECTION

    def pick(self, request: Request) -> Pick:
        seen = view(request, append_peer=self.predictor.client.mode == "tcp-peer")
        if not cookie_value(seen.values("cookie"), self.cookie_name) and not (
            request.peer and request.local
        ):
            return Pick.anywhere(NO_COOKIE)
        return super().pick(request)

    def new_session(
        self, token: str, draw: Callable[[Sequence[Endpoint]], Endpoint]
    ) -> EnvoySession:
        """The cookie Envoy sets for a visitor without one: ``token`` stands for the 16 hex
        digits it makes from the connection."""
        value = f"{xxhash.xxh64_intdigest(token.encode()):016x}"
        chosen = self.predictor.pick(Request(cookies={self.cookie_name: value}))
        return EnvoySession(self.cookie_name, value, chosen or draw(self.endpoints))


@dataclass(frozen=True)
class EnvoySessionUpstream(PinnedByCookie):
    """``sessionPersistence`` (Envoy's stateful session): the cookie names the ``ip:port``
    that answered; without it (or naming a pod gone) least request picks."""

    endpoints: tuple[Endpoint, ...]
    cookie_name: str
    ttl: int | None = None
    #: A visitor without a cookie gets least request's pick (about uniform).
    new_visitors: ClassVar[str] = AT_RANDOM

    def pick(self, request: Request) -> Pick:
        value = cookie_value(view(request, append_peer=False).values("cookie"), self.cookie_name)
        if not value:
            return Pick.anywhere(NO_SESSION)
        found = pinned(value, self.endpoints)
        if found is None:
            return Pick.anywhere("the session cookie names no listed pod: least request picks")
        return Pick.to(found)

    def new_session(
        self, token: str, draw: Callable[[Sequence[Endpoint]], Endpoint]
    ) -> EnvoySession:
        """The cookie a visitor without one gets: the pod ``draw`` picks, by address."""
        endpoint = draw(self.endpoints)
        return EnvoySession(self.cookie_name, encode(endpoint), endpoint)
