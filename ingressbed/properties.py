"""Properties of a ``mix`` step's traffic, computed from its observations (pure, no I/O).

``Properties(balancing, routes, traffic, model).figure(kind)`` gives a ``Figure``: the
value, the counts behind it (for binomial bounds), and, where the placement model has
an exact figure for the same traffic, that figure too. ``model`` is the data plane's
translation of the candidate on the endpoints the mix met (``ingressbed.model.Model``, built
once per run by the judge), ``model_after`` the same on the page route's endpoints after
one pod more. A property that could not be measured has ``value`` None and ``detail``
saying what was missing; the judge fails it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from ingressbed import measure
from ingressbed.balancing import Balancing
from ingressbed.expectations import Kind
from ingressbed.model import Model
from ingressbed.placement import Request
from ingressbed.placement.upstream import Pick, canonical
from ingressbed.traffic import HTTP_ROUTES, PAGE_ROUTE
from ingressbed.vocabulary import Endpoint, Observation, Placement, Pod

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
        self,
        balancing: Balancing,
        routes: Mapping[str, int],
        seen: Traffic,
        model: Model | None = None,
        model_after: Model | None = None,
    ) -> None:
        self.balancing = balancing
        self.routes = dict(routes)
        self.seen = seen
        self.placement = balancing.placement
        self.model = model
        self.model_after = model_after if seen.scaled_endpoints is not None else None

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
            pick = self.model.predict(o).exact
            if pick is not None:
                predicted[name_of.get(pick.address, str(pick))] += 1
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
        if not self.seen.scaled:
            return None
        key = self._scale_key()
        before = {key(o): before_model.predict(o).exact for o in measure.answered(self.seen.first)}
        after = {key(o): after_model.predict(o).exact for o in measure.answered(self.seen.scaled)}
        common = before.keys() & after.keys()
        placed = {k: v for k, v in after.items() if v is not None}
        if not common or any(before[k] is None or k not in placed for k in common):
            return None
        old = {canonical(e.address) for e in self.seen.endpoints[self.routes[PAGE_ROUTE]]}
        moved = [k for k in common if before[k] != placed[k]]
        elsewhere = [k for k in moved if canonical(placed[k].address) in old]
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
    def _judged(self) -> tuple[list[Observation], Callable[[Observation], Pick]] | None:
        """The answers the model claims to place, and its pick for each (None: it claims
        none under this placement).

        Under cookie affinity it claims the requests that carried a cookie (a first visit
        is a random pick by design); otherwise every answer of the mix. Within those, an
        answer it cannot place counts against the agreement.
        """
        before = self.model
        if before is None:
            return None
        after = self.model_after or before
        seen = self.seen
        if self.placement in (Placement.HASH, Placement.SUBSET):
            return (
                [*seen.visits, *seen.first, *seen.second, *seen.scaled],
                lambda o: (after if o.step == SCALED else before).predict(o),
            )
        if self.balancing.uses_cookie:
            name = self.balancing.cookie_name

            def with_cookie(o: Observation) -> Pick:
                value = seen.cookies.get((o.client, o.route))
                cookies = {name: value} if value is not None else {}
                return (after if o.step == SCALED else before).predict(o, cookies)

            carried = [o for o in seen.all() if o.step in (WITH_COOKIE, SCALED)]
            return carried, with_cookie
        return None

    def model_agreement(self) -> Figure:
        judged = self._judged()
        if judged is None:
            return Figure(None, detail=f"the model predicts no pick under {self.placement}")
        observations, predict = judged
        result = measure.agreement(observations, predict)
        example = ""
        if result.mismatches:
            o, predicted = result.mismatches[0]
            example = f"; e.g. {o.client} {o.host}{o.key} on {o.pod_ip}:{o.port}, model {predicted}"
        detail = f"{result.agree} of {result.total} picks as predicted{example}"
        if result.unpredictable:
            detail += (
                f"; {result.unpredictable} the model cannot predict "
                f"({result.unpredictable_example}), each counted against"
            )
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
