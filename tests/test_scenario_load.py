"""Scenario files: validation with path and line, before anything is deployed (no bed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingressbed.errors import ScenarioError
from ingressbed.scenario.load import load, loads
from ingressbed.scenario.spec import AGAIN, CURL, HTTP, WEBSOCKET, CacheExpect, PodsExpect
from ingressbed.vocabulary import HTTP2_PORT, HTTP_PORT, WS_PORT

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "e2e" / "scenarios"

GOOD = """\
title: ip-hash per port
controller: {use-forwarded-headers: "true"}
hellogo: {replicas: 3}
ingress: |
  apiVersion: extensions/v1beta1
  kind: Ingress
  metadata:
    name: hellogo
    annotations:
      nginx.ingress.kubernetes.io/upstream-hash-by: $binary_remote_addr
  spec:
    rules:
    - host: hellogo.d.xiaomi.net
      http:
        paths:
        - {path: /8080, backend: {serviceName: hellogo, servicePort: 8080}}
        - {path: /ws, backend: {serviceName: hellogo, servicePort: 8081}}
steps:
  - {name: a, curl: "curl -s http://hellogo.d.xiaomi.net/8080", client_ip: 10.232.41.102}
  - {name: many, http: "http://hellogo.d.xiaomi.net/8080/{run}/{i}", count: 4, repeat: 2}
  - {name: c, websocket: "ws://hellogo.d.xiaomi.net/ws", clients: 3}
  - {name: d, again: many, shuffle: true}
expect:
  - same_pod: [a]
  - different_pods: {steps: [many, d], per: url, min_share: 0.5}
  - pods_count: {step: many, at_least: 1, at_most: 3}
  - cache_status: {step: d, ratio: {hit: {at_least: 0.9}}}
  - status: 200
  - spread: {steps: [many], max_mean: {at_most: 3}}
