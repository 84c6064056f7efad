"""A measured figure against a check (bounds, binomial, model, per-pod bounds); pure.

Used for every number the bed judges: a property of a ``mix`` step and the figures the
e2e helpers compute (``ingressbed.expect.within``). A figure without a value, a binomial
check without trials, a model check without the model's figure all fail, saying what
was missing.
"""

from __future__ import annotations

import math

from ingressbed.expectations import (
    BOUNDED_CHECKS,
    TOLERANCE,
    Check,
    PropertyExpect,
)
from ingressbed.odds import Odds, quantity
from ingressbed.properties import Figure
from ingressbed.stats import binomial_bounds
from ingressbed.verdict import Verdict


def _verdict(
    e: PropertyExpect,
    figure: Figure,
    asked: str,
    passed: bool,
    low: float | None = None,
    high: float | None = None,
    seen: str | None = None,
) -> Verdict:
    shown = f"{figure.value:.3f}" if figure.value is not None else "not measured"
    detail = figure.detail if seen is None else seen
    return Verdict(
        kind=str(e.kind),
        asked=asked,
        passed=passed,
        seen=f"{shown} ({detail})" if detail else shown,
        why=e.why,
        line=e.line,
        observed=figure.value,
        low=low,
        high=high,
        check=str(e.check),
    )


def missing(e: PropertyExpect, what: str) -> Verdict:
    """A failing verdict: nothing to judge, ``what`` says what was missing."""
    return Verdict(
        str(e.kind),
        e.describe(),
        False,
        f"nothing to judge: {what}",
        e.why,
        e.line,
        check=str(e.check),
    )


def binomial_count(
    count: int, trials: dict[str, int], chances: dict[str, float], sigmas: float
) -> tuple[bool, int, int, str]:
    """``count`` against exact binomial bounds summed over trial groups.

    Returns:
        (inside, low count, high count, ``low .. high (p=, n=, σ)`` text).
    """
    if len(chances) == 1 and len(trials) > 1:
        chances = dict.fromkeys(trials, next(iter(chances.values())))
    low = high = 0
    for group, n in trials.items():
        lo, hi = binomial_bounds(n, chances[group], sigmas)
        low, high = low + lo, high + hi
    n = sum(trials.values())
    mean_p = sum(chances[g] * n_g for g, n_g in trials.items()) / n
    text = f"{low / n:.3f} .. {high / n:.3f} (p={mean_p:.4g}, n={n}, {sigmas:g}σ)"
    return low <= count <= high, low, high, text


def count_within(count: int, n: int, p: float, sigmas: float, what: str) -> Verdict:
    """``count`` successes of ``n`` trials inside exact binomial bounds around ``p``.

    No trials is a failing verdict saying so.
    """
    asked = f"{what}: within {sigmas:g}σ binomial bounds of p={p:.4g}"
    if not n:
        return Verdict("binomial", asked, False, f"nothing to judge: {what}: no trials", what)
    ok, low, high, text = binomial_count(count, {"all": n}, {"all": p}, sigmas)
    seen = f"{what}: {count} of {n} ({count / n:.3f}); bounds {low}..{high}"
    return Verdict("binomial", text, ok, seen, what, 0, count / n, low / n, high / n)


def check(e: PropertyExpect, figure: Figure, odds: Odds | None) -> Verdict:
    """Judge ``figure`` of ``e``'s property against ``e``'s check.

    Args:
        e: the expectation.
        figure: what was observed.
        odds: the model's odds on this run's endpoints (binomial and per-pod checks).

    Returns:
        The verdict; failing when the figure was not measured.
    """
    if figure.value is None:
        return missing(e, figure.detail or "the property was not measured")
    value = figure.value
    if e.check in BOUNDED_CHECKS:
        low, high = e.bound.low, e.bound.high
        return _verdict(e, figure, e.describe(), e.bound.holds(value), low, high)
    if e.check == Check.MODEL:
        if figure.model is None:
            return missing(e, "the placement model has no figure for this traffic")
        ok = math.isclose(value, figure.model, abs_tol=TOLERANCE)
        return _verdict(e, figure, f"= {figure.model:.3f} (model)", ok, figure.model, figure.model)
    if odds is None:
        return missing(e, "no model odds for this run")
    if e.check == Check.BINOMIAL:
        return _binomial(e, figure, odds)
    return _pod_bounds(e, figure, odds)


def _binomial(e: PropertyExpect, figure: Figure, odds: Odds) -> Verdict:
    chances = quantity(e.quantity, e.kind, odds)
    if chances is None:
        return missing(e, f"the model gives no {e.quantity!r} on this run")
    if figure.count is None or not figure.n:
        return missing(e, "no count of trials")
    ok, low, high, text = binomial_count(figure.count, dict(figure.trials), chances, e.sigmas)
    n = figure.n
    return _verdict(e, figure, text, ok, low / n, high / n)


def _pod_bounds(e: PropertyExpect, figure: Figure, odds: Odds) -> Verdict:
    chances = odds.fresh.get(odds.page_route, {})
    total = sum(figure.loads.values())
    if not chances or not total:
        return missing(e, "no page load per pod")
    mean = total / len(chances)
    bounds = {a: binomial_bounds(total, p, e.sigmas) for a, p in chances.items()}
    outside = [
        f"{a}: {figure.loads.get(a, 0)} not in {lo}..{hi}"
        for a, (lo, hi) in bounds.items()
        if not lo <= figure.loads.get(a, 0) <= hi
    ]
    if e.kind == "spread_max_mean":
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
    asked = f"{low:.3f} .. {high:.3f} (every pod {e.sigmas:g}σ)"
    return _verdict(e, figure, asked, not outside, low, high, detail)
