"""Properties of a ``mix`` step's traffic, computed from its observations (pure, no I/O).

``Properties(balancing, plane, routes, traffic).figure(kind)`` gives a ``Figure``: the
value, the counts behind it (for binomial bounds), and, where the placement model has
an exact figure for the same traffic, that figure too. A property that could not be
measured has ``value`` None and ``detail`` saying what was missing; the judge fails it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from ingressbed import measure
from ingressbed.balancing import Balancing
from ingressbed.expectations import Kind, Placement
from ingressbed.model import Model
from ingressbed.placement import BALANCED, KeyExpr, Request, SubsetRing, predict_cookie
from ingressbed.traffic import HTTP_ROUTES, PAGE_ROUTE
from ingressbed.vocabulary import Endpoint, Observation, Pod

#: ``Observation.step`` of requests that carried an affinity cookie / ran after scaling.
WITH_COOKIE = "with-cookie"
SCALED = "scaled"


@dataclass(frozen=True)
class Figure:
    """An observed property.

    value   the figure (None: not measured, ``detail`` says what was missing)
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
class Traffic:
    """Everything one mix observed, and the bed as it was."""

    endpoints: dict[int, list[Endpoint]]  # per Service port, before scaling
    pod_ips: dict[str, str]  # pod name -> address, before scaling
    visits: list[Observation]  # client visits (HTTP and WebSocket)
    first: list[Observation]  # page pass 1
    second: list[Observation]  # page pass 2, other visitors
    scaled: list[Observation]  # the replay after one pod more (empty: not measured)
    added: list[str]  # pods added by scaling
    scaled_endpoints: list[Endpoint] | None  # the page route's endpoints after scaling
    cookies: dict[tuple[str, str], str]  # (client, route) -> affinity cookie value
    pods: tuple[Pod, ...] = ()  # the pods before the mix, as the backend reported them
    visits_per_route: int = 3  # client visits on each HTTP route
    requests: int = 0
    seconds: float = 0.0

    def all(self) -> list[Observation]:
        """Every observation of the mix, in sending order."""
        return [*self.visits, *self.first, *self.second, *self.scaled]


def _share(
    count: int, n: int, detail: str, missing: str, groups: Mapping[str, int] | None = None
) -> Figure:
    """A share figure; with no trials, value None and ``missing`` as the detail."""
    if not n:
        return Figure(None, detail=missing)
    trials = tuple(sorted(groups.items())) if groups else (("all", n),)
    return Figure(count / n, count, trials, detail=detail)


