"""What the placement model says a run's figures should be (pure, no I/O).

``odds(...)`` asks the model about a setup's placement on the endpoints the bed really
had: the chance of a fresh pick per pod and route, the chance one key lands on the same
pod on every port, the new pod's ring share after scaling, the chance two picks in a
subset agree. ``quantity(...)`` names one of them for a ``binomial`` check
(``ingressbed.expectations.QUANTITIES``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingressbed.balancing import Balancing
from ingressbed.expectations import Kind
from ingressbed.placement import Ring, SubsetRing
from ingressbed.translation import SHARE_SAMPLES, PlaneBalance, Upstream, sample_requests
from ingressbed.vocabulary import Endpoint, flavor_of

_SPACE = 1 << 32


@dataclass(frozen=True)
class Odds:
    """What the placement model says about the candidate on the bed's endpoints.

    fresh      per route, per pod address: the chance a fresh key (or a visitor without
               a cookie) lands there
    draws      per route: independent picks one client makes there (cross_port)
    visits     visits per client on each HTTP route (client_stickiness)
    page_route the route of the page traffic (URL stickiness, cache, spread)
    """

    fresh: Mapping[str, Mapping[str, float]]
    draws: Mapping[str, int]
    visits: int
    page_route: str
    http_routes: tuple[str, ...]
    same_key_routes: float | None = None
    new_pod_share: float | None = None
    subset_revisit: float | None = None

    def repeat(self, prop: str) -> dict[str, float]:
        """The ``repeat`` probability per trial group of ``prop``."""
        if prop == Kind.CLIENT_STICKINESS:
            return {r: _same(self.fresh[r], self.visits) for r in self.http_routes}
        if prop == Kind.CROSS_PORT:
            return {"all": _joint(self.fresh, self.draws)}
        return {"all": _same(self.fresh[self.page_route], 2)}


def _same(dist: Mapping[str, float], draws: int) -> float:
    return sum(p**draws for p in dist.values())


def _joint(fresh: Mapping[str, Mapping[str, float]], draws: Mapping[str, int]) -> float:
    pods = set().union(*(d.keys() for d in fresh.values()))
    return sum(math.prod(fresh[r].get(a, 0.0) ** draws[r] for r in fresh) for a in pods)


def _by_address(shares: Mapping[Endpoint, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for endpoint, share in shares.items():
        out[endpoint.address] = out.get(endpoint.address, 0.0) + share
    return out


def _subset_fresh(endpoints: Sequence[Endpoint], size: int) -> tuple[dict[str, float], float]:
    """Per pod address the chance of a fresh key, and the chance two picks of one key agree."""
    subsets = SubsetRing.build(list(dict.fromkeys(endpoints)), size)
    group_share = subsets.ring.shares()
    fresh: dict[str, float] = {}
    revisit = 0.0
    for name, members in subsets.groups.items():
        weights: dict[str, float] = {}
        for member in members:
            weights[member.address] = weights.get(member.address, 0.0) + 1 / len(members)
        for address, weight in weights.items():
            fresh[address] = fresh.get(address, 0.0) + group_share[name] * weight
        revisit += group_share[name] * sum(w * w for w in weights.values())
    return fresh, revisit


def same_pod_all_rings(rings: Sequence[Ring[Endpoint]]) -> float:
    """Exact share of the 32-bit key-hash space that every ring maps to the same address."""
    if len(rings) < 2:
        return 1.0
    cuts = sorted(set().union(*(ring.points for ring in rings)) | {_SPACE - 1})
    same, previous = 0, -1
    for cut in cuts:
        if len({ring.lookup_hash(cut).address for ring in rings}) == 1:
            same += cut - previous
        previous = cut
    return same / _SPACE


def same_pod_all(upstreams: Sequence[Upstream]) -> float:
    """The chance one request lands on the same pod address on every upstream.

    Exact for CRC-32 rings (``same_pod_all_rings``); otherwise the share of a fixed
    sample of varied requests (``translation.sample_requests``), the same every run.
    """
    rings = [u.ring() for u in upstreams]
    if all(ring is not None for ring in rings):
        return same_pod_all_rings([r for r in rings if r is not None])
    same = 0
    for request in sample_requests(SHARE_SAMPLES):
        picks = [u.pick(request) for u in upstreams]
        same += None not in picks and len({p.address for p in picks if p is not None}) == 1
    return same / SHARE_SAMPLES


def odds(
    balancing: Balancing,
    plane: str,
    routes: Mapping[str, int],
    endpoints: Mapping[int, Sequence[Endpoint]],
    *,
    visits: int,
    http_routes: Sequence[str],
    page_route: str,
    scaled: Sequence[Endpoint] | None = None,
) -> Odds:
    """The model's odds for ``candidate`` on ``plane``'s endpoints.

    Args:
        balancing: the setup's placement.
        plane: the data plane (``ingressbed.vocabulary.DataPlane``): how it translates
            the candidate's key decides the shares.
        routes: route path -> Service port.
        endpoints: Service port -> endpoints in the balancer's order.
        visits: visits per client on each HTTP route.
        http_routes: the routes clients visit over HTTP (the rest get one WebSocket).
        page_route: the route of the page traffic.
        scaled: the page route's endpoints after one pod was added, if it was.
    """
    placement = balancing.placement
    flavor = flavor_of(plane)
    balance = (
        PlaneBalance.for_key(plane, balancing.hash_by)
        if placement == "hash" and balancing.hash_by
        else None
    )
    fresh: dict[str, dict[str, float]] = {}
    revisit: float | None = None
    for route, port in routes.items():
        eps = endpoints[port]
        if balance is not None:
            fresh[route] = _by_address(balance.upstream(eps).shares())
        elif placement == "cookie-balanced":
            fresh[route] = _by_address(Ring.build(flavor, eps).shares())
        elif placement == "subset":
            fresh[route], route_revisit = _subset_fresh(eps, balancing.subset_size or 3)
            revisit = route_revisit if route == page_route else revisit
        else:
            addresses = list(dict.fromkeys(e.address for e in eps))
            fresh[route] = {a: 1 / len(addresses) for a in addresses}
    sticky_per_route = placement.startswith("cookie")
    draws = {r: 1 if sticky_per_route or r not in http_routes else visits for r in routes}
    same_key = None
    if balance is not None:
        ports = list(dict.fromkeys(routes.values()))
        same_key = same_pod_all([balance.upstream(endpoints[p]) for p in ports])
    new_share = None
    if scaled is not None and placement in ("hash", "cookie-balanced"):
        before = set(endpoints[routes[page_route]])
        added = [e for e in scaled if e not in before]
        if balance is not None:
            shares = balance.upstream(scaled).shares()
        else:
            shares = Ring.build(flavor, scaled).shares()
        new_share = sum(shares[e] for e in added)
    return Odds(
        fresh,
        draws,
        visits,
        page_route,
        tuple(http_routes),
        same_key_routes=same_key,
        new_pod_share=new_share,
        subset_revisit=revisit,
    )


def quantity(name: str, prop: str, odds: Odds) -> dict[str, float] | None:
    """Probability ``name`` (a key of ``QUANTITIES``) per trial group of ``prop``.

    None: the model gives no such probability for this placement or run (e.g. nothing
    was scaled, so there is no new pod's share).
    """
    if name == "repeat":
        return odds.repeat(prop)
    value = {
        "same_key_routes": odds.same_key_routes,
        "new_pod_share": odds.new_pod_share,
        "subset_revisit": odds.subset_revisit,
    }.get(name)
    return None if value is None else {"all": value}