"""


def test_a_good_file_becomes_a_typed_scenario():
    scenario = loads(GOOD, "good.yaml")
    assert scenario.title == "ip-hash per port"
    assert scenario.setup.replicas == 3
    assert dict(scenario.setup.controller) == {"use-forwarded-headers": "true"}
    assert [(s.name, s.kind) for s in scenario.steps] == [
        ("a", CURL),
        ("many", HTTP),
        ("c", WEBSOCKET),
        ("d", AGAIN),
    ]
    a, many, c, d = scenario.steps
    assert a.line == 19 and a.clients == ("10.232.41.102",)
    assert a.curl is not None and a.curl.url == "http://hellogo.d.xiaomi.net/8080"
    assert many.count == 4 and many.repeat == 2 and many.clients == ("",)
    assert len(c.clients) == 3 and len(set(c.clients)) == 3
    assert d.again == "many" and d.shuffle
    same, different, count, cache, status, spread = scenario.expect
    assert isinstance(same, PodsExpect) and same.per == "client" and same.line == 24
    assert isinstance(different, PodsExpect) and different.min_share == 0.5
    assert isinstance(count, PodsExpect) and count.per == "all"
    assert isinstance(cache, CacheExpect) and cache.status == "HIT" and cache.bound is not None
    assert status.steps == ("a", "many", "d")  # the shorthand leaves websocket steps out
    assert spread.steps == ("many",)


def test_controller_always_trusts_forwarded_headers():
    text = GOOD.replace('controller: {use-forwarded-headers: "true"}', "controller: {}")
    assert loads(text).setup.controller["use-forwarded-headers"] == "true"
    text = GOOD.replace('"true"}', '"false"}', 1)
    scenario = loads(text)
    assert scenario.setup.controller["use-forwarded-headers"] == "true"
    assert any("changed to 'true'" in note for note in scenario.notes)


def test_replicas_default_to_six():
    assert loads(GOOD.replace("hellogo: {replicas: 3}\n", "")).setup.replicas == 6


def test_incident_1_file_keeps_its_ingress():
    scenario = load(SCENARIOS / "incident1-multiport-ip-hash.yaml")
    ingress = scenario.setup.ingress
    assert [(r.path, r.service_port) for r in ingress.routes] == [
        ("/8080", HTTP_PORT),
        ("/9090", HTTP2_PORT),
        ("/ws", WS_PORT),
    ]
    assert ingress.annotation("upstream-hash-by") == "$binary_remote_addr"
    assert ingress.annotation("proxy-body-size") == "200m"
    assert ingress.annotation("proxy-read-timeout") == "300"
    assert ingress.annotation("enable-cors") == "true"
    curls = [s for s in scenario.steps if s.kind == CURL]
    assert {s.clients for s in curls} == {("10.232.41.102",)}


def test_incident_2_file_keeps_its_ingress():
    scenario = load(SCENARIOS / "incident2-consistent-hash-page-cache.yaml")
    ingress = scenario.setup.ingress
    assert [(r.path, r.service_port, r.host) for r in ingress.routes] == [("/", HTTP_PORT, None)]
    assert ingress.annotation("upstream-hash-by") == "$host$request_uri"
    assert any("html-render-pre:80 -> hellogo:8080" in note for note in scenario.notes)


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        loads(text, "report.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("expect:", "expct:", 23, "unknown key 'expct' (did you mean 'expect'?)"),
        ("{replicas: 3}", '{replicas: "3"}', 3, "hellogo.replicas must be an integer"),
        ("{name: d, again: many", "{name: d, again: e", 22, "no step named 'e'"),
        ("same_pod: [a]", "same_pod: [b]", 24, "no step named 'b'"),
        ("same_pod: [a]", "same_pods: [a]", 24, "did you mean 'same_pod'"),
        ("servicePort: 8081", "servicePort: 8081, servicePrt: 1", 17, "unknown key 'servicePrt'"),
        ("$binary_remote_addr", "$binary_remote_addr\n      x: @", 11, "not valid YAML"),
        ("upstream-hash-by:", "upstream-hash-bye:", 10, "did you mean 'upstream-hash-by'"),
        ("curl -s http", "curl -2 http", 19, "step 'a': curl: -2 is curl's --sslv2"),
        ("curl -s http", "curl --frobnicate http", 19, "unknown curl option '--frobnicate'"),
        ("client_ip: 10.232.41.102", "client_ip: 10.232.41", 19, "not an IP address"),
        ("/{run}/{i}", "/{run}", 20, "has no {i}"),
        ("  - {name: c, websocket", "  - {name: c, http: x, websocket", 21, "exactly one of"),
        ("hellogo: {replicas: 3}", "hellogo: {replicas: 3}\ntitle: again", 4, "given twice"),
        ("{path: /8080, backend", "{path: 8080, backend", 16, "must be a string"),
    ],
)
def test_a_malformed_file_names_path_line_and_problem(old, new, line, words):
    assert old in GOOD
    message = _error(GOOD.replace(old, new, 1))
    assert message.startswith(f"report.yaml:{line}: "), message
    assert words in message, message


def test_a_step_used_before_it_exists():
    text = GOOD.replace(
        "  - {name: c,",
        "  - {name: early, again: later}\n  - {name: later, http: http://h/x}\n  - {name: c,",
    )
    message = _error(text)
    assert message.startswith("report.yaml:21: "), message
    assert "step 'later' is used before it exists (it is defined at line 22" in message


def test_v1_ingress_with_beta_fields_points_into_the_ingress_block():
    text = GOOD.replace("extensions/v1beta1", "networking.k8s.io/v1")
    text = text.replace("{path: /8080,", "{path: /8080, pathType: Prefix,")
    message = _error(text)
    assert message.startswith("report.yaml:16: "), message
    assert "networking.k8s.io/v1 uses service.name and service.port" in message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty file"),
        ("title: x\n", 1, "scenario has no 'ingress'"),
        ("- a\n", 1, "scenario must be a mapping, not a list"),
        ("title: x\n---\ntitle: y\n", 3, "one scenario per file"),
    ],
)
def test_whole_file_problems(text, line, words):
    message = _error(text)
    assert message.startswith(f"report.yaml:{line}: "), message
    assert words in message


def test_unreadable_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"missing\.yaml:1: cannot read"):
        load(tmp_path / "missing.yaml")


def test_the_example_in_the_docs_is_valid_and_its_lines_are_right():
    text = (REPO / "docs" / "scenarios.md").read_text()
    example = re.findall(r"```yaml\n(.*?)```", text, re.S)[0]
    scenario = loads(example, "team.yaml")
    assert [e.line for e in scenario.expect] == [26]
    assert "✗ line 26: same_pod http, http2, ws (on one pod, per client)" in text


def test_status_shorthand_needs_a_curl_or_http_step():
    text = GOOD.replace("  - status: 200\n", "").replace(
        "expect:\n", "expect:\n  - status: {step: c, equals: 101}\n"
    )
    assert loads(text).expect[0].steps == ("c",)
    only_ws = text.split("steps:")[0] + (
        "steps:\n  - {name: c, websocket: ws://h/ws}\nexpect:\n  - status: 101\n"
    )
    assert "no curl or http step" in _error(only_ws)


def test_an_x_forwarded_for_header_is_the_client():
    text = GOOD.replace(
        'curl: "curl -s http://hellogo.d.xiaomi.net/8080", client_ip: 10.232.41.102',
        """curl: "curl -H 'X-Forwarded-For: 10.9.9.9, 10.0.0.1' http://hellogo.d.xiaomi.net/8080\"""",
    ).replace(
        '{name: many, http: "http://hellogo.d.xiaomi.net/8080/{run}/{i}"',
        "{name: many, headers: {X-Forwarded-For: 10.8.8.8, Accept: text/plain}, "
        'http: "http://hellogo.d.xiaomi.net/8080/{run}/{i}"',
    )
    a, many = loads(text).steps[:2]
    assert a.clients == ("10.9.9.9",) and a.curl is not None and a.curl.headers == ()
    assert many.clients == ("10.8.8.8",) and many.headers == (("Accept", "text/plain"),)
    both = text.replace("{name: many, headers:", "{name: many, client_ip: 10.7.7.7, headers:")
    assert "give the client once" in _error(both)
