"""Analysing a configuration without a cluster: spread, remapping, cross-port affinity.

Keys come from synthetic requests, each with a random IPv4 client address and a random
URL (``/item/<n>``) on one host; the data plane's translation of the key decides which of
the two counts. Every pick comes from the plane's upstreams (an ``UpstreamMaker``: a
``Balance`` of ``ingressbed.planes``). Everything is deterministic for a given seed.

Figures:

* spread: keys per endpoint, share, max/mean and coefficient of variation (population
  standard deviation over mean), both for the sampled keys and for each endpoint's share
  of fresh keys as the upstream gives it (exact where the plane has an exact figure);
* moved: the share of keys whose endpoint changes when one endpoint is added (a fresh
  address after the last one) or removed (the last in the list);
* cross-port: the share of requests that reach the same pod address on two ports
  (rings of the same addresses with different ports), per pair and on all ports.

Requests the data plane gives no fixed endpoint (nginx's round robin on an empty key, a
subset group, a missing header) are counted apart and left out of the other figures.
"""

from __future__ import annotations

import ipaddress
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.placement.upstream import Upstream, UpstreamMaker
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

#: Host of the synthetic requests.
SAMPLE_HOST = "hellogo.example.test"


#: Most synthetic pods: the analysis builds three rings of them (now, one more, one less).
MAX_PODS = 10_000
#: Most synthetic keys: each is a request and its key, held in memory.
MAX_KEYS = 1_000_000


def synthetic_endpoints(pods: int, port: int = 8080) -> list[Endpoint]:
    """Endpoints on pod-network-like addresses 10.244.0.2, 10.244.0.3, ...

    Args:
        pods: how many.
        port: their port.

    Returns:
        The endpoints.

    Raises:
        ConfigError: fewer than one pod, or more than ``MAX_PODS``.
    """
    if pods < 1:
        raise ConfigError(f"--pods must be at least 1, not {pods}")
    if pods > MAX_PODS:
        raise ConfigError(
            f"--pods must be at most {MAX_PODS}, not {pods}: the rings of that many "
            "endpoints take minutes and gigabytes to build"
        )
    first = int(ipaddress.IPv4Address("10.244.0.2"))
    return [Endpoint(str(ipaddress.IPv4Address(first + i)), port) for i in range(pods)]


def check_key_count(count: int) -> None:
    """Refuse a number of synthetic keys below 1 or above ``MAX_KEYS``.

    Raises:
        ConfigError: one line with the bound and why.
    """
    if count < 1:
        raise ConfigError(f"the number of keys must be at least 1, not {count}")
    if count > MAX_KEYS:
        raise ConfigError(
            f"the number of keys must be at most {MAX_KEYS}, not {count}: each key holds "
            f"about 0.3 KB of memory, and {MAX_KEYS} already pin every share to within 0.002"
        )


def sample_requests(count: int, seed: int) -> list[Request]:
    """Synthetic requests with random IPv4 clients and random URLs.

    Args:
        count: how many.
        seed: random seed; the same seed gives the same requests.

    Returns:
        Requests on host ``SAMPLE_HOST`` with ``/item/<n>`` targets.

    Raises:
        ConfigError: a count below 1 or above ``MAX_KEYS``.
    """
    check_key_count(count)
    rng = random.Random(seed)
    return [
        Request(
            client_ip=str(ipaddress.IPv4Address(rng.getrandbits(32))),
            host=SAMPLE_HOST,
            request_uri=f"/item/{rng.getrandbits(40)}",
        )
        for _ in range(count)
    ]


@dataclass(frozen=True)
class Spread:
    """How keys spread over endpoints."""

    counts: dict[str, int]
    shares: dict[str, float]
    ring_shares: dict[str, float]
    max_over_mean: float
    cv: float
    ring_max_over_mean: float
    ring_cv: float
    round_robin: int


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyze`` computes; ``to_dict`` gives the JSON form."""

    flavor: str
    hash_by: str
    keys: int
    seed: int
    endpoints: list[str]
    spread: Spread
    added: str
    moved_on_add: float
    removed: str | None
    moved_on_remove: float | None
    ports: list[int]
    same_pod_pairs: dict[str, float]
    same_pod_all_ports: float | None

    def to_dict(self) -> dict[str, Any]:
        """The analysis as plain data.

        Returns:
            Nested dicts, lists and numbers, ready for ``json.dumps``.
        """
        return asdict(self)


def _ratio_stats(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    if mean == 0:
        return 0.0, 0.0
    return max(values) / mean, statistics.pstdev(values) / mean


def picks(upstream: Upstream, requests: Sequence[Request]) -> list[Endpoint | None]:
    """The upstream's exact pick per request; None where it has no fixed endpoint."""
    return [upstream.pick(request).exact for request in requests]


def spread(upstream: Upstream, requests: Sequence[Request]) -> Spread:
    """Spread of ``requests`` over ``upstream``'s endpoints.

    Returns:
        Counts and shares per endpoint (by ``ADDRESS:PORT``) and the summary ratios;
        ``round_robin`` counts the requests without a fixed endpoint.
    """
    chosen = picks(upstream, requests)
    counts = dict.fromkeys(dict.fromkeys(upstream.endpoints), 0)
    for endpoint in chosen:
        if endpoint is not None:
            counts[endpoint] += 1
    placed = sum(counts.values())
    exact = upstream.shares()
    max_mean, cv = _ratio_stats(list(counts.values()))
    ring_max_mean, ring_cv = _ratio_stats([exact.get(e, 0.0) for e in counts])
    return Spread(
        counts={str(e): n for e, n in counts.items()},
        shares={str(e): (n / placed if placed else 0.0) for e, n in counts.items()},
        ring_shares={str(e): exact.get(e, 0.0) for e in counts},
        max_over_mean=max_mean,
        cv=cv,
        ring_max_over_mean=ring_max_mean,
        ring_cv=ring_cv,
        round_robin=len(requests) - placed,
    )


