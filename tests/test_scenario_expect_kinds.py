"""The scenario format's newer parts: mix steps, properties, model_picks, answered, why/on,
needs and slow pods; judged on made-up evidence, and the e2e helpers on the same judge."""

from __future__ import annotations

import pytest

from ingressbed import expect, judge_answers
from ingressbed.errors import ScenarioError
from ingressbed.evidence import Evidence
from ingressbed.expectations import Check, Kind, PicksExpect, PropertyExpect
from ingressbed.judge import judge, judge_all
from ingressbed.model import Model
from ingressbed.placement import Request, synthetic_endpoints
from ingressbed.properties import Traffic
from ingressbed.scenario.load import loads
from ingressbed.scenario.play import required
from ingressbed.scenario.spec import MIX
from ingressbed.scenario.verdict import judge as judge_scenario
from ingressbed.vocabulary import Endpoint, Flavor, Observation

INGRESS = """\
ingress: |
  apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata:
    name: demo
    annotations:
      nginx.ingress.kubernetes.io/upstream-hash-by: $request_uri
  spec:
    rules:
    - http:
        paths:
        - {path: /8080, pathType: Prefix, backend: {service: {name: a, port: {number: 8080}}}}
        - {path: /9090, pathType: Prefix, backend: {service: {name: a, port: {number: 8080}}}}
        - {path: /ws, pathType: Prefix, backend: {service: {name: a, port: {number: 8080}}}}
"""
SCENARIO = (
    "title: properties and picks\n"
    "needs: [scale]\n"
    "hellogo: {replicas: 4, slow: {pods: 1, delay_ms: 150}}\n"
    + INGRESS
    + """\
steps:
  - {name: pages, http: "http://h/8080/p{i}", count: 6}
  - {name: mix, mix: {clients: 50, visits: 2, pages: 40, hosts: 4, scale: false}}
expect:
  - model_picks: pages
    why: the ring decides every pick
  - answered: [pages, mix]
  - url_stickiness: {equals: 1.0}
    on: nginx
    why: the key is the URL
  - moved_on_scale: {binomial: new_pod_share, sigmas: 6}
    on: [ingress-nginx]
    why: the new pod's share
"""
)
EPS = synthetic_endpoints(4, 8080)


def test_mix_steps_properties_picks_and_planes_are_parsed():
    scenario = loads(SCENARIO, "s.yaml")
    mix = scenario.step("mix")
    assert mix.kind == MIX and mix.mix is not None
    assert (mix.mix.clients, mix.mix.visits, mix.mix.pages, mix.mix.hosts) == (50, 2, 40, 4)
    assert mix.mix.scale is False
    assert (scenario.setup.replicas, scenario.setup.slow_pods, scenario.setup.slow_ms) == (
        4,
        1,
        150,
    )
    assert scenario.needs == ("scale",) and "scale" in required(scenario)
    picks, answered, sticky, moved = scenario.expect
    assert isinstance(picks, PicksExpect) and picks.why == "the ring decides every pick"
    assert answered.steps == ("pages", "mix") and answered.planes == ()
    assert isinstance(sticky, PropertyExpect) and sticky.planes == (Flavor.NGINX,)
    assert (sticky.step, sticky.check, sticky.bound.equals) == ("mix", Check.EQUALS, 1.0)
    assert isinstance(moved, PropertyExpect) and moved.sigmas == 6.0
    assert [e.kind for e in scenario.expectations_for(Flavor.NGINX)] == [
        Kind.MODEL_PICKS,
        Kind.ANSWERED,
        Kind.URL_STICKINESS,
    ]
    assert scenario.id == "s"


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("needs: [scale]", "needs: [scales]", "'scales' is not a capability (did you mean 'scale'"),
        ("slow: {pods: 1,", "slow: {pods: 4,", "hellogo.slow.pods must be 1..3"),
        ("clients: 50,", "clients: 5,", "mix clients must be 10..5000"),
        ("scale: false}", "scale: maybe}", "mix scale must be true or false"),
        ("    on: nginx\n", "    on: traefik\n", "'traefik' is not a data plane"),
        ("- {path: /ws,", "- {path: /wss,", "the Ingress has no /ws path"),
        ("    - http:\n", "    - host: h\n      http:\n", "give the rules of /8080, /9090, /ws no"),
        ("  - model_picks: pages", "  - model_picks: mix", "model_picks judges steps other than"),
    ],
)
def test_malformed_new_parts_name_the_line_and_the_problem(old, new, words):
    assert old in SCENARIO
    with pytest.raises(ScenarioError) as info:
        loads(SCENARIO.replace(old, new), "s.yaml")
    assert str(info.value).startswith("s.yaml:") and words in str(info.value), str(info.value)


def answer(key, endpoint, step="pages"):
    return Observation(
        "http", "", "h", key, f"pod-{endpoint.address[-1]}", endpoint.address, 8080, 200,
        "MISS", step=step,
    )  # fmt: skip


def picks_evidence(scenario, wrong=False):
    model = Model.for_key(Flavor.NGINX, {8080: EPS}, "$request_uri")
    answers = []
    for i in range(6):
        o = answer(f"/8080/p{i}", EPS[0])
        chosen = model.predict(o).exact
        assert chosen is not None
        if wrong and i == 3:
            chosen = next(e for e in EPS if e != chosen)
        answers.append(answer(o.key, chosen))
    return Evidence(
        tuple(answers), ("pod-2", "pod-3"), "t", Flavor.NGINX, scenario.setup, {8080: EPS}
    )


