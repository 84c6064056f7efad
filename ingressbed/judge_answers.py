"""Expectations on the answers of named steps: pods, cache status, status, spread, picks.

Pure: observations in, a ``Verdict`` out. Pod expectations group answers ``per``
client, URL, host, (client, route) or all together and count each group's distinct
pods (``measure.placement``: the one way "same pod" is computed). No answer, no pod,
no ``X-Cache-Status`` or no prediction means a failing verdict saying so.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence

from ingressbed import measure
from ingressbed.expectations import (
    AnsweredExpect,
    CacheExpect,
    Kind,
    Per,
    PicksExpect,
    PodsExpect,
    SpreadExpect,
    StatusExpect,
)
from ingressbed.model import Model
from ingressbed.placement.upstream import Pick
from ingressbed.verdict import Verdict
from ingressbed.vocabulary import Observation

_UNITS = {
    Per.CLIENT: "clients",
    Per.URL: "URLs",
    Per.HOST: "hosts",
    Per.CLIENT_ROUTE: "(client, route) pairs",
    Per.ALL: "groups",
}
Expect = PodsExpect | CacheExpect | StatusExpect | AnsweredExpect | SpreadExpect | PicksExpect


def show(o: Observation) -> str:
    """One answer on one line: step, client, request, status, pod, cache, error."""
    where = f"{o.pod}@{o.pod_ip}:{o.port}" if o.pod else "no pod"
    extra = f" cache={o.cache_status}" if o.cache_status else ""
    error = f" error={o.error}" if o.error else ""
    step = f"{o.step} " if o.step else ""
    return f"{step}{o.client or '-'} {o.host}{o.key} -> {o.status} {where}{extra}{error}"


def _verdict(
    e: Expect, asked: str, passed: bool, seen: str, observed: float | None = None
) -> Verdict:
    return Verdict(str(e.kind), asked, passed, seen, e.why, e.line, observed)


def _nothing(e: Expect, asked: str, what: str) -> Verdict:
    return _verdict(e, asked, False, f"nothing to judge: {what}")


def _steps(e: Expect) -> str:
    return ", ".join(e.steps) or "(no step)"


def group_key(per: Per) -> Callable[[Observation], Hashable]:
    """The grouping of ``per``."""
    if per == Per.CLIENT:
        return lambda o: o.client or "(no client)"
    if per == Per.URL:
        return lambda o: f"{o.host}{o.key}"
    if per == Per.HOST:
        return lambda o: o.host
    if per == Per.CLIENT_ROUTE:
        return lambda o: (o.client or "(no client)", o.route)
    return lambda o: "all"


def _where(observations: Sequence[Observation]) -> str:
    """``a -> pod-1; b -> pod-1 ×2, pod-2`` for one group."""
    by_step: dict[str, Counter[str]] = defaultdict(Counter)
    for o in observations:
        by_step[o.route or o.step or "-"][o.pod] += 1
    return "; ".join(
        f"{step} -> "
        + ", ".join(p if n == 1 else f"{p} ×{n}" for p, n in pods.most_common(3))
        + (f", +{len(pods) - 3} more" if len(pods) > 3 else "")
        for step, pods in by_step.items()
    )


def _pods_ok(e: PodsExpect, count: int) -> bool:
    if e.kind == Kind.SAME_POD:
        return count == 1
    if e.kind == Kind.DIFFERENT_PODS:
        return count >= 2
    return e.bound is not None and e.bound.holds(count)


def _want(e: PodsExpect) -> str:
    if e.kind == Kind.SAME_POD:
        return "on one pod"
    if e.kind == Kind.DIFFERENT_PODS:
        return "on 2 or more pods"
    return f"with pods {e.bound}"


def pods(e: PodsExpect, observations: Sequence[Observation]) -> Verdict:
    """``same_pod``, ``different_pods``, ``pods_count``."""
    asked = f"{e.kind} {_steps(e)} ({_want(e)}" + (f", per {e.per}" if e.per != Per.ALL else "")
    asked += f", in {e.min_share:.0%} of {_UNITS[e.per]})" if e.min_share < 1 else ")"
    if not observations:
        return _nothing(e, asked, f"no answers from {_steps(e)}")
    lost = [o for o in observations if not o.pod]
    if lost:
        seen = f"{len(lost)} of {len(observations)} requests got no pod, e.g. {show(lost[0])}"
        return _verdict(e, asked, False, seen)
    key = group_key(e.per)
    groups: dict[Hashable, list[Observation]] = defaultdict(list)
    for o in observations:
        groups[key(o)].append(o)
    table = measure.placement(observations, key)
    bad = {k: groups[k] for k, counted in table.items() if not _pods_ok(e, len(counted))}
    good = len(groups) - len(bad)
    share = good / len(groups)
    ok = good >= e.min_share * len(groups) - 1e-9
    if len(groups) == 1:
        ((name, group),) = groups.items()
        prefix = f"{name}: " if e.per != Per.ALL else ""
        seen = f"{prefix}{len(table[name])} pod(s): {_where(group)}"
        return _verdict(e, asked, ok, seen, share)
    seen = f"{good} of {len(groups)} {_UNITS[e.per]} {_want(e)} ({share:.1%})"
    examples = list(bad.items())[:3]
    if examples and not ok:
        seen += "; not: " + " | ".join(f"{k}: {_where(g)}" for k, g in examples)
    return _verdict(e, asked, ok, seen, share)


def _counts(values: Sequence[str], limit: int = 4) -> str:
    counted = Counter(values).most_common()
    shown = ", ".join(f"{v} ×{n}" for v, n in counted[:limit])
    return shown + (f", +{len(counted) - limit} more" if len(counted) > limit else "")


def cache(e: CacheExpect, observations: Sequence[Observation]) -> Verdict:
    """``cache_status``: last, every, or ratio; answers without the header never count."""
    steps = _steps(e)
    if e.mode == "last":
        asked = f"cache_status of the last answer of {steps} is {e.status}"
    elif e.mode == "every":
        asked = f"cache_status of every answer of {steps} is {e.status}"
    else:
        asked = f"cache_status {e.status} ratio of {steps} {e.bound}"
    if not observations:
        return _nothing(e, asked, f"no answers from {steps}")
    statuses = [o.cache_status or "(none)" for o in observations]
    tally = _counts(statuses)
    headed = [o for o in observations if o.cache_status]
    if not headed:
        return _nothing(e, asked, f"no X-Cache-Status on any of {len(observations)} answers")
    if e.mode == "last":
        last = observations[-1]
        if not last.cache_status:
            return _nothing(e, asked, f"no X-Cache-Status on the last answer ({show(last)})")
        return _verdict(e, asked, last.cache_status == e.status, show(last))
    if e.mode == "every":
        ok = all(s == e.status for s in statuses)
        return _verdict(e, asked, ok, tally)
    ratio = statuses.count(e.status) / len(statuses)
    ok = e.bound is not None and e.bound.holds(ratio)
    return _verdict(e, asked, ok, f"{e.status} ratio {ratio:.3f}: {tally}", ratio)


def status(e: StatusExpect, observations: Sequence[Observation]) -> Verdict:
    """``status``: every answer has one of the codes."""
    codes = " or ".join(map(str, e.codes))
    asked = f"status {codes} for every answer of {_steps(e)}"
    if not observations:
        return _nothing(e, asked, f"no answers from {_steps(e)}")
    bad = [o for o in observations if o.status not in e.codes]
    seen = _counts([str(o.status) for o in observations])
    if bad:
        seen += f"; e.g. {show(bad[0])}"
    return _verdict(e, asked, not bad, seen)


def answered(e: AnsweredExpect, observations: Sequence[Observation]) -> Verdict:
    """``answered``: every request got a pod's answer with a success status."""
    asked = f"every request of {_steps(e)} answered by a pod"
    if not observations:
        return _nothing(e, asked, f"no requests in {_steps(e)}")
    bad = [o for o in observations if not o.ok]
    seen = f"{len(observations) - len(bad)} of {len(observations)} answered"
    if bad:
        seen += ", e.g.:\n" + "\n".join(f"      {show(o)}" for o in bad[:5])
    return _verdict(e, asked, not bad, seen)


