"""The placement model applied to a bed's endpoints: where each request should go (pure).

``Model(balance, endpoints)`` snapshots the balancer's peers per Service port (in the
balancer's order) and answers, for an observation, the ``Pick`` of the data plane's
translation ``balance`` (``ingressbed.planes``: ``nginx:ip-hash`` ignores the key,
``haproxy`` hashes the source address with ``balance source``, ingress-nginx's subsets give
a group ...). ``Model.of(plane, setup, endpoints)`` translates a setup; ``Model.for_key``
a bare ``upstream-hash-by`` key. It knows no backend and no expectation language: the
judge and the e2e helpers hand it what a bed reported.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from ingressbed import planes
from ingressbed.placement import Request
from ingressbed.placement.upstream import Pick, Upstream, canonical
from ingressbed.planes import Balance
from ingressbed.vocabulary import DataPlane, Endpoint, Observation, Setup


class Model:
    """Predicts picks for observations with one data plane's translation of a candidate.

    Endpoints are snapshotted per port at construction, in the balancer's order, so a
    prediction describes the bed as it was when the traffic ran. Each port's upstream is
    built once.
    """

    def __init__(self, balance: Balance, endpoints: Mapping[int, Sequence[Endpoint]]) -> None:
        self.balance = balance
        self.plane: DataPlane = balance.plane
        self.hash_by = balance.hash_by
        self.endpoints = {port: tuple(eps) for port, eps in endpoints.items()}
        self._upstreams: dict[int, Upstream] = {
            port: balance.upstream(eps) for port, eps in self.endpoints.items() if eps
        }

    @classmethod
    def of(
        cls,
        plane: str,
        setup: Setup,
        endpoints: Mapping[int, Sequence[Endpoint]],
        *,
        controller_version: str | None = None,
    ) -> Model:
        """The model of ``plane``'s translation of ``setup``.

        Raises:
            ConfigError: a setup the plane cannot express.
        """
        balance = planes.translate(plane, setup, controller_version=controller_version)
        return cls(balance, endpoints)

    @classmethod
    def for_key(
        cls,
        plane: str,
        endpoints: Mapping[int, Sequence[Endpoint]],
        hash_by: str | None,
        *,
        controller_version: str | None = None,
    ) -> Model:
        """The model of ``upstream-hash-by: hash_by`` (None: no key) on ``plane``.

        Raises:
            ConfigError: a key the plane cannot hash on.
        """
        balance = planes.plane(plane).for_key(hash_by, controller_version=controller_version)
        return cls(balance, endpoints)

    def upstream(self, port: int) -> Upstream:
        """The upstream of Service ``port`` (KeyError: the bed had no endpoints there)."""
        return self._upstreams[port]

    def key(self, request: Request) -> bytes:
        """What decides the pod of ``request`` (what "the same key" means on scale): the
        candidate's key, or the client address where the data plane reads only that."""
        return self.balance.key(request)

    def pick(self, port: int, request: Request) -> Pick:
        """Where the data plane sends ``request`` on Service ``port``."""
        upstream = self._upstreams.get(port)
        if upstream is None:
            return Pick.anywhere(f"no endpoints on port {port}")
        return upstream.pick(request)

    def predict(self, o: Observation, cookies: Mapping[str, str] | None = None) -> Pick:
        """The pick for the request behind observation ``o`` (sent with ``cookies``)."""
        request = Request(client_ip=o.client, host=o.host, request_uri=o.key, cookies=cookies or {})
        return self.pick(o.port, request)

    def _random_clients(self, samples: int, seed: int) -> list[Request]:
        rng = random.Random(seed)
        return [
            Request(client_ip=".".join(str(rng.randrange(1, 255)) for _ in range(4)))
            for _ in range(samples)
        ]

    def share_same(self, port_a: int, port_b: int, samples: int = 20000, seed: int = 7) -> float:
        """Probability that a random client gets the same pod address on both ports."""
        same = 0
        for request in self._random_clients(samples, seed):
            a, b = self.pick(port_a, request).exact, self.pick(port_b, request).exact
            same += a is not None and b is not None and a.address == b.address
        return same / samples

    def ring_share(self, port: int, address: str) -> float:
        """Share of fresh keys the upstream for ``port`` gives the pod at ``address``."""
        shares = self._upstreams[port].shares()
        wanted = canonical(address)
        return sum(share for ep, share in shares.items() if canonical(ep.address) == wanted)
