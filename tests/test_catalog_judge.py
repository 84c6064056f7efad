"""The model's odds for a candidate (ingressbed.odds), and verdicts of figures against
property checks (ingressbed.judge_figures)."""

from __future__ import annotations

import math
import random

import pytest

from ingressbed import catalog, odds, planes
from ingressbed import judge_figures as checks
from ingressbed.balancing import Balancing
from ingressbed.expectations import Bound, Check, Kind, PropertyExpect
from ingressbed.model import Model
from ingressbed.placement import Ring, synthetic_endpoints
from ingressbed.properties import Figure
from ingressbed.stats import binomial_bounds
from ingressbed.vocabulary import Flavor

CATALOG = catalog.load()
HTTP = ("/8080", "/9090")


def endpoints(pods=6, ports=(8080, 9090, 8081)):
    return {port: synthetic_endpoints(pods, port) for port in ports}


def odds_of(candidate_id, plane=Flavor.INGRESS_NGINX, pods=6, scaled=None):
    setup = CATALOG.get(candidate_id).scenario.setup
    routes = {r.path: r.service_port for r in setup.ingress.routes}
    model = Model.of(plane, setup, endpoints(pods))
    return odds.odds(
        Balancing.of(setup),
        model,
        routes,
        visits=3,
        http_routes=HTTP,
        page_route="/8080",
        scaled=None if scaled is None else Model(model.balance, {8080: scaled}),
    )


@pytest.mark.parametrize("plane", [Flavor.NGINX, Flavor.INGRESS_NGINX])
def test_same_pod_on_all_rings_is_the_exact_share_of_the_hash_space(plane):
    eps = endpoints()
    rings = [Ring.build(plane, eps[port]) for port in (8080, 9090, 8081)]
    exact = odds.same_pod_all_rings(rings)
    rng = random.Random(3)
    samples = [rng.getrandbits(32) for _ in range(40000)]
    sampled = sum(len({r.lookup_hash(h).address for r in rings}) == 1 for h in samples) / 40000
    assert abs(exact - sampled) < 0.006
    assert odds.same_pod_all_rings(rings[:1]) == 1.0


def test_hash_odds_are_ring_shares_by_address():
    run = odds_of("ip-hash-three-ports")
    for route in ("/8080", "/9090", "/ws"):
        assert math.isclose(sum(run.fresh[route].values()), 1.0)
    shares = Ring.build(Flavor.INGRESS_NGINX, endpoints()[8080]).shares()
    assert run.fresh["/8080"] == {e.address: s for e, s in shares.items()}
    assert run.repeat("url_stickiness") == {"all": sum(s * s for s in shares.values())}
    assert set(run.repeat("client_stickiness")) == set(HTTP)
    assert run.draws == {"/8080": 3, "/9090": 3, "/ws": 1}
    assert 0 < run.same_key_routes < 0.2


def test_one_port_hash_agrees_on_every_route():
    run = odds_of("ip-hash-one-port")
    assert run.same_key_routes == 1.0


def test_new_pod_share_is_the_added_endpoints_ring_share():
    scaled = synthetic_endpoints(7, 8080)
    run = odds_of("request-uri", Flavor.NGINX, scaled=scaled)
    assert run.new_pod_share == Ring.build(Flavor.NGINX, scaled).shares()[scaled[-1]]
    assert odds_of("request-uri", Flavor.NGINX).new_pod_share is None


def test_subset_odds_spread_each_group_over_its_members():
    run = odds_of("subset-3")
    assert math.isclose(sum(run.fresh["/8080"].values()), 1.0)
    assert math.isclose(run.subset_revisit, 1 / 3)
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
    run = odds_of("round-robin", Flavor.NGINX)
    assert math.isclose(run.repeat("client_stickiness")["/8080"], 1 / 36)
    assert run.same_key_routes is None


ODDS = odds_of("ip-hash-three-ports")


def check_of(check, why, value=None, low=None, high=None, quantity="", sigmas=5.0):
    """A property expectation of ``check``; the property is given to ``verdict``."""
    bound = Bound()
    if check in ("equals", "at_most", "at_least"):
        bound = Bound(**{check: value})
    elif check == "range":
        bound = Bound(at_least=low, at_most=high)
    return PropertyExpect(
        why=why, check=Check(check), bound=bound, quantity=quantity, sigmas=sigmas
    )


def verdict(expectation, figure, prop="url_stickiness", run=None):
    e = PropertyExpect(**{**expectation.__dict__, "kind": Kind(prop)})
    return checks.check(e, figure, ODDS if run is None else run)


def test_bounded_kinds():
    equals = check_of("equals", "why", value=1.0)
    assert verdict(equals, Figure(1.0, 10, (("all", 10),))).passed
    assert not verdict(equals, Figure(0.9, 9, (("all", 10),))).passed
    assert verdict(check_of("at_most", "w", value=0.1), Figure(0.1)).passed
    assert not verdict(check_of("at_least", "w", value=0.5), Figure(0.4)).passed
    ranged = verdict(check_of("range", "w", low=1.0, high=1.2), Figure(1.1))
    assert ranged.passed and (ranged.low, ranged.high) == (1.0, 1.2)


