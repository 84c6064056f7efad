"""The envoy flavor: which host Envoy, configured as Envoy Gateway configures it, picks
for a request (pure, no I/O).

An ``EnvoyPredictor`` holds one route and its cluster: the hosts, the load balancer
(``maglev``, Envoy Gateway's only consistent hash; ``ring-hash`` for Contour and Istio),
the route's hash policies and the listener's client-address settings. ``pick`` answers
the host, or None where Envoy picks at random (no policy yielded a value).

Typical use::

    from ingressbed.placement.envoy import EnvoyPredictor
    from ingressbed.placement.envoy_client import ClientDetection
    from ingressbed.placement.envoy_policy import HashPolicy

    envoy = EnvoyPredictor(endpoints, policies=[HashPolicy("source-ip")],
                           client=ClientDetection(trusted_hops=1))
    envoy.pick(Request(client_ip="10.232.41.102"))

See docs/placement.md, "Envoy".
"""

from __future__ import annotations

from collections.abc import Sequence

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_maglev import DEFAULT_TABLE_SIZE, MaglevTable
from ingressbed.placement.envoy_policy import HashPolicy, request_hash
from ingressbed.placement.envoy_request import view
from ingressbed.placement.envoy_ringhash import DEFAULT_MIN_RING_SIZE, HashRing
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

#: The load balancers, as ``--lb`` spells them.
LOAD_BALANCERS: tuple[str, ...] = ("maglev", "ring-hash")
#: What ``ingressbed predict`` prints where Envoy picks at random.
RANDOM = "random"


class EnvoyPredictor:
    """One Envoy route with a consistent-hash cluster."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        lb: str = "maglev",
        table_size: int = DEFAULT_TABLE_SIZE,
        min_ring_size: int = DEFAULT_MIN_RING_SIZE,
        policies: Sequence[HashPolicy] = (),
        client: ClientDetection | None = None,
        weights: Sequence[int] | None = None,
    ) -> None:
        """Build the table or ring.

        Args:
            endpoints: the cluster's hosts (any order for Maglev, which sorts them; EDS
                order for ring hash, which keeps it).
            lb: ``maglev`` or ``ring-hash``.
            table_size: Maglev's table size (prime; Envoy Gateway's default 65537).
            min_ring_size: ring hash's minimum ring size (Envoy's default 1024).
            policies: the route's hash policies, in route order.
            client: the client-address settings (default: Envoy Gateway's, the TCP peer).
            weights: per endpoint its weight (default 1 each, as Envoy Gateway sets).

        Raises:
            ConfigError: an unknown load balancer, no policy, bad endpoints or sizes.
        """
        if lb not in LOAD_BALANCERS:
            raise ConfigError(f"load balancer {lb!r} is not one of {', '.join(LOAD_BALANCERS)}")
        if not policies:
            raise ConfigError(
                "give at least one hash policy (source-ip, header:NAME, cookie:NAME, "
                "query:NAME): without one Envoy does not hash"
            )
        self.lb = lb
        self.endpoints: tuple[Endpoint, ...] = tuple(endpoints)
        self.policies: tuple[HashPolicy, ...] = tuple(policies)
        self.client = client or ClientDetection()
        self.balancer: MaglevTable | HashRing
        if lb == "maglev":
            self.balancer = MaglevTable(endpoints, size=table_size, weights=weights)
        else:
            self.balancer = HashRing(endpoints, min_ring_size=min_ring_size, weights=weights)

    def hash(self, request: Request) -> int | None:
        """The 64-bit request hash Envoy computes.

        Args:
            request: the request (``peer`` and ``header_lines`` matter here).

        Returns:
            The hash, or None where no policy yields a value.

        Raises:
            ConfigError: a request Envoy never forwards, or one lacking what the answer
                depends on (the TCP peer for ``source-ip`` by default).
        """
        seen = view(request, append_peer=self.client.mode == "tcp-peer")
        return request_hash(self.policies, seen, self.client)

    def pick(self, request: Request) -> Endpoint | None:
        """The host Envoy sends ``request`` to.

        Args:
            request: the request.

        Returns:
            The host, or None where Envoy picks one at random for each request.

        Raises:
            ConfigError: as ``hash``.
        """
        value = self.hash(request)
        return None if value is None else self.balancer.lookup(value)

    def shares(self) -> dict[Endpoint, float]:
        """The exact share of the hash space each host owns.

        Returns:
            Maglev: slots / table size; ring hash: the arcs each host owns / 2^64.
        """
        return self.balancer.shares()

    def entries_per_host(self) -> dict[Endpoint, int]:
        """Slots (Maglev) or ring entries (ring hash) per host, as Envoy's gauges count.

        Returns:
            Every host with its count.
        """
        return self.balancer.entries_per_host()
