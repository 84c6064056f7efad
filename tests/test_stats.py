"""Exact binomial bounds."""

from __future__ import annotations

import math

import pytest

from ingressbed.stats import binomial_bounds, share_bounds, tail_probability


def exact_tail_below(n, p, lo):
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(lo))


def test_bounds_hold_the_promised_tail():
    n, p = 600, 1 / 6
    lo, hi = binomial_bounds(n, p)
    tail = tail_probability(4)
    assert exact_tail_below(n, p, lo) <= tail
    assert exact_tail_below(n, p, lo + 1) > tail  # the tightest such bound
    above = 1 - exact_tail_below(n, p, hi + 1)
    assert above <= tail
    assert lo < n * p < hi


def test_bounds_are_about_four_sigmas_wide():
    n, p = 10_000, 0.5
    lo, hi = binomial_bounds(n, p)
    sigma = math.sqrt(n * p * (1 - p))
    assert 3.8 * sigma < n * p - lo < 4.2 * sigma
    assert 3.8 * sigma < hi - n * p < 4.2 * sigma


def test_degenerate_probabilities():
    assert binomial_bounds(50, 0.0) == (0, 0)
    assert binomial_bounds(50, 1.0) == (50, 50)
    assert share_bounds(0, 0.3) == (0.0, 1.0)


def test_rejects_nonsense():
    with pytest.raises(ValueError):
        binomial_bounds(10, 1.5)
