"""Missing evidence never passes: for every expectation kind, nothing to judge is a failure
that says what was missing (ingressbed.judge on an empty or partial ``Evidence``).

The test is parametrized over ``Kind`` itself: a kind added without an example here fails
``test_every_kind_has_an_example``, and its no-evidence case fails until it is one.
"""

from __future__ import annotations

import pytest

from ingressbed.evidence import Evidence
from ingressbed.expectations import (
    PROPERTY_KINDS,
    AnsweredExpect,
    Bound,
    CacheExpect,
    Check,
    CookieExpect,
    Expectation,
    HeaderExpect,
    Kind,
    Per,
    PicksExpect,
    PodsExpect,
    PropertyExpect,
    SpreadExpect,
    StatusExpect,
)
from ingressbed.judge import judge
from ingressbed.layouts import setup
from ingressbed.placement import synthetic_endpoints
from ingressbed.properties import Traffic
from ingressbed.vocabulary import Flavor, Observation

STEPS = ("a",)


def example(kind: Kind) -> Expectation:
    """One expectation of ``kind`` that would pass on good evidence."""
    if kind in (Kind.SAME_POD, Kind.DIFFERENT_PODS):
        return PodsExpect(kind=kind, steps=STEPS, per=Per.CLIENT)
    if kind == Kind.PODS_COUNT:
        return PodsExpect(kind=kind, steps=STEPS, per=Per.ALL, bound=Bound(at_least=1))
    if kind == Kind.CACHE_STATUS:
        return CacheExpect(steps=STEPS, status="HIT", mode="ratio", bound=Bound(at_least=0.0))
    if kind == Kind.STATUS:
        return StatusExpect(steps=STEPS, codes=(200,))
    if kind == Kind.ANSWERED:
        return AnsweredExpect(steps=STEPS)
    if kind == Kind.SPREAD:
        return SpreadExpect(steps=STEPS, max_mean=Bound(at_most=10.0))
    if kind == Kind.MODEL_PICKS:
        return PicksExpect(steps=STEPS)
    if kind == Kind.HEADER:
        return HeaderExpect(steps=STEPS, name="x-served-by", present=False)
    if kind == Kind.COOKIE:
        return CookieExpect(steps=STEPS, name="INGRESSCOOKIE", set=True)
    return PropertyExpect(kind=kind, step="mix", check=Check.AT_LEAST, bound=Bound(at_least=0.0))


HASHED = setup("three-ports", {"upstream-hash-by": "$request_uri"}, host=None)
EPS = {port: synthetic_endpoints(6, port) for port in (8080, 9090, 8081)}


def empty_mix() -> Traffic:
    return Traffic({}, {}, [], [], [], [], [], None, {})  # no peers read, no answer


#: For each kind, evidence with nothing to judge and what the verdict must name.
NOTHING: dict[Kind, tuple[Evidence, str]] = {
    Kind.SAME_POD: (Evidence(), "no answers from a"),
    Kind.DIFFERENT_PODS: (Evidence(), "no answers from a"),
    Kind.PODS_COUNT: (Evidence(), "no answers from a"),
    Kind.CACHE_STATUS: (
        Evidence((Observation("http", "c", "h", "/", "p1", "10.0.0.1", 8080, 200, step="a"),)),
        "no X-Cache-Status on any of 1 answers",
    ),
    Kind.STATUS: (Evidence(), "no answers from a"),
    Kind.ANSWERED: (Evidence(), "no requests in a"),
    Kind.SPREAD: (
        Evidence((Observation("http", "c", "h", "/", "", "", 0, 0, step="a"),), ("p1",)),
        "no pod answered a",
    ),
    Kind.MODEL_PICKS: (
        Evidence(plane=Flavor.NGINX, setup=HASHED, endpoints=EPS),
        "no answers from a",
    ),
    Kind.HEADER: (Evidence(), "no answers from a"),
    Kind.COOKIE: (
        Evidence((Observation("http", "c", "h", "/", "p1", "10.0.0.1", 8080, 200, step="a"),)),
        "no answer of 1 set INGRESSCOOKIE",
    ),
}
for _kind in PROPERTY_KINDS:
    NOTHING[_kind] = (
        Evidence(plane=Flavor.NGINX, setup=HASHED, mixes={"mix": empty_mix()}),
        "nothing to judge:",
    )


def test_every_kind_has_an_example():
    assert set(NOTHING) == set(Kind)


@pytest.mark.parametrize("kind", list(Kind), ids=str)
def test_no_evidence_is_a_failure_that_says_what_was_missing(kind):
    assert kind in NOTHING, f"no no-evidence case for {kind}: add one to NOTHING"
    evidence, missing = NOTHING[kind]
    verdict = judge(example(kind), evidence)
    assert verdict.passed is False
    assert missing in verdict.seen, verdict.seen
    assert verdict.kind == kind


@pytest.mark.parametrize("kind", PROPERTY_KINDS, ids=str)
def test_a_property_of_a_mix_that_was_not_run_fails(kind):
    verdict = judge(example(kind), Evidence(plane=Flavor.NGINX, setup=HASHED))
    assert not verdict.passed and "no mix step 'mix' was run" in verdict.seen


def test_a_cache_expectation_whose_last_answer_has_no_header_fails():
    hit = Observation("http", "c", "h", "/", "p1", "10.0.0.1", 8080, 200, "HIT", step="a")
    bare = Observation("http", "c", "h", "/", "p1", "10.0.0.1", 8080, 200, step="a")
    last = CacheExpect(steps=STEPS, status="HIT", mode="last")
    verdict = judge(last, Evidence((hit, bare)))
    assert not verdict.passed and "no X-Cache-Status on the last answer" in verdict.seen
    assert judge(last, Evidence((bare, hit))).passed


def test_model_picks_without_a_hash_key_or_a_prediction_fail():
    plain = setup("three-ports", host=None)
    answer = Observation("http", "c", "h", "/", "p1", "10.244.0.1", 8080, 200, step="a")
    unknown = judge(PicksExpect(steps=STEPS), Evidence((answer,), plane="nginx", setup=plain))
    assert not unknown.passed and "no placement model" in unknown.seen
    no_key = judge(
        PicksExpect(steps=STEPS), Evidence((answer,), plane="nginx", setup=plain, endpoints=EPS)
    )
    assert not no_key.passed
    assert "0 of 1 picks as predicted; 1 the model cannot predict (round-robin)" in no_key.seen
    lost = Observation("http", "c", "h", "/", "", "", 0, 0, step="a")
    evidence = Evidence((lost,), plane=Flavor.NGINX, setup=HASHED, endpoints=EPS)
    unanswered = judge(PicksExpect(steps=STEPS), evidence)
    assert not unanswered.passed and "no pod answered (1 sent)" in unanswered.seen