def test_model_picks_pass_on_the_models_picks_and_fail_with_the_mismatch():
    scenario = loads(SCENARIO, "s.yaml")
    picks = scenario.expect[0]
    assert judge(picks, picks_evidence(scenario)).passed
    failed = judge(picks, picks_evidence(scenario, wrong=True))
    assert not failed.passed and "5 of 6 picks as predicted" in failed.seen
    assert "model: 10.244" in failed.seen and failed.line == scenario.expect[0].line


def test_model_picks_count_answers_the_model_cannot_predict_against_it():
    # nginx balances an empty key round robin: 6 answers the model cannot place.
    scenario = loads(SCENARIO, "s.yaml")
    model = Model.for_key(Flavor.NGINX, {8080: EPS}, "$http_x_user")
    unpredictable = [answer(f"/8080/q{i}", EPS[i % 2]) for i in range(6)]
    predictable = []
    for i in range(4):
        o = Observation(
            "http", "", "h", f"/8080/p{i}", "", "", 8080, 200, step="pages"
        )  # fmt: skip
        user = {"x-user": f"u{i}"}
        chosen = model.pick(8080, Request(host="h", request_uri=o.key, headers=user)).exact
        assert chosen is not None
        predictable.append(o)
    assert len(predictable) == 4
    models = dict.fromkeys(scenario.expect[0].steps, model)
    verdict = judge_answers.picks(scenario.expect[0], unpredictable, models)
    assert not verdict.passed
    assert "0 of 6 picks as predicted" in verdict.seen
    assert "6 the model cannot predict (round-robin)" in verdict.seen


def test_an_ipv6_endpoint_prediction_matches_its_observation():
    six = [Endpoint(f"fd00::{i}", 8080) for i in range(2, 8)]
    model = Model.for_key(Flavor.INGRESS_NGINX, {8080: six}, "$request_uri")
    scenario = loads(SCENARIO, "s.yaml")
    answers = []
    for i in range(12):
        key = f"/8080/v6/{i}"
        chosen = model.pick(8080, Request(request_uri=key)).exact
        assert chosen is not None and ":" in chosen.address
        # hellogo reports its address as it prints it: the long form must match too
        long_form = chosen.address.replace("::", ":0:0:0:0:0:0:")
        answers.append(Observation("http", "", "", key, "pod", long_form, 8080, 200, step="pages"))
    models = dict.fromkeys(scenario.expect[0].steps, model)
    verdict = judge_answers.picks(scenario.expect[0], answers, models)
    assert verdict.passed, verdict.seen
    assert "12 of 12 picks as predicted" in verdict.seen


def test_a_property_of_the_mix_is_judged_and_the_scenario_verdict_needs_a_verdict():
    scenario = loads(SCENARIO, "s.yaml")
    first = [answer(f"/8080/x{i}", EPS[i % 4], "page") for i in range(8)]
    mix = Traffic({8080: EPS}, {}, [], first, first, [], [], None, {}, requests=16)
    evidence = Evidence(
        picks_evidence(scenario).observations, (), "t", Flavor.NGINX, scenario.setup,
        {8080: EPS}, {"mix": mix},
    )  # fmt: skip
    verdicts = judge_all(scenario.expect, evidence)
    assert [v.kind for v in verdicts] == ["model_picks", "answered", "url_stickiness"]
    assert all(v.passed for v in verdicts), [v.message() for v in verdicts]
    result = judge_scenario(scenario, evidence, "backend local (nginx)")
    assert result.passed and "PASS: 3 expectations hold" in result.render()
    assert "mix" in result.render()  # the mix's summary row
    other_plane = Evidence(plane="envoy", setup=scenario.setup)
    empty = judge_scenario(
        loads(SCENARIO.split("expect:")[0] + "expect:\n  - url_stickiness: 1.0\n    on: nginx\n"),
        other_plane,
    )
    assert not empty.passed and "FAIL: nothing was judged" in empty.render()


def test_e2e_helpers_raise_with_the_verdict():
    good = [answer("/a", EPS[0]), answer("/a", EPS[0])]
    assert expect.sticky(good, per="url").passed
    with pytest.raises(AssertionError, match=r"2 pod\(s\)"):
        expect.sticky([answer("/a", EPS[0]), answer("/a", EPS[1])], per="all")
    with pytest.raises(AssertionError, match="nothing to judge: no answers"):
        expect.sticky([])
    with pytest.raises(AssertionError, match="nothing to judge: no requests"):
        expect.all_answered([])
    lost = Observation("http", "c", "h", "/", "", "", 0, 0, error="refused")
    with pytest.raises(AssertionError, match="0 of 1 answered"):
        expect.all_answered([lost])
    with pytest.raises(AssertionError, match="no X-Cache-Status"):
        expect.cache_status([Observation("http", "", "h", "/", "p", "i", 1, 200)], every="HIT")
    assert expect.cache_status(good, every="MISS").passed
    assert expect.within(50, 100, 0.5, "half").passed
    with pytest.raises(AssertionError, match="far: 90 of 100"):
        expect.within(90, 100, 0.5, "far")
    with pytest.raises(AssertionError, match="no trials"):
        expect.within(0, 0, 0.5, "empty")
    model = Model.for_key(Flavor.NGINX, {8080: EPS}, "$request_uri")
    with pytest.raises(AssertionError, match="no answers"):
        expect.agrees(model, [])
    assert expect.moved_only_to({"k": "a"}, {"k": "b"}, lambda a, b: b == "b", "scaling") == 1
    with pytest.raises(AssertionError, match="1 of 1 keys moved in a way scaling forbids"):
        expect.moved_only_to({"k": "a"}, {"k": "c"}, lambda a, b: b == "b", "scaling")
    with pytest.raises(AssertionError, match="no key seen twice"):
        expect.moved_only_to({"k": "a"}, {}, lambda a, b: True, "scaling")
