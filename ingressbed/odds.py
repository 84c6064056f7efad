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
from ingressbed.model import Model
from ingressbed.placement import Ring
from ingressbed.placement.upstream import Upstream
from ingressbed.planes.base import SHARE_SAMPLES, by_address, sample_requests
from ingressbed.vocabulary import Endpoint, Placement

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
        picks = [u.pick(request).exact for u in upstreams]
        same += None not in picks and len({p.address for p in picks if p is not None}) == 1
    return same / SHARE_SAMPLES


def odds(
    balancing: Balancing,
    model: Model,
    routes: Mapping[str, int],
    *,
    visits: int,
    http_routes: Sequence[str],
    page_route: str,
    scaled: Model | None = None,
) -> Odds:
    """The model's odds for the candidate on the bed's endpoints.

    Args:
        balancing: the setup's placement (what stays per route: a cookie, a key).
        model: the data plane's translation on the endpoints the traffic met: its
            upstreams give each pod's share of fresh keys, and the chance picks agree.
        routes: route path -> Service port.
        visits: visits per client on each HTTP route.
        http_routes: the routes clients visit over HTTP (the rest get one WebSocket).
        page_route: the route of the page traffic.
        scaled: the same translation on the page route's endpoints after one pod more.

    Raises:
        KeyError: a route whose port had no endpoints.
    """
    placement = balancing.placement
    fresh = {route: by_address(model.upstream(port).shares()) for route, port in routes.items()}
    page_port = routes[page_route]
    revisit = None
    if placement == Placement.SUBSET:
        revisit = model.upstream(page_port).repeat_chance()
    sticky_per_route = placement in (Placement.COOKIE_BALANCED, Placement.COOKIE_PERSISTENT)
    draws = {r: 1 if sticky_per_route or r not in http_routes else visits for r in routes}
    same_key = None
    if placement == Placement.HASH:
        ports = list(dict.fromkeys(routes.values()))
        same_key = same_pod_all([model.upstream(p) for p in ports])
    new_share = None
    if scaled is not None and placement in (Placement.HASH, Placement.COOKIE_BALANCED):
        before = set(model.endpoints[page_port])
        shares = scaled.upstream(page_port).shares()
        new_share = sum(share for e, share in shares.items() if e not in before)
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
