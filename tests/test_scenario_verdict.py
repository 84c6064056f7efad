"""Expectations judged on made-up observations; step plans (pure, no bed)."""

from __future__ import annotations

from ingressbed.clients.http import HttpRequest
from ingressbed.scenario import table
from ingressbed.scenario.load import loads
from ingressbed.scenario.run import Run, expand, plan, replay
from ingressbed.scenario.verdict import judge
from ingressbed.vocabulary import Observation

SCENARIO = """\
title: made up
ingress: |
  apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: x}
  spec:
    defaultBackend: {service: {name: web, port: {number: 8080}}}
steps:
  - {name: a, http: "http://h/8080", client_ip: 10.0.0.1, repeat: 2}
  - {name: b, http: "http://h/9090", client_ip: 10.0.0.1}
  - {name: many, http: "http://h/p{i}", count: 4, clients: [10.0.0.1, 10.0.0.2]}
  - {name: again, again: many, shuffle: true}
expect:
  - same_pod: [a, b]
  - different_pods: {steps: [many], per: client, min_share: 0.5}
  - pods_count: {step: a, equals: 1}
  - cache_status: {step: a, last: HIT}
  - cache_status: {step: again, ratio: {HIT: {at_least: 0.75}}}
  - status: 200
  - spread: {step: many, max_mean: {at_most: 1.5}}
"""


def obs(step, client, key, pod, status=200, cache="MISS"):
    return Observation(
        protocol="http",
        client=client,
        host="h",
        key=key,
        pod=pod,
        pod_ip="127.0.0.9",
        port=8080,
        status=status,
        cache_status=cache,
        step=step,
    )


def run_of(*observations, pods=("p1", "p2", "p3")):
    return Run(tuple(observations), tuple(pods), "tok")


GOOD = [
    obs("a", "10.0.0.1", "/8080", "p1"),
    obs("a", "10.0.0.1", "/8080", "p1", cache="HIT"),
    obs("b", "10.0.0.1", "/9090", "p1"),
    *(
        obs("many", c, f"/p{i}", f"p{1 + (i + n) % 3}")
        for n, c in enumerate(["10.0.0.1", "10.0.0.2"])
        for i in range(4)
    ),
    *(obs("again", "10.0.0.1", f"/p{i}", "p1", cache="HIT") for i in range(4)),
]


def test_everything_holds():
    verdict = judge(loads(SCENARIO, "s.yaml"), run_of(*GOOD), "backend local (nginx)")
    assert verdict.passed, verdict.render()
    text = verdict.render()
    assert "PASS: 7 expectations hold" in text
    assert "✓ line 14: same_pod a, b (on one pod, per client)" in text


def test_a_failing_expectation_shows_what_was_observed():
    observations = list(GOOD)
    observations[2] = obs("b", "10.0.0.1", "/9090", "p2")  # b lands elsewhere
    verdict = judge(loads(SCENARIO, "s.yaml"), run_of(*observations))
    assert not verdict.passed
    assert [o.line for o in verdict.failed] == [14]
    text = verdict.render()
    assert "✗ line 14: same_pod a, b" in text
    assert "seen: 10.0.0.1: 2 pod(s): a -> p1 ×2; b -> p2" in text
    assert "FAIL: 1 of 7 expectations failed (s.yaml:14)" in text
    # The observation table: each step's pod, port, status and cache status.
    header = next(line for line in text.splitlines() if line.strip().startswith("step"))
    assert header.split() == ["step", "#", "client", "request", "pod", "port", "status", "cache"]
    assert any(
        line.split()[:8] == ["b", "1", "10.0.0.1", "h/9090", "p2", "8080", "200", "MISS"]
        for line in text.splitlines()
    )
    assert any(
        line.split()[:5] == ["many", "8", "10.0.0.2", "h/p3", "p2"] for line in text.splitlines()
    )


def test_a_big_step_gets_one_summary_row():
    observations = [obs("many", f"10.0.0.{i % 5}", f"/p{i}", f"p{i % 3}") for i in range(30)]
    text = table.render(loads(SCENARIO), run_of(*observations))
    row = next(line for line in text.splitlines() if line.split()[0] == "many")
    assert row.split() == (
        "many ×30 5 clients 30 URLs 3 pods, 10-10 each 8080 ×30 200 ×30 MISS ×30".split()
    )


def test_unanswered_requests_fail_pod_expectations_and_status():
    observations = list(GOOD)
    observations[0] = obs("a", "10.0.0.1", "/8080", "", status=0, cache=None)
    verdict = judge(loads(SCENARIO, "s.yaml"), run_of(*observations))
    failed = {o.line: o.seen for o in verdict.failed}
    assert "1 of 3 requests got no pod" in failed[14]
    assert failed[19].startswith("200 ×")  # status: 200
    assert "0 ×1" in failed[19]


def test_thresholds_ratios_and_spread():
    scenario = loads(SCENARIO, "s.yaml")
    observations = [o for o in GOOD if o.step != "many"]
    observations += [
        obs("many", c, f"/p{i}", "p1") for c in ("10.0.0.1", "10.0.0.2") for i in range(4)
    ]
    observations[-1] = obs("many", "10.0.0.2", "/p3", "p2")
    again = [i for i, o in enumerate(observations) if o.step == "again"]
    observations[again[0]] = obs("again", "10.0.0.1", "/p0", "p1", cache="MISS")
    observations[again[1]] = obs("again", "10.0.0.1", "/p1", "p1", cache="MISS")
    verdict = judge(scenario, run_of(*observations))
    failed = {o.line: o.seen for o in verdict.failed}
    # 1 of 2 clients spread over two pods: 50% meets min_share 0.5.
    assert 15 not in failed
    assert failed[18] in ("HIT ratio 0.500: HIT ×2, MISS ×2", "HIT ratio 0.500: MISS ×2, HIT ×2")
    assert failed[20].startswith("max/mean 2.62 over 3 pods (loads 7, 1, 0)")


def test_expand_plan_and_replay():
    scenario = loads(SCENARIO)
    many = scenario.step("many")
    assert expand(many, "tok") == ["http://h/p0", "http://h/p1", "http://h/p2", "http://h/p3"]
    rounds = plan(scenario.step("a"), "tok")
    assert len(rounds) == 2  # repeat: 2 -> two rounds, one after the other
    assert rounds[0] == [HttpRequest("/8080", "h", "10.0.0.1", {}, "GET", None, "a")]
    first = plan(many, "tok")
    again = replay(first, scenario.step("again"))
    assert {r.step for r in again[0]} == {"again"}
    assert sorted((r.client, r.path) for r in again[0]) == sorted(
        (r.client, r.path) for r in first[0]
    )
    assert [r.path for r in again[0]] != [r.path for r in first[0]]  # shuffled (seeded)
