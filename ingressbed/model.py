"""The placement model applied to a bed's endpoints: which pod each request should get (pure).

``Model(plane, endpoints, hash_by)`` snapshots the balancer's peers per Service port
(in the balancer's order) and answers, for an observation, the endpoint the data plane
``plane`` picks for a candidate with ``upstream-hash-by: hash_by``, translated as that
plane translates it (``ingressbed.translation``: ``nginx:ip-hash`` ignores the key,
``haproxy`` hashes the source address with ``balance source`` ...). ``Model.of(bed, ...)``
takes the snapshot from a running backend.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

from ingressbed.backends.base import Backend
from ingressbed.placement import Request, hash_key
from ingressbed.translation import IP_HASH, PlaneBalance, Upstream
from ingressbed.vocabulary import Endpoint, Flavor, Observation, flavor_of


class Model:
    """Predicts picks for observations with the placement model of a backend's data plane.

    Endpoints are snapshotted per port at construction, in the balancer's order, so a
    prediction describes the bed as it was when the traffic ran.
    """

    def __init__(
        self,
        plane: str,
        endpoints: Mapping[int, Sequence[Endpoint]],
        hash_by: str,
        *,
        controller_version: str | None = None,
    ) -> None:
        self.plane = str(plane)
        self.flavor = flavor_of(self.plane)
        self.hash_by = hash_by
        self.controller_version = controller_version
        self.balance = PlaneBalance.for_key(
            self.plane, hash_by, controller_version=controller_version
        )
        self.endpoints = {port: list(eps) for port, eps in endpoints.items()}
        self._upstreams: dict[int, Upstream] = {
            port: self.balance.upstream(eps) for port, eps in self.endpoints.items() if eps
        }

    @classmethod
    def of(cls, bed: Backend, ports: Iterable[int], hash_by: str) -> Model:
        return cls(bed.data_plane, {p: bed.endpoints(p) for p in set(ports)}, hash_by)

    def key(self, request: Request) -> bytes:
        """What decides the pod of ``request`` (what "the same key" means on scale): the
        candidate's key, or the client address where the data plane reads only that."""
        if self.balance.method == IP_HASH:
            return request.client_ip.encode()
        key_flavor = Flavor.INGRESS_NGINX if self.flavor == Flavor.INGRESS_NGINX else Flavor.NGINX
        return hash_key(
            self.hash_by, request, controller_version=self.controller_version, flavor=key_flavor
        )

    def pick(self, port: int, request: Request) -> Endpoint | None:
        """The endpoint the data plane picks (None: no fixed pick, e.g. round robin on an
        empty key)."""
        return self._upstreams[port].pick(request)

    def predict(self, o: Observation) -> str | None:
        request = Request(client_ip=o.client, host=o.host, request_uri=o.key)
        pick = self.pick(o.port, request)
        return None if pick is None else str(pick)

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
            a, b = self.pick(port_a, request), self.pick(port_b, request)
            same += a is not None and b is not None and a.address == b.address
        return same / samples

    def ring_share(self, port: int, address: str) -> float:
        """Share of fresh keys the upstream for ``port`` gives the pod at ``address``."""
        shares = self._upstreams[port].shares()
        return sum(share for ep, share in shares.items() if ep.address == address)