def moved_share(
    maker: UpstreamMaker,
    before: Sequence[Endpoint],
    after: Sequence[Endpoint],
    requests: Sequence[Request],
) -> float:
    """Share of requests whose endpoint differs between two endpoint lists.

    Requests either list gives no fixed endpoint are left out.

    Raises:
        ConfigError: an empty list.
    """
    old = picks(maker.upstream(before), requests)
    new = picks(maker.upstream(after), requests)
    pairs = [(a, b) for a, b in zip(old, new, strict=True) if a is not None and b is not None]
    return sum(a != b for a, b in pairs) / len(pairs) if pairs else 0.0


def same_pod_across_ports(
    maker: UpstreamMaker,
    addresses: Sequence[str],
    ports: Sequence[int],
    requests: Sequence[Request],
) -> tuple[dict[str, float], float | None]:
    """How often one request reaches the same pod address on different ports.

    Args:
        maker: the data plane's translation (one upstream per port over ``addresses``).
        addresses: pod addresses.
        ports: the Service ports.
        requests: the requests (each sent to every port).

    Returns:
        Share per port pair (``"8080,9090"``) and the share landing on one pod on every
        port (``None`` with fewer than two ports).

    Raises:
        ConfigError: no addresses, or a port given twice.
    """
    for port in ports:
        if ports.count(port) > 1:
            raise ConfigError(f"port {port} is listed twice; list each port once")
    by_port = {
        port: picks(maker.upstream([Endpoint(a, port) for a in addresses]), requests)
        for port in ports
    }
    rows = [
        [pick.address if pick else None for pick in column]
        for column in zip(*by_port.values(), strict=True)
    ]
    rows = [row for row in rows if None not in row]
    if len(ports) < 2 or not rows:
        return {}, None
    pairs = {
        f"{ports[i]},{ports[j]}": sum(row[i] == row[j] for row in rows) / len(rows)
        for i, j in combinations(range(len(ports)), 2)
    }
    return pairs, sum(len(set(row)) == 1 for row in rows) / len(rows)


def _fresh_endpoint(endpoints: Sequence[Endpoint]) -> Endpoint:
    # The address after the last endpoint's (of the same IP version), skipping taken ones.
    taken = {e.address for e in endpoints}
    try:
        candidate = ipaddress.ip_address(endpoints[-1].address) + 1
    except ValueError:  # a host name: start from a private address
        candidate = ipaddress.ip_address("10.255.0.1")
    while str(candidate) in taken:
        candidate += 1
    return Endpoint(str(candidate), endpoints[-1].port)


def analyze(
    maker: UpstreamMaker,
    endpoints: Sequence[Endpoint],
    *,
    plane: str,
    hash_by: str,
    keys: int = 10_000,
    seed: int = 1,
    ports: Sequence[int] = (),
    progress: Callable[[str], None] | None = None,
) -> Analysis:
    """Spread, remapping on scale and cross-port affinity of one configuration.

    Args:
        maker: the data plane's translation of the key (``plane(...).for_key(hash_by)``).
        endpoints: the endpoints (one Service port).
        plane: the data plane's name, for the output.
        hash_by: the key expression, for the output.
        keys: how many synthetic requests.
        seed: random seed for the requests.
        ports: Service ports for the cross-port figure (addresses taken from
            ``endpoints``); fewer than two skips it.
        progress: called with what starts next (``"step 2 of 5: ..."``), for long runs.

    Returns:
        The analysis.

    Raises:
        ConfigError: bad endpoints, expression or counts.
    """
    unique = list(dict.fromkeys(endpoints))
    if not unique:
        raise ConfigError("no endpoints: give --pods N or --endpoints A:P,...")
    fresh = _fresh_endpoint(unique)
    removed = unique[-1] if len(unique) > 1 else None
    addresses = list(dict.fromkeys(e.address for e in unique))
    stages = [
        f"making {keys:,} requests",
        f"the picks of {len(unique):,} endpoints",
        f"the picks with {fresh} added",
        *([f"the picks without {removed}"] if removed is not None else []),
        *([f"one upstream per port ({len(ports)} ports)"] if len(ports) > 1 else []),
    ]

    def stage(number: int) -> None:
        if progress is not None:
            progress(f"step {number} of {len(stages)}: {stages[number - 1]}")

    check_key_count(keys)  # before any long work
    stage(1)
    requests = sample_requests(keys, seed)
    stage(2)
    spread_of = spread(maker.upstream(unique), requests)
    stage(3)
    moved_on_add = moved_share(maker, unique, [*unique, fresh], requests)
    moved_on_remove = None
    if removed is not None:
        stage(4)
        moved_on_remove = moved_share(maker, unique, unique[:-1], requests)
    if len(ports) > 1:
        stage(len(stages))
    pairs, all_ports = same_pod_across_ports(maker, addresses, ports, requests)
    return Analysis(
        flavor=plane,
        hash_by=hash_by,
        keys=keys,
        seed=seed,
        endpoints=[str(e) for e in unique],
        spread=spread_of,
        added=str(fresh),
        moved_on_add=moved_on_add,
        removed=None if removed is None else str(removed),
        moved_on_remove=moved_on_remove,
        ports=list(ports),
        same_pod_pairs=pairs,
        same_pod_all_ports=all_ports,
    )
