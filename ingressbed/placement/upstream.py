"""What a data plane does with one request: a ``Pick``, and the ``Upstream`` that makes it.

Every data plane module (``ingressbed.planes``) turns a candidate into ``Upstream`` values,
one per Service port, and every caller that needs a pick (the judge and model, odds,
convergence, access-log analysis, ``predict``, ``analyze``, the fake backend) asks an
``Upstream``. Nothing else turns (plane, key, endpoints) into a pick.

A ``Pick`` is one of three things:

* one endpoint: the request goes there (a hash ring, a cookie that pins a pod);
* a group: the request goes to one of these, drawn at random per request (ingress-nginx's
  subset hashing); an endpoint may appear twice when the group was padded;
* no fixed endpoint (``why`` says which: ``round-robin``, ``random``, ``no cookie yet``...):
  the model cannot say where the request goes, only that any endpoint may get it.

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingressbed.placement.ring import Ring
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

#: ``Pick.why`` for the two ways a data plane balances without a fixed endpoint.
ROUND_ROBIN = "round-robin"
RANDOM = "random"

# How an upstream that pins visitors with a cookie places a visitor without one (its
# ``new_visitors``), for whoever plays the data plane's part (the fake backend):
#: the next endpoint of the round-robin cycle every request shares;
IN_TURN = "in turn"
#: an endpoint drawn at random, per request;
AT_RANDOM = "at random"
#: where the connection's own cookie places it: every cookie-less request on one
#: connection gets the same session.
BY_CONNECTION = "by connection"


def canonical(address: str) -> str:
    """``address`` in one text form (IPv6 compressed, lower case); other text unchanged."""
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return address


@dataclass(frozen=True, slots=True)
class Pick:
    """Where one request goes on one upstream (see the module docstring).

    endpoints  one: the exact pick; several: a group, the member drawn at random; none: no
               fixed endpoint
    why        for no fixed endpoint, the data plane's word for it (``round-robin``,
               ``random``, or a short reason)
    """

    endpoints: tuple[Endpoint, ...] = ()
    why: str = ""

    @staticmethod
    def to(endpoint: Endpoint) -> Pick:
        """The exact pick ``endpoint``."""
        return Pick((endpoint,))

    @staticmethod
    def group(endpoints: Sequence[Endpoint]) -> Pick:
        """A group: the member is drawn at random per request."""
        return Pick(tuple(endpoints))

    @staticmethod
    def anywhere(why: str) -> Pick:
        """No fixed endpoint; ``why`` names the balancing (``round-robin``, ``random``...)."""
        return Pick((), why)

    @property
    def exact(self) -> Endpoint | None:
        """The endpoint when the pick is exactly one, else None."""
        return self.endpoints[0] if len(set(self.endpoints)) == 1 else None

    @property
    def fixed(self) -> bool:
        """Whether the model names the endpoint(s): one, or a group."""
        return bool(self.endpoints)

    def allows(self, address: str, port: int) -> bool:
        """Whether an answer from ``address:port`` is what this pick allows.

        A pick without a fixed endpoint allows nothing: the model did not predict it.
        Addresses compare in canonical form, so ``fd00::0001`` matches ``fd00::1``.
        """
        wanted = canonical(address)
        return any(e.port == port and canonical(e.address) == wanted for e in self.endpoints)

    def addresses(self) -> frozenset[str]:
        """The pod addresses this pick allows (canonical text), empty when not fixed."""
        return frozenset(canonical(e.address) for e in self.endpoints)

    def __str__(self) -> str:
        if not self.endpoints:
            return self.why or RANDOM
        return " ".join(str(e) for e in self.endpoints)


class Upstream(Protocol):
    """One balanced upstream (a Service port) as a data plane holds it."""

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The servers, in the data plane's order."""
        ...

    def pick(self, request: Request) -> Pick:
        """Where ``request`` goes.

        Raises:
            ConfigError: the request lacks what the key reads (e.g. no client address
                where the pick hashes it).
        """
        ...

    def shares(self) -> dict[Endpoint, float]:
        """The chance a fresh key (or a new visitor) lands on each endpoint."""
        ...

    def repeat_chance(self) -> float:
        """The chance two requests with the same fresh key land on the same pod address
        (1.0 where a key has one pod; less for groups and random picks)."""
        ...

    def ring(self) -> Ring[Endpoint] | None:
        """The CRC-32 ring where the pick is one (exact cross-port odds), else None."""
        ...


class UpstreamMaker(Protocol):
    """What builds upstreams for endpoint lists: a data plane's translation of a candidate."""

    def upstream(self, endpoints: Sequence[Endpoint]) -> Upstream:
        """The upstream for ``endpoints`` in the data plane's order.

        Raises:
            ConfigError: no endpoints, or a candidate the model cannot place.
        """
        ...

    def key(self, request: Request) -> bytes:
        """What decides the pod of ``request``: requests with equal keys are "the same key"
        on scale (the hash key as evaluated, or the client address where the data plane
        reads only that)."""
        ...