def spread(
    e: SpreadExpect, observations: Sequence[Observation], pod_names: Sequence[str]
) -> Verdict:
    """``spread``: busiest pod's answers over the mean, over every pod of the bed."""
    asked = f"spread of {_steps(e)}: busiest pod / mean {e.max_mean}"
    load = measure.spread(observations, pod_names)
    if not load.total:
        return _nothing(e, asked, f"no pod answered {_steps(e)}")
    counts = ", ".join(str(n) for _, n in sorted(load.counts.items(), key=lambda kv: -kv[1]))
    seen = f"max/mean {load.max_mean:.2f} over {len(load.counts)} pods (loads {counts})"
    return _verdict(e, asked, e.max_mean.holds(load.max_mean), seen, load.max_mean)


def agreement_seen(result: measure.Agreement) -> str:
    """``40 of 100 picks as predicted; 60 the model cannot predict (round-robin)``."""
    seen = f"{result.agree} of {result.total} picks as predicted"
    if result.unpredictable:
        seen += (
            f"; {result.unpredictable} the model cannot predict "
            f"({result.unpredictable_example}), each counted against"
        )
    return seen


def picks(
    e: PicksExpect, observations: Sequence[Observation], models: Mapping[str, Model | None]
) -> Verdict:
    """``model_picks``: every answer came from the endpoint (or group) the model picks.

    ``models`` holds, per step, the model of what the bed served while the step ran
    (after a live edit: what it served then). An answer the model gives no fixed pick for
    (round robin, a missing key value ...) counts against the expectation, and the verdict
    says how many there were.
    """
    asked = f"model_picks of {_steps(e)} (every pick as the placement model's)"
    known = [m for m in models.values() if m is not None]
    if len(known) < len(models) or not known:
        return _nothing(e, asked, "no placement model: the bed did not say what it served")
    described = dict.fromkeys(m.balance.describe() for m in known)
    asked = f"model_picks of {_steps(e)} (every pick as {'; then '.join(described)})"
    if not observations:
        return _nothing(e, asked, f"no answers from {_steps(e)}")

    def predict(o: Observation) -> Pick:
        model = models.get(o.step) or known[0]
        return model.predict(o)

    result = measure.agreement(observations, predict)
    if not result.total:
        return _nothing(e, asked, f"no pod answered ({len(observations)} sent)")
    seen = agreement_seen(result)
    if result.mismatches:
        seen += ", e.g.:\n" + "\n".join(
            f"      {show(o)} (model: {p})" for o, p in result.mismatches
        )
    return _verdict(e, asked, result.agree == result.total, seen, result.share)
