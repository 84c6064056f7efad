"""The model's odds for a candidate, and verdicts of figures against expectations."""

from __future__ import annotations

import math
import random

import pytest

from ingressbed import catalog, judge
from ingressbed.catalog import Expectation
from ingressbed.judge import Figure
from ingressbed.layouts import PATHS
from ingressbed.placement import Ring, synthetic_endpoints
from ingressbed.stats import binomial_bounds
from ingressbed.vocabulary import Flavor

CATALOG = catalog.load()
HTTP = ("/8080", "/9090")


def endpoints(pods=6, ports=(8080, 9090, 8081)):
    return {port: synthetic_endpoints(pods, port) for port in ports}


def odds_of(candidate_id, plane=Flavor.INGRESS_NGINX, pods=6, scaled=None):
    candidate = CATALOG.get(candidate_id)
    routes = dict(PATHS[candidate.layout])
    return judge.odds(
        candidate,
        plane,
        routes,
        endpoints(pods),
        visits=3,
        http_routes=HTTP,
        page_route="/8080",
        scaled=scaled,
    )


@pytest.mark.parametrize("plane", [Flavor.NGINX, Flavor.INGRESS_NGINX])
def test_same_pod_on_all_rings_is_the_exact_share_of_the_hash_space(plane):
    eps = endpoints()
    rings = [Ring.build(plane, eps[port]) for port in (8080, 9090, 8081)]
    exact = judge.same_pod_all_rings(rings)
    rng = random.Random(3)
    samples = [rng.getrandbits(32) for _ in range(40000)]
    sampled = sum(len({r.lookup_hash(h).address for r in rings}) == 1 for h in samples) / 40000
    assert abs(exact - sampled) < 0.006
    assert judge.same_pod_all_rings(rings[:1]) == 1.0


def test_hash_odds_are_ring_shares_by_address():
    odds = odds_of("ip-hash-three-ports")
    for route in ("/8080", "/9090", "/ws"):
        assert math.isclose(sum(odds.fresh[route].values()), 1.0)
    shares = Ring.build(Flavor.INGRESS_NGINX, endpoints()[8080]).shares()
    assert odds.fresh["/8080"] == {e.address: s for e, s in shares.items()}
    assert odds.repeat("url_stickiness") == {"all": sum(s * s for s in shares.values())}
    assert set(odds.repeat("client_stickiness")) == set(HTTP)
    assert odds.draws == {"/8080": 3, "/9090": 3, "/ws": 1}
    assert 0 < odds.same_key_routes < 0.2


def test_one_port_hash_agrees_on_every_route():
    odds = odds_of("ip-hash-one-port")
    assert odds.same_key_routes == 1.0


def test_new_pod_share_is_the_added_endpoints_ring_share():
    scaled = synthetic_endpoints(7, 8080)
    odds = odds_of("request-uri", Flavor.NGINX, scaled=scaled)
    assert odds.new_pod_share == Ring.build(Flavor.NGINX, scaled).shares()[scaled[-1]]
    assert odds_of("request-uri", Flavor.NGINX).new_pod_share is None


def test_subset_odds_spread_each_group_over_its_members():
    odds = odds_of("subset-3")
    assert math.isclose(sum(odds.fresh["/8080"].values()), 1.0)
    assert math.isclose(odds.subset_revisit, 1 / 3)
    padded = odds_of("subset-3", pods=7)
    assert math.isclose(padded.subset_revisit, 1 / 3)  # padding reuses distinct pods
    # pods 1 and 2 sit in two groups when the last group is padded: more than the others
    fresh = padded.fresh["/8080"]
    assert fresh["10.244.0.2"] > fresh["10.244.0.5"]


def test_cookie_odds_draw_once_per_route():
    persistent = odds_of("cookie-persistent")
    assert persistent.draws == {"/8080": 1, "/9090": 1, "/ws": 1}
    assert math.isclose(persistent.repeat("cross_port")["all"], 1 / 36)
    assert math.isclose(persistent.repeat("url_stickiness")["all"], 1 / 6)
    balanced = odds_of("cookie-balanced", scaled=synthetic_endpoints(7, 8080))
    assert balanced.new_pod_share is not None


def test_round_robin_odds_are_uniform():
    odds = odds_of("round-robin", Flavor.NGINX)
    assert math.isclose(odds.repeat("client_stickiness")["/8080"], 1 / 36)
    assert odds.same_key_routes is None


ODDS = odds_of("ip-hash-three-ports")


def verdict(expectation, figure, prop="url_stickiness"):
    return judge.verdict(prop, expectation, figure, ODDS)


def test_bounded_kinds():
    equals = Expectation("equals", "why", value=1.0)
    assert verdict(equals, Figure(1.0, 10, (("all", 10),))).passed
    assert not verdict(equals, Figure(0.9, 9, (("all", 10),))).passed
    assert verdict(Expectation("at_most", "w", value=0.1), Figure(0.1)).passed
    assert not verdict(Expectation("at_least", "w", value=0.5), Figure(0.4)).passed
    ranged = verdict(Expectation("range", "w", low=1.0, high=1.2), Figure(1.1))
    assert ranged.passed and (ranged.low, ranged.high) == (1.0, 1.2)


def test_unmeasured_and_unpredicted_are_not_judged():
    none = verdict(Expectation("not_predicted", "w"), Figure(0.3))
    assert none.passed is None and none.observed == 0.3 and none.expected == "not predicted"
    na = verdict(Expectation("not_applicable", "w"), Figure(None))
    assert na.passed is None and na.expected == "n/a"
    missing = verdict(Expectation("equals", "w", value=0.0), Figure(None, detail="cannot scale"))
    assert missing.passed is None and missing.detail == "cannot scale"


def test_binomial_uses_the_models_probability_and_sums_groups():
    p = ODDS.repeat("url_stickiness")["all"]
    lo, hi = binomial_bounds(800, p, 5)
    expectation = Expectation("binomial", "w", quantity="repeat")
    inside = verdict(expectation, Figure(lo / 800, lo, (("all", 800),)))
    assert inside.passed and inside.low == lo / 800 and inside.high == hi / 800
    assert not verdict(expectation, Figure((hi + 1) / 800, hi + 1, (("all", 800),))).passed
    groups = (("/8080", 400), ("/9090", 400))
    chances = ODDS.repeat("client_stickiness")
    total_hi = sum(binomial_bounds(400, chances[r], 5)[1] for r in HTTP)
    result = verdict(expectation, Figure(0.0, total_hi, groups), "client_stickiness")
    assert result.passed and result.high == total_hi / 800


def test_model_kind_compares_with_the_models_figure():
    expectation = Expectation("model", "w")
    assert verdict(expectation, Figure(1.087, model=1.087), "spread_max_mean").passed
    failed = verdict(expectation, Figure(1.2, model=1.087), "spread_max_mean")
    assert not failed.passed and failed.expected == "= 1.087 (model)"


def test_pod_bounds_fail_when_one_pod_is_out_of_its_bounds():
    odds = odds_of("cookie-persistent")
    pods = list(odds.fresh["/8080"])
    even = dict.fromkeys(pods, 100)
    expectation = Expectation("pod_bounds", "w", sigmas=5.0)
    ok = judge.verdict("spread_max_mean", expectation, Figure(1.0, loads=even), odds)
    assert ok.passed and ok.low <= 1.0 <= ok.high
    skewed = {**even, pods[0]: 200, pods[1]: 0}
    bad = judge.verdict("spread_cv", expectation, Figure(0.5, loads=skewed), odds)
    assert not bad.passed and "not in" in bad.detail
    assert bad.low == 0.0 < bad.high
