"""Expectations against observations: pass or fail, with the evidence (pure).

``judge(scenario, run)`` returns a ``Verdict``; ``Verdict.render()`` is the text the
pytest item fails with and ``ingressbed repro`` prints: each expectation with its
line, ✓ or ✗ and the figures behind it, then the observation table.

Pod expectations group the named steps' answers ``per`` client (the X-Forwarded-For
address, or none), URL (host + path and query) or all together, and count each group's
distinct pods: ``same_pod`` wants 1, ``different_pods`` 2 or more, ``pods_count`` a
number within its bound; the share of groups that comply must reach ``min_share``
(default 1: every group). A request no pod answered fails any pod expectation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from ingressbed import measure
from ingressbed.scenario import table
from ingressbed.scenario.run import Run
from ingressbed.scenario.spec import (
    PER_ALL,
    PER_CLIENT,
    PER_URL,
    CacheExpect,
    Expectation,
    PodsExpect,
    Scenario,
    SpreadExpect,
    StatusExpect,
)
from ingressbed.vocabulary import Observation

_UNITS = {PER_CLIENT: "clients", PER_URL: "URLs", PER_ALL: "groups"}


@dataclass(frozen=True)
class Outcome:
    """One expectation judged: what it asked, whether it held, what was seen."""

    line: int
    asked: str
    ok: bool
    seen: str


def _show(o: Observation) -> str:
    return f"{o.step} {o.client or '-'} {o.host}{o.key} -> {o.status} {o.pod or 'no pod'}"


def _group(per: str, o: Observation) -> Hashable:
    if per == PER_CLIENT:
        return o.client or "(no client)"
    if per == PER_URL:
        return f"{o.host}{o.key}"
    return "all"


def _where(observations: Sequence[Observation]) -> str:
    """``a -> pod-1; b -> pod-1 ×2, pod-2`` for one group."""
    by_step: dict[str, Counter[str]] = defaultdict(Counter)
    for o in observations:
        by_step[o.step][o.pod] += 1
    return "; ".join(
        f"{step} -> "
        + ", ".join(p if n == 1 else f"{p} ×{n}" for p, n in pods.most_common(3))
        + (f", +{len(pods) - 3} more" if len(pods) > 3 else "")
        for step, pods in by_step.items()
    )


def _pods_ok(expectation: PodsExpect, count: int) -> bool:
    if expectation.kind == "same_pod":
        return count == 1
    if expectation.kind == "different_pods":
        return count >= 2
    assert expectation.bound is not None
    return expectation.bound.holds(count)


def _want(expectation: PodsExpect) -> str:
    if expectation.kind == "same_pod":
        return "on one pod"
    if expectation.kind == "different_pods":
        return "on 2 or more pods"
    return f"with pods {expectation.bound}"


def judge_pods(e: PodsExpect, run: Run) -> Outcome:
    asked = f"{e.kind} {', '.join(e.steps)}"
    asked += f" ({_want(e)}" + (f", per {e.per}" if e.per != PER_ALL else "")
    asked += f", in {e.min_share:.0%} of {_UNITS[e.per]})" if e.min_share < 1 else ")"
    observations = run.of(e.steps)
    lost = [o for o in observations if not o.pod]
    if lost:
        seen = f"{len(lost)} of {len(observations)} requests got no pod, e.g. {_show(lost[0])}"
        return Outcome(e.line, asked, False, seen)
    groups: dict[Hashable, list[Observation]] = defaultdict(list)
    for o in observations:
        groups[_group(e.per, o)].append(o)
    bad = {k: g for k, g in groups.items() if not _pods_ok(e, len({o.pod for o in g}))}
    good = len(groups) - len(bad)
    ok = bool(groups) and good >= e.min_share * len(groups) - 1e-9
    if len(groups) == 1:
        ((key, group),) = groups.items()
        count = len({o.pod for o in group})
        prefix = f"{key}: " if e.per != PER_ALL else ""
        return Outcome(e.line, asked, ok, f"{prefix}{count} pod(s): {_where(group)}")
    seen = f"{good} of {len(groups)} {_UNITS[e.per]} {_want(e)} ({good / len(groups):.0%})"
    examples = list(bad.items())[:3]
    if examples and not ok:
        seen += "; not: " + " | ".join(f"{k}: {_where(g)}" for k, g in examples)
    return Outcome(e.line, asked, ok, seen)


def judge_cache(e: CacheExpect, run: Run) -> Outcome:
    observations = run.of(e.steps)
    statuses = [o.cache_status or "(none)" for o in observations]
    tally = table.counts(statuses, 4) if statuses else "no answers"
    if e.mode == "last":
        asked = f"cache_status of the last answer of {', '.join(e.steps)} is {e.status}"
        if not observations:
            return Outcome(e.line, asked, False, "no answers")
        last = observations[-1]
        seen = f"{statuses[-1]} ({_show(last)})"
        return Outcome(e.line, asked, statuses[-1] == e.status, seen)
    if e.mode == "every":
        asked = f"cache_status of every answer of {', '.join(e.steps)} is {e.status}"
        ok = bool(statuses) and all(s == e.status for s in statuses)
        return Outcome(e.line, asked, ok, tally)
    assert e.bound is not None
    asked = f"cache_status {e.status} ratio of {', '.join(e.steps)} {e.bound}"
    ratio = statuses.count(e.status) / len(statuses) if statuses else 0.0
    ok = bool(statuses) and e.bound.holds(ratio)
    return Outcome(e.line, asked, ok, f"{e.status} ratio {ratio:.3f}: {tally}")


def judge_status(e: StatusExpect, run: Run) -> Outcome:
    codes = " or ".join(map(str, e.codes))
    asked = f"status {codes} for every answer of {', '.join(e.steps)}"
    observations = run.of(e.steps)
    bad = [o for o in observations if o.status not in e.codes]
    seen = table.counts((str(o.status) for o in observations), 4) or "no answers"
    if bad:
        seen += f"; e.g. {_show(bad[0])}" + (f" ({bad[0].error})" if bad[0].error else "")
    return Outcome(e.line, asked, bool(observations) and not bad, seen)


def judge_spread(e: SpreadExpect, run: Run) -> Outcome:
    asked = f"spread of {', '.join(e.steps)}: busiest pod / mean {e.max_mean}"
    load = measure.spread(run.of(e.steps), run.pods)
    counts = ", ".join(f"{n}" for _, n in sorted(load.counts.items(), key=lambda kv: -kv[1]))
    seen = f"max/mean {load.max_mean:.2f} over {len(load.counts)} pods (loads {counts})"
    return Outcome(e.line, asked, load.total > 0 and e.max_mean.holds(load.max_mean), seen)


def judge_one(expectation: Expectation, run: Run) -> Outcome:
    if isinstance(expectation, PodsExpect):
        return judge_pods(expectation, run)
    if isinstance(expectation, CacheExpect):
        return judge_cache(expectation, run)
    if isinstance(expectation, StatusExpect):
        return judge_status(expectation, run)
    return judge_spread(expectation, run)


@dataclass(frozen=True)
class Verdict:
    """Every expectation of a scenario judged on one run."""

    scenario: Scenario
    run: Run
    outcomes: tuple[Outcome, ...]
    backend: str = ""

    @property
    def passed(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def render(self) -> str:
        """The readable verdict: header, expectations, observation table, result."""
        s = self.scenario
        lines = [
            f"scenario: {s.title}",
            f"  file {s.path}" + (f", {self.backend}" if self.backend else ""),
        ]
        lines += [f"  note: {note}" for note in s.notes]
        lines.append("expectations:")
        for o in self.outcomes:
            lines.append(f"  {'✓' if o.ok else '✗'} line {o.line}: {o.asked}")
            lines.append(f"      seen: {o.seen}")
        lines.append(
            f"observations ({len(self.run.observations)} requests, {{run}} = {self.run.token}):"
        )
        lines.append(table.render(s, self.run.observations))
        if self.passed:
            lines.append(f"PASS: {len(self.outcomes)} expectations hold")
        else:
            where = ", ".join(f"{s.path}:{o.line}" for o in self.failed)
            lines.append(
                f"FAIL: {len(self.failed)} of {len(self.outcomes)} expectations failed ({where})"
            )
        return "\n".join(lines)


def judge(scenario: Scenario, run: Run, backend: str = "") -> Verdict:
    """Judge every expectation of ``scenario`` on ``run``; ``backend`` is shown in the header."""
    return Verdict(scenario, run, tuple(judge_one(e, run) for e in scenario.expect), backend)