class Properties:
    """Computes each property of one mix."""

    def __init__(
        self, balancing: Balancing, plane: str, routes: Mapping[str, int], seen: Traffic
    ) -> None:
        self.balancing = balancing
        self.plane = plane
        self.routes = dict(routes)
        self.seen = seen
        self.placement = balancing.placement
        hash_by = balancing.hash_by
        self.model = Model(plane, seen.endpoints, hash_by) if hash_by else None
        self.model_after = None
        if hash_by and seen.scaled_endpoints is not None:
            port = self.routes[PAGE_ROUTE]
            self.model_after = Model(plane, {port: seen.scaled_endpoints}, hash_by)

    def figure(self, kind: Kind) -> Figure:
        """The figure of property ``kind``."""
        compute: Callable[[], Figure] = getattr(self, str(kind))
        return compute()

    # ------------------------------------------------------------- affinity
    def client_stickiness(self) -> Figure:
        http = [o for o in self.seen.visits if o.route in HTTP_ROUTES]
        table = measure.placement(http, measure.by_client_and_route)
        sticky = sum(1 for pods in table.values() if len(pods) == 1)
        pairs = {(o.client, o.route) for o in measure.answered(http)}
        per_route = Counter(route for _, route in pairs)
        detail = f"{sticky} of {len(table)} (client, route) pairs stayed on one pod"
        return _share(sticky, len(table), detail, "no pod answered a client visit", per_route)

    def cross_port(self) -> Figure:
        result = measure.stickiness(self.seen.visits, lambda o: o.client)
        detail = f"{result.sticky} of {result.keys} clients on one pod on every route"
        return _share(result.sticky, result.keys, detail, "no pod answered a client visit")

    def url_stickiness(self) -> Figure:
        result = measure.stickiness([*self.seen.first, *self.seen.second], measure.by_url)
        detail = f"{result.sticky} of {result.keys} URLs"
        return _share(result.sticky, result.keys, detail, "no pod answered a page visit")

    def cache_hit_ratio(self) -> Figure:
        # Only pages whose first visit missed count: a warm cache would fake a hit.
        cold = {(o.host, o.key) for o in self.seen.first if o.cache_status == "MISS"}
        statuses = [
            o.cache_status for o in self.seen.second if o.cache_status and (o.host, o.key) in cold
        ]
        hits = statuses.count("HIT")
        detail = f"{hits} HIT of {len(statuses)} second visits"
        warm = len({(o.host, o.key) for o in self.seen.first}) - len(cold)
        detail += f"; {warm} page(s) left out: first visit not a MISS" if warm else ""
        missing = "no X-Cache-Status: MISS on a first visit and X-Cache-Status on its second"
        return _share(hits, len(statuses), detail, missing)

    # --------------------------------------------------------------- spread
    @functools.cached_property
    def _spread(self) -> tuple[measure.Spread, measure.Spread | None]:
        pods = list(self.seen.pod_ips)
        observed = measure.spread(self.seen.first, pods)
        if self.model is None or self.placement != Placement.HASH:
            return observed, None
        name_of = {ip: name for name, ip in self.seen.pod_ips.items()}
        predicted: Counter[str] = Counter(dict.fromkeys(pods, 0))
        for o in measure.answered(self.seen.first):
            pick = self.model.predict(o)
            if pick is not None:
                predicted[name_of.get(Endpoint.parse(pick).address, pick)] += 1
        return observed, measure.Spread(dict(predicted))

    def _loads(self, spread: measure.Spread) -> dict[str, int]:
        return {self.seen.pod_ips.get(name, name): count for name, count in spread.counts.items()}

    def spread_max_mean(self) -> Figure:
        observed, predicted = self._spread
        if not observed.total:
            return Figure(None, detail="no pod answered a page visit")
        busiest, pods = max(observed.counts.values()), len(observed.counts)
        detail = f"busiest pod {busiest} requests, mean {observed.total / pods:.1f} on {pods} pods"
        model = predicted.max_mean if predicted else None
        return Figure(observed.max_mean, model=model, loads=self._loads(observed), detail=detail)

    def spread_cv(self) -> Figure:
        observed, predicted = self._spread
        if not observed.total:
            return Figure(None, detail="no pod answered a page visit")
        detail = f"{observed.total} page requests on {observed.pods_used} pods"
        model = predicted.cv if predicted else None
        return Figure(observed.cv, model=model, loads=self._loads(observed), detail=detail)

    # ---------------------------------------------------------------- scale
    def _scale_key(self) -> Callable[[Observation], Hashable]:
        if self.placement == Placement.HASH and self.model is not None:
            model = self.model
            return lambda o: model.key(Request(client_ip=o.client, host=o.host, request_uri=o.key))
        if self.balancing.uses_cookie:
            return measure.by_client_and_route
        return measure.by_url

    @functools.cached_property
    def _moved(self) -> tuple[int, int, int] | None:
        if not self.seen.scaled:
            return None
        key = self._scale_key()
        before_obs = self.seen.visits if self.balancing.uses_cookie else self.seen.first
        before = measure.assignment(before_obs, key)
        after = measure.assignment(self.seen.scaled, key)
        common = before.keys() & after.keys()
        moved = [k for k in common if before[k] != after[k]]
        elsewhere = [k for k in moved if after[k] not in self.seen.added]
        return len(common), len(moved), len(elsewhere)

    @functools.cached_property
    def _moved_model(self) -> tuple[float, float] | None:
        """(moved, moved to an old pod) as shares, as the model predicts for the same keys."""
        before_model, after_model = self.model, self.model_after
        if self.placement != Placement.HASH or before_model is None or after_model is None:
            return None
        if not self.seen.scaled or self.seen.scaled_endpoints is None:
            return None
        key = self._scale_key()
        before = {key(o): before_model.predict(o) for o in measure.answered(self.seen.first)}
        after = {key(o): after_model.predict(o) for o in measure.answered(self.seen.scaled)}
        common = before.keys() & after.keys()
        if not common or any(before[k] is None or after[k] is None for k in common):
            return None
        old = {e.address for e in self.seen.endpoints[self.routes[PAGE_ROUTE]]}
        address = {k: Endpoint.parse(str(v)).address for k, v in after.items() if v}
        moved = [k for k in common if before[k] != after[k]]
        elsewhere = [k for k in moved if address[k] in old]
        return len(moved) / len(common), len(elsewhere) / len(common)

    def moved_on_scale(self) -> Figure:
        counts = self._moved
        if counts is None:
            return Figure(None, detail="not measured: the backend cannot scale")
        keys, moved, _ = counts
        figure = _share(moved, keys, f"{moved} of {keys} keys moved", "no key answered twice")
        model = self._moved_model
        return dataclasses.replace(figure, model=model[0]) if model else figure

    def moved_elsewhere(self) -> Figure:
        counts = self._moved
        if counts is None:
            return Figure(None, detail="not measured: the backend cannot scale")
        keys, moved, elsewhere = counts
        detail = f"{elsewhere} of {keys} keys moved to an old pod ({moved} moved in all)"
        figure = _share(elsewhere, keys, detail, "no key answered twice")
        model = self._moved_model
        return dataclasses.replace(figure, model=model[1]) if model else figure

    # ---------------------------------------------------------------- model
    def _predictor(self) -> Callable[[Observation], str | None] | None:
        if self.placement == Placement.HASH and self.model is not None:
            before, after = self.model, self.model_after or self.model
            return lambda o: (after if o.step == SCALED else before).predict(o)
        if self.placement == Placement.SUBSET:
            return self._subset_predictor()
        if self.placement == Placement.COOKIE_BALANCED:
            return self._cookie_predictor()
        return None

    def _subset_predictor(self) -> Callable[[Observation], str | None]:
        size = self.balancing.subset_size or 3
        rings = {p: SubsetRing.build(eps, size) for p, eps in self.seen.endpoints.items()}
        key = KeyExpr(self.balancing.hash_by or "", flavor=self.plane)

        def inside(o: Observation) -> str | None:
            group = rings[o.port].lookup(key.evaluate(Request(o.client, o.host, o.key)))
            seen = f"{o.pod_ip}:{o.port}"
            return seen if seen in {str(e) for e in group} else " ".join(map(str, group))

        return inside

    def _cookie_predictor(self) -> Callable[[Observation], str | None]:
        def pick(o: Observation) -> str | None:
            cookie = self.seen.cookies.get((o.client, o.route))
            if o.step not in (WITH_COOKIE, SCALED) or cookie is None:
                return None
            eps = self.seen.scaled_endpoints if o.step == SCALED else self.seen.endpoints[o.port]
            chosen = predict_cookie(BALANCED, eps or [], cookie)
            return None if chosen is None else str(chosen)

        return pick

    def model_agreement(self) -> Figure:
        predict = self._predictor()
        if predict is None:
            return Figure(None, detail=f"the model predicts no pick under {self.placement}")
        seen = self.seen
        result = measure.agreement([*seen.visits, *seen.first, *seen.second, *seen.scaled], predict)
        example = ""
        if result.mismatches:
            o, predicted = result.mismatches[0]
            example = f"; e.g. {o.client} {o.host}{o.key} on {o.pod_ip}:{o.port}, model {predicted}"
        detail = f"{result.agree} of {result.total} picks as predicted{example}"
        return _share(result.agree, result.total, detail, "no pod answered a predicted request")

    # ------------------------------------------------------- slow pods, upstream
    def slow_pod_share(self) -> Figure:
        slow = {p.name: p.slow_ms for p in self.seen.pods if p.slow_ms > 0}
        if not slow:
            return Figure(None, detail="no pod of the bed is slowed down (Pod.slow_ms)")
        pages = measure.answered([*self.seen.first, *self.seen.second])
        hits = sum(1 for o in pages if o.pod in slow)
        shown = ", ".join(f"{name} +{ms} ms" for name, ms in sorted(slow.items()))
        detail = f"{hits} of {len(pages)} page requests on the slow pod(s) {shown}"
        return _share(hits, len(pages), detail, "no pod answered a page visit")

    def one_upstream(self) -> Figure:
        pod_ips = {p.ip for p in self.seen.pods} | set(self.seen.pod_ips.values())
        if not self.seen.endpoints:
            return Figure(None, detail="no balancer peers were read")
        good = 0
        shown = []
        for port, peers in sorted(self.seen.endpoints.items()):
            addresses = sorted({e.address for e in peers})
            good += len(addresses) == 1 and addresses[0] not in pod_ips
            shown.append(f"{port}: {', '.join(map(str, peers)) or 'no peer'}")
        detail = f"peers per port: {'; '.join(shown)}"
        return _share(good, len(self.seen.endpoints), detail, "no balancer peers were read")
