"""What changes between two runs of the catalog, found in the data and said in plain words.

Pure: two ``Report`` values in (the baseline, usually ingress-nginx, and the data plane a
team moves to), a list of ``Change`` out, each with its sentence. A figure changes
*materially* when it moves by at least the property's threshold (``THRESHOLDS``) and lands
outside the bounds the baseline's own verdict accepted; anything smaller is run-to-run
noise (other pod addresses, other sampled clients) and is not reported. An expectation
that held on the baseline and fails on the other plane is always reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ingressbed.report import results
from ingressbed.report.results import MEASURED, CandidateResult, PropertyResult, Report

#: Change kinds.
RISES, FALLS, NOW_FAILS, NOW_HOLDS, NOT_COMPARED, NO_EQUIVALENT = (
    "rises",
    "falls",
    "now fails",
    "now holds",
    "not compared",
    "no equivalent",
)

#: Smallest difference of a figure that counts as a change (shares are 0..1).
DEFAULT_THRESHOLD = 0.10
THRESHOLDS: dict[str, float] = {
    "client_stickiness": 0.10,
    "cross_port": 0.10,
    "url_stickiness": 0.10,
    "cache_hit_ratio": 0.10,
    "moved_on_scale": 0.10,
    "moved_elsewhere": 0.10,
    "spread_max_mean": 0.25,
    "spread_cv": 0.10,
    "model_agreement": 0.05,
    "slow_pod_share": 0.05,
    "one_upstream": 0.50,
}

#: Per property: how to name it in a sentence, what a rise means, what a fall means.
MEANINGS: dict[str, tuple[str, str, str]] = {
    "cross_port": (
        "cross-port affinity",
        "one client now stays on one pod across 8080, 9090 and WebSocket",
        "one client's 8080, 9090 and WebSocket traffic now lands on different pods",
    ),
    "client_stickiness": (
        "client stickiness",
        "a client's repeat visits on one route now land on the same pod",
        "a client's repeat visits on one route now spread over pods (state held in a pod is "
        "not found again)",
    ),
    "url_stickiness": (
        "URL stickiness",
        "every visit of a page now goes to the same pod",
        "visits of one page now spread over pods",
    ),
    "cache_hit_ratio": (
        "cache hit ratio",
        "a page cached by a pod is now found there on its next visit",
        "per-pod caches now miss more: a page's next visit often lands on a pod that has "
        "not cached it",
    ),
    "spread_max_mean": (
        "busiest pod over the mean",
        "the busiest pod now carries more beyond its share",
        "the load is now spread more evenly",
    ),
    "spread_cv": (
        "load variation (CV)",
        "pods now carry more uneven loads",
        "pods now carry more even loads",
    ),
    "moved_on_scale": (
        "share of keys moved by one more pod",
        "scaling up now moves more clients or pages to another pod (their caches and "
        "sessions start over)",
        "scaling up now moves fewer clients or pages",
    ),
    "moved_elsewhere": (
        "share of keys moved between old pods on scale-up",
        "adding a pod now also reshuffles keys among the pods that were there",
        "adding a pod now moves keys only onto the new pod",
    ),
    "model_agreement": (
        "agreement with the placement model",
        "the placement model now predicts more of the picks",
        "the placement model no longer predicts the picks",
    ),
    "slow_pod_share": (
        "slow pod's share of requests",
        "the slow pod now gets more requests (latency no longer steers the balancer)",
        "the slow pod now gets fewer requests",
    ),
    "one_upstream": (
        "share of routes balanced through the Service",
        "routes now go through the Service's address (kube-proxy balances)",
        "routes now go to the pods directly",
    ),
}


@dataclass(frozen=True)
class Change:
    """One difference between the baseline column and another, for one candidate.

    ``property`` is empty for ``not compared`` (the candidate was measured on one side
    only) and ``no equivalent`` (the other plane's controller has nothing like it).
    ``before``/``after`` are the figures, ``before_passed``/``after_passed`` the verdicts,
    ``expected`` the expectation on the other plane; ``text`` the sentence.
    """

    column: str
    candidate: str
    kind: str
    text: str
    property: str = ""
    before: float | None = None
    after: float | None = None
    before_passed: bool | None = None
    after_passed: bool | None = None
    expected: str = ""


def threshold(name: str) -> float:
    """The smallest difference of property ``name`` reported as a change."""
    return THRESHOLDS.get(name, DEFAULT_THRESHOLD)


def _within(value: float, low: float | None, high: float | None) -> bool:
    """Whether ``value`` lies inside the bounds (False when there are none)."""
    if low is None and high is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def material(before: PropertyResult, after: PropertyResult) -> bool:
    """Whether ``after``'s figure differs from ``before``'s by more than noise.

    At least the property's threshold apart, and outside the bounds the baseline's verdict
    accepted (what the baseline itself would have taken for the same behaviour).
    """
    if before.observed is None or after.observed is None:
        return False
    if abs(after.observed - before.observed) < threshold(before.name):
        return False
    return not _within(after.observed, before.low, before.high)


def _noun(name: str, title: str) -> str:
    return MEANINGS[name][0] if name in MEANINGS else title


def _figure(value: float | None) -> str:
    return "nothing measured" if value is None else f"{value:.2f}"


def _value_sentence(candidate: str, noun: str, before: float, after: float, name: str) -> str:
    rising = after > before
    meaning = ""
    if name in MEANINGS:
        meaning = MEANINGS[name][1] if rising else MEANINGS[name][2]
    verb = "rises" if rising else "falls"
    text = f"{candidate}: {noun} {verb} from {before:.2f} to {after:.2f}"
    return f"{text}: {meaning}." if meaning else f"{text}."


def _compare_property(
    column: str,
    baseline_label: str,
    candidate: str,
    title: str,
    before: PropertyResult,
    after: PropertyResult,
) -> Change | None:
    noun = _noun(before.name, title)
    changed = material(before, after)
    flipped = before.passed is True and after.passed is False
    mended = before.passed is False and after.passed is True
    if not (changed or flipped or mended):
        return None
    base = Change(
        column=column,
        candidate=candidate,
        kind="",
        text="",
        property=before.name,
        before=before.observed,
        after=after.observed,
        before_passed=before.passed,
        after_passed=after.passed,
        expected=after.expected,
    )
    if changed and before.observed is not None and after.observed is not None:
        text = _value_sentence(candidate, noun, before.observed, after.observed, before.name)
        kind = RISES if after.observed > before.observed else FALLS
        if flipped:
            kind = NOW_FAILS
            text += (
                f" It held its expectation on {baseline_label} and fails it on {column} "
                f"(expected {after.expected})."
            )
        return replace(base, kind=kind, text=text)
    if flipped:
        seen = _figure(after.observed)
        if after.observed is None and after.detail:
            seen = after.detail
        text = (
            f"{candidate}: {noun} held on {baseline_label} ({_figure(before.observed)}) and "
            f"fails on {column}: expected {after.expected}, observed {seen}."
        )
        return replace(base, kind=NOW_FAILS, text=text)
    text = (
        f"{candidate}: {noun} was not as expected on {baseline_label} "
        f"({_figure(before.observed)}) and is on {column} ({_figure(after.observed)}, "
        f"expected {after.expected})."
    )
    return replace(base, kind=NOW_HOLDS, text=text)


def _not_compared(
    column: str, baseline_label: str, before: CandidateResult, after: CandidateResult | None
) -> Change | None:
    if before.status != MEASURED:
        return None
    if after is None:
        text = f"{before.id}: measured on {baseline_label}, not in {column}'s catalog."
    elif after.status == results.NO_EQUIVALENT:
        text = f"{before.id}: measured on {baseline_label}; {after.reason or 'no equivalent'}."
        return Change(column=column, candidate=before.id, kind=NO_EQUIVALENT, text=text)
    elif after.status != MEASURED:
        reason = after.reason or "no reason given"
        text = f"{before.id}: measured on {baseline_label}, {after.status} on {column}: {reason}."
    else:
        return None
    return Change(column=column, candidate=before.id, kind=NOT_COMPARED, text=text)


def compare(baseline: Report, baseline_label: str, other: Report, column: str) -> list[Change]:
    """Every material difference of ``other`` (column ``column``) from ``baseline``.

    Candidates in the baseline's order; within one, properties in the baseline report's
    order. A candidate measured on the baseline only is a ``not compared`` change.
    """
    titles = {name: title for name, title, _ in baseline.properties}
    theirs = {c.id: c for c in other.candidates}
    out: list[Change] = []
    for before in baseline.candidates:
        after = theirs.get(before.id)
        missing = _not_compared(column, baseline_label, before, after)
        if missing is not None:
            out.append(missing)
            continue
        if after is None or before.status != MEASURED:
            continue
        for mine in before.properties:
            counterpart = after.property(mine.name)
            if counterpart is None:
                continue
            change = _compare_property(
                column,
                baseline_label,
                before.id,
                titles.get(mine.name, mine.name),
                mine,
                counterpart,
            )
            if change is not None:
                out.append(change)
    return out