def test_a_figure_not_measured_fails_and_says_why():
    missing = verdict(check_of("equals", "w", value=0.0), Figure(None, detail="cannot scale"))
    assert missing.passed is False and missing.observed is None
    assert missing.seen == "nothing to judge: cannot scale" and missing.why == "w"
    no_model = verdict(check_of("model", "w"), Figure(1.0), "spread_max_mean")
    assert not no_model.passed and "no figure" in no_model.seen
    no_trials = verdict(check_of("binomial", "w", quantity="repeat"), Figure(0.5))
    assert not no_trials.passed and "no count of trials" in no_trials.seen
    no_odds = checks.check(
        PropertyExpect(check=Check.BINOMIAL, quantity="repeat"), Figure(0.5, 1, (("all", 2),)), None
    )
    assert not no_odds.passed and "odds" in no_odds.seen
    unscaled = verdict(
        check_of("binomial", "w", quantity="new_pod_share"),
        Figure(0.1, 1, (("all", 10),)),
        "moved_on_scale",
    )
    assert not unscaled.passed and "new_pod_share" in unscaled.seen


def test_binomial_uses_the_models_probability_and_sums_groups():
    p = ODDS.repeat("url_stickiness")["all"]
    lo, hi = binomial_bounds(800, p, 5)
    expectation = check_of("binomial", "w", quantity="repeat")
    inside = verdict(expectation, Figure(lo / 800, lo, (("all", 800),)))
    assert inside.passed and inside.low == lo / 800 and inside.high == hi / 800
    assert not verdict(expectation, Figure((hi + 1) / 800, hi + 1, (("all", 800),))).passed
    groups = (("/8080", 400), ("/9090", 400))
    chances = ODDS.repeat("client_stickiness")
    total_hi = sum(binomial_bounds(400, chances[r], 5)[1] for r in HTTP)
    result = verdict(expectation, Figure(0.0, total_hi, groups), "client_stickiness")
    assert result.passed and result.high == total_hi / 800


def test_model_kind_compares_with_the_models_figure():
    expectation = check_of("model", "w")
    assert verdict(expectation, Figure(1.087, model=1.087), "spread_max_mean").passed
    failed = verdict(expectation, Figure(1.2, model=1.087), "spread_max_mean")
    assert not failed.passed and failed.asked == "= 1.087 (model)"


def test_pod_bounds_fail_when_one_pod_is_out_of_its_bounds():
    run = odds_of("cookie-persistent")
    pods = list(run.fresh["/8080"])
    even = dict.fromkeys(pods, 100)
    expectation = check_of("pod_bounds", "w", sigmas=5.0)
    ok = verdict(expectation, Figure(1.0, loads=even), "spread_max_mean", run)
    assert ok.passed and ok.low <= 1.0 <= ok.high
    skewed = {**even, pods[0]: 200, pods[1]: 0}
    bad = verdict(expectation, Figure(0.5, loads=skewed), "spread_cv", run)
    assert not bad.passed and "not in" in bad.seen
    empty = verdict(expectation, Figure(1.0, loads={}), "spread_cv", run)
    assert not empty.passed and "no page load" in empty.seen
    assert bad.low == 0.0 < bad.high


# -- the odds on every data plane: the translation decides the shares ------------------


@pytest.mark.parametrize("plane", ["haproxy", "haproxy:pod-ids", "haproxy:map-based"])
def test_haproxy_gives_one_client_one_pod_on_every_port(plane):
    # HAProxy's nodes and table depend on server ids only: the same pods in the same
    # order on each port put a key on the same pod (incident 1 does not happen).
    assert odds_of("ip-hash-three-ports", plane).same_key_routes == 1.0


@pytest.mark.parametrize("plane", ["nginx:ip-hash", "nginx:hash"])
def test_nginx_by_position_gives_one_client_one_pod_on_every_port(plane):
    assert odds_of("ip-hash-three-ports", plane).same_key_routes == 1.0


def test_ring_planes_split_clients_across_ports_and_the_figure_is_exact():
    run = odds_of("ip-hash-three-ports", Flavor.NGINX)
    rings = [Ring.build(Flavor.NGINX, endpoints()[p]) for p in (8080, 9090, 8081)]
    assert run.same_key_routes == odds.same_pod_all_rings(rings) < 0.2


@pytest.mark.parametrize(
    ("plane", "low", "high"),
    [("haproxy:map-based", 0.16, 0.175), ("nginx:ip-hash", 0.15, 0.19)],
)
def test_modulo_planes_share_fresh_keys_evenly(plane, low, high):
    run = odds_of("ip-hash-one-port", plane)
    fresh = run.fresh["/8080"]
    assert math.isclose(sum(fresh.values()), 1.0)
    assert all(low <= share <= high for share in fresh.values()), fresh


def test_new_pod_share_on_haproxy_is_its_part_of_the_ring():
    scaled = synthetic_endpoints(7, 8080)
    run = odds_of("remote-addr", "haproxy", scaled=scaled)
    upstream = planes.plane("haproxy").for_key("$remote_addr").upstream(scaled)
    assert run.new_pod_share == upstream.shares()[scaled[-1]]
    assert 0.05 < run.new_pod_share < 0.3
