"""Assertions for e2e tests: a thin Python face on the one expectation language and judge.

Each helper builds the expectation value a scenario file would (``ingressbed.expectations``),
has ``ingressbed.judge`` judge it on the given observations, and raises ``AssertionError``
with the verdict (what was asked, what was seen or what was missing) when it does not
hold, so a failure in nightly CI explains itself. No evidence never passes.

    expect.all_answered(observations)
    expect.sticky(observations)                 # per (client, route); per="url", "host"...
    expect.agrees(expect.model(bed, ports, key), observations)  # every pick as the model's
    expect.cache_status(observations, every="HIT")
    expect.within(count, n, p, "what")          # exact binomial bounds
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import replace

from ingressbed import judge_answers as answers
from ingressbed import judge_figures as checks
from ingressbed.backends.base import Backend
from ingressbed.evidence import Evidence
from ingressbed.expectations import (
    DEFAULT_SIGMAS,
    AnsweredExpect,
    Bound,
    CacheExpect,
    Kind,
    Per,
    PicksExpect,
    PodsExpect,
    PropertyExpect,
)
from ingressbed.judge import judge
from ingressbed.model import Model
from ingressbed.properties import Figure
from ingressbed.verdict import Verdict
from ingressbed.vocabulary import Observation

__all__ = [
    "Model",
    "agrees",
    "all_answered",
    "cache_status",
    "model",
    "moved_only_to",
    "sticky",
    "verdict",
    "within",
]

#: The step name the helpers give the observations they judge.
STEP = "observations"


def verdict(v: Verdict) -> Verdict:
    """Raise ``AssertionError`` with the verdict's evidence unless it passed; return it."""
    if not v.passed:
        raise AssertionError(v.message())
    return v


def _evidence(observations: Iterable[Observation]) -> Evidence:
    return Evidence(tuple(replace(o, step=STEP) for o in observations))


def all_answered(observations: Iterable[Observation]) -> Verdict:
    """Every request was answered by a pod with a success status."""
    return verdict(judge(AnsweredExpect(steps=(STEP,)), _evidence(observations)))


def sticky(observations: Iterable[Observation], per: Per | str = Per.CLIENT_ROUTE) -> Verdict:
    """Every group (``per`` (client, route) by default; ``url``, ``host``, ``client``)
    always landed on the same pod."""
    expectation = PodsExpect(kind=Kind.SAME_POD, steps=(STEP,), per=Per(per))
    return verdict(judge(expectation, _evidence(observations)))


def cache_status(observations: Iterable[Observation], *, every: str) -> Verdict:
    """Every answer carried ``X-Cache-Status: every`` (none carrying it fails)."""
    e = CacheExpect(steps=(STEP,), status=every, mode="every")
    return verdict(judge(e, _evidence(observations)))


def within(count: int, n: int, p: float, what: str, sigmas: float = 4.0) -> Verdict:
    """``count`` of ``n`` is inside the exact binomial bounds around ``p``."""
    return verdict(checks.count_within(count, n, p, sigmas, what))


def model(bed: Backend, ports: Iterable[int], hash_by: str | None) -> Model:
    """The placement model of ``bed``'s data plane for ``upstream-hash-by: hash_by``, on the
    endpoints ``bed`` serves on ``ports`` now (in its balancer's order)."""
    return Model.for_key(bed.data_plane, {p: bed.endpoints(p) for p in set(ports)}, hash_by)


def agrees(model: Model, observations: Iterable[Observation]) -> Verdict:
    """Every observed pick equals the placement model's prediction."""
    listed = list(observations)
    return verdict(answers.picks(PicksExpect(steps=(STEP,)), listed, {STEP: model}))


def moved_only_to(
    before: Mapping[Hashable, str],
    after: Mapping[Hashable, str],
    allowed: Callable[[str, str], bool],
    what: str,
) -> int:
    """Every key that changed pod did so in an allowed way; returns how many moved."""
    common = before.keys() & after.keys()
    moved = [(k, before[k], after[k]) for k in common if before[k] != after[k]]
    wrong = [(k, a, b) for k, a, b in moved if not allowed(a, b)]
    examples = "; ".join(f"{k}: {a} -> {b}" for k, a, b in wrong[:5])
    detail = f"{len(wrong)} of {len(common)} keys moved in a way {what} forbids"
    figure = Figure(
        len(wrong) / len(common) if common else None,
        len(wrong),
        (("all", len(common)),),
        detail=detail + (f", e.g. {examples}" if wrong else "") if common else "no key seen twice",
    )
    e = PropertyExpect(
        kind=Kind.MOVED_ELSEWHERE, why=what, bound=Bound(equals=0.0), sigmas=DEFAULT_SIGMAS
    )
    verdict(checks.check(e, figure, None))
    return len(moved)
