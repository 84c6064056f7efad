"""Judging a measured property against its catalog expectation (pure, no I/O).

``odds(...)`` asks the placement model what the candidate's figures should be on the
endpoints the bed actually had: the chance of a fresh pick per pod, the chance one key
lands on the same pod on every port, the new pod's ring share. ``verdict(...)`` turns
an expectation, the observed ``Figure`` and those odds into a ``PropertyResult``; the
same result feeds the assertion and the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ingressbed.catalog import Candidate, Expectation
from ingressbed.placement import Ring, SubsetRing
from ingressbed.report.results import PropertyResult
from ingressbed.stats import binomial_bounds
from ingressbed.vocabulary import Endpoint

_SPACE = 1 << 32
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Figure:
    """An observed property.

    value   the figure (None: not measured, ``detail`` says why)
    count   successes, for share properties
    trials  trials per group (e.g. per route); a binomial bound is summed over groups
    model   the placement model's figure for the same traffic, where it has one
    loads   requests per pod address (spread properties)
    """

    value: float | None
    count: int | None = None
    trials: tuple[tuple[str, int], ...] = ()
    model: float | None = None
    loads: Mapping[str, int] = field(default_factory=dict)
    detail: str = ""

    @property
    def n(self) -> int:
        return sum(n for _, n in self.trials)


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
        if prop == "client_stickiness":
            return {r: _same(self.fresh[r], self.visits) for r in self.http_routes}
        if prop == "cross_port":
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


def odds(
    candidate: Candidate,
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
        candidate: the catalog entry.
        plane: ``"nginx"`` or ``"ingress-nginx"`` (the ring flavor).
        routes: route path -> Service port.
        endpoints: Service port -> endpoints in the balancer's order.
        visits: visits per client on each HTTP route.
        http_routes: the routes clients visit over HTTP (the rest get one WebSocket).
        page_route: the route of the page traffic.
        scaled: the page route's endpoints after one pod was added, if it was.
    """
    placement = candidate.placement
    flavor = plane
    fresh: dict[str, dict[str, float]] = {}
    revisit: float | None = None
    for route, port in routes.items():
        eps = endpoints[port]
        if placement in ("hash", "cookie-balanced"):
            fresh[route] = _by_address(Ring.build(flavor, eps).shares())
        elif placement == "subset":
            fresh[route], route_revisit = _subset_fresh(eps, candidate.subset_size or 3)
            revisit = route_revisit if route == page_route else revisit
        else:
            addresses = list(dict.fromkeys(e.address for e in eps))
            fresh[route] = {a: 1 / len(addresses) for a in addresses}
    sticky_per_route = placement.startswith("cookie")
    draws = {r: 1 if sticky_per_route or r not in http_routes else visits for r in routes}
    same_key = None
    if placement == "hash":
        ports = list(dict.fromkeys(routes.values()))
        same_key = same_pod_all_rings([Ring.build(flavor, endpoints[p]) for p in ports])
    new_share = None
    if scaled is not None and placement in ("hash", "cookie-balanced"):
        before = set(endpoints[routes[page_route]])
        added = [e for e in scaled if e not in before]
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


def _quantity(expectation: Expectation, prop: str, odds: Odds) -> dict[str, float]:
    name = expectation.quantity
    if name == "repeat":
        return odds.repeat(prop)
    value = {
        "same_key_routes": odds.same_key_routes,
        "new_pod_share": odds.new_pod_share,
        "subset_revisit": odds.subset_revisit,
    }.get(name or "")
    if value is None:
        raise ValueError(f"the model gave no {name!r} for {prop}")
    return {"all": value}


def _result(
    prop: str,
    expectation: Expectation,
    figure: Figure,
    expected: str,
    passed: bool | None = None,
    bounds: tuple[float | None, float | None] = (None, None),
    detail: str | None = None,
) -> PropertyResult:
    return PropertyResult(
        name=prop,
        kind=expectation.kind,
        expected=expected,
        why=expectation.why,
        observed=figure.value,
        passed=passed,
        low=bounds[0],
        high=bounds[1],
        detail=figure.detail if detail is None else detail,
    )


def verdict(prop: str, expectation: Expectation, figure: Figure, odds: Odds) -> PropertyResult:
    """Judge ``figure`` of property ``prop`` against ``expectation``.

    Args:
        prop: the property name.
        expectation: its expectation on this data plane.
        figure: what was observed.
        odds: the model's odds on this run's endpoints.

    Returns:
        The property's result: expected text and bounds, observed value, pass/fail.
    """
    kind = expectation.kind
    if kind == "not_applicable" or figure.value is None:
        return _result(prop, expectation, figure, expectation.describe())
    if kind == "not_predicted":
        return _result(prop, expectation, figure, "not predicted")
    value = figure.value
    if kind in ("equals", "at_most", "at_least", "range"):
        low = {"equals": expectation.value, "at_least": expectation.value}.get(kind)
        high = {"equals": expectation.value, "at_most": expectation.value}.get(kind)
        low = expectation.low if kind == "range" else low
        high = expectation.high if kind == "range" else high
        ok = (low is None or value >= low - _TOLERANCE) and (
            high is None or value <= high + _TOLERANCE
        )
        return _result(prop, expectation, figure, expectation.describe(), ok, (low, high))
    if kind == "model":
        assert figure.model is not None, f"{prop}: no model figure to compare with"
        ok = math.isclose(value, figure.model, abs_tol=_TOLERANCE)
        expected = f"= {figure.model:.3f} (model)"
        return _result(prop, expectation, figure, expected, ok, (figure.model, figure.model))
    if kind == "binomial":
        return _binomial(prop, expectation, figure, odds)
    return _pod_bounds(prop, expectation, figure, odds)


def _binomial(prop: str, expectation: Expectation, figure: Figure, odds: Odds) -> PropertyResult:
    chances = _quantity(expectation, prop, odds)
    groups = dict(figure.trials)
    if len(chances) == 1 and len(groups) > 1:
        chances = dict.fromkeys(groups, next(iter(chances.values())))
    low = high = 0
    for group, n in groups.items():
        lo, hi = binomial_bounds(n, chances[group], expectation.sigmas)
        low, high = low + lo, high + hi
    n = figure.n
    assert figure.count is not None and n, f"{prop}: a binomial bound needs a count of trials"
    mean_p = sum(chances[g] * n_g for g, n_g in groups.items()) / n
    text = f"{low / n:.3f} .. {high / n:.3f} (p={mean_p:.4g}, n={n}, {expectation.sigmas:g}σ)"
    ok = low <= figure.count <= high
    return _result(prop, expectation, figure, text, ok, (low / n, high / n))


def _pod_bounds(prop: str, expectation: Expectation, figure: Figure, odds: Odds) -> PropertyResult:
    chances = odds.fresh[odds.page_route]
    total = sum(figure.loads.values())
    mean = total / len(chances)
    bounds = {a: binomial_bounds(total, p, expectation.sigmas) for a, p in chances.items()}
    outside = [
        f"{a}: {figure.loads.get(a, 0)} not in {lo}..{hi}"
        for a, (lo, hi) in bounds.items()
        if not lo <= figure.loads.get(a, 0) <= hi
    ]
    if prop == "spread_max_mean":
        low = max(lo for lo, _ in bounds.values()) / mean
        high = max(hi for _, hi in bounds.values()) / mean
    else:
        near = [
            0.0 if lo <= mean <= hi else min(abs(lo - mean), abs(hi - mean))
            for lo, hi in bounds.values()
        ]
        far = [max(abs(lo - mean), abs(hi - mean)) for lo, hi in bounds.values()]
        low = math.sqrt(sum(d * d for d in near) / len(near)) / mean
        high = math.sqrt(sum(d * d for d in far) / len(far)) / mean
    detail = "; ".join([figure.detail, *outside[:3]]) if outside else figure.detail
    expected = f"{low:.3f} .. {high:.3f} (every pod {expectation.sigmas:g}σ)"
    return _result(prop, expectation, figure, expected, not outside, (low, high), detail)
