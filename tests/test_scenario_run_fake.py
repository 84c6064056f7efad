"""The scenario runner on the fake backend: several objects, live edits, cookie jars,
headers, version ranges and the explanation. The fake places requests as the controller
model says (``backends/fake_routes.py``): these tests check the runner and the judge, never a
data plane."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingressbed.backends.fake import FakeBackend
from ingressbed.scenario.load import load, loads
from ingressbed.scenario.play import play, skip_reason, version_skip

REPO = Path(__file__).resolve().parent.parent
REPORTS = sorted((REPO / "e2e" / "scenarios").glob("report-*.yaml"))


@pytest.fixture
def waited(monkeypatch) -> list[float]:
    """The seconds each ``wait`` step waited: the fake applies a change at once, so the
    report's own waits (for a real controller's 1 s sync) are recorded, not spent."""
    seconds: list[float] = []
    monkeypatch.setattr("ingressbed.scenario.run.time.sleep", seconds.append)
    return seconds


@pytest.fixture
def bed(waited):
    with FakeBackend("ingress-nginx", seed=7) as fake:
        yield fake


def test_there_are_four_reports():
    assert [p.name for p in REPORTS] == [
        "report-canary-cookie-affinity.yaml",
        "report-live-annotate-hash-key.yaml",
        "report-regex-path-cookie.yaml",
        "report-two-ingresses-hash-key.yaml",
    ]


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.stem)
def test_every_report_holds_on_the_model(path, bed):
    scenario = load(path)
    assert skip_reason(scenario, bed) is None
    verdict = play(scenario, bed)
    assert verdict.passed, verdict.render()


def test_the_younger_key_is_noted_and_the_explanation_names_the_creator(bed):
    verdict = play(load(REPO / "e2e/scenarios/report-two-ingresses-hash-key.yaml"), bed)
    assert verdict.explanation is not None
    assert (
        "ignored: default/api upstream-hash-by='$request_uri': backend default-app-80 was "
        "created by the older Ingress default/web" in verdict.render()
    )
    assert "backend default-app-80: Service default/app port 80, created by default/web" in (
        verdict.explanation.text
    )


def test_a_live_edit_is_recorded_with_what_was_then_served(bed, waited):
    scenario = load(REPO / "e2e/scenarios/report-live-annotate-hash-key.yaml")
    verdict = play(scenario, bed)
    run = verdict.run
    assert [name for name, _ in run.timeline] == ["", "rekey", "unhash", "rehash"]
    assert waited == [2, 2, 2]
    after = run.moments["after"].setup
    assert after.ingress.annotation("upstream-hash-by") == "$request_uri"
    assert "before" not in run.moments  # the first steps ran on scenario.setup
    assert any(n.startswith("step rekey: annotate Ingress shop") for n in run.notes)
    assert "stale: backend default-hellogo-8080" in verdict.explanation.text
    rendered = verdict.render()
    assert "note: after step rekey: stale: backend default-hellogo-8080: upstream-hash-by" in (
        rendered
    )


def test_the_jar_keeps_cookies_across_rounds_and_steps_per_client(bed):
    verdict = play(load(REPO / "e2e/scenarios/report-canary-cookie-affinity.yaml"), bed)
    first = [o for o in verdict.run.observations if o.step == "first"]
    later = [o for o in verdict.run.observations if o.step == "later"]
    assert all(o.cookie == "" for o in first)
    assert {o.client for o in later} == {o.client for o in first}
    assert all(o.cookie.startswith("INGRESSCOOKIE=") for o in later)
    assert all(o.header("set-cookie") for o in first)
    assert not any(o.header("set-cookie") for o in later)


SIMPLE = """\
title: t
ingress: |
  apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: web}
  spec:
    rules:
    - http:
        paths:
        - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 8080}}}}
steps:
  - {name: a, http: http://h/x, headers: {Cookie: theme=dark}, cookies: keep, repeat: 2}
expect:
  - header: {step: a, name: X-Pod-Name, present: true}
  - header: {step: a, name: X-Canary-Seen, present: false}
  - cookie: {step: a, name: theme, sent: true}
  - status: 200
    on: ingress-nginx@<1.11
"""


def test_a_steps_own_cookie_goes_first_and_header_expectations_see_kept_headers(bed):
    scenario = loads(SIMPLE, "s.yaml")
    verdict = play(scenario, bed)
    assert verdict.passed, verdict.render()
    assert [e.kind for e in scenario.expectations_for("ingress-nginx", "v1.15.1")] == [
        "header",
        "header",
        "cookie",
    ]
    assert "not judged: line 17: controller 1.15.1 is outside <1.11" in verdict.render()
    assert all(o.cookie == "theme=dark" for o in verdict.run.observations)


def test_a_release_outside_every_range_skips_with_the_reason(bed):
    only_old = (
        SIMPLE.split("expect:")[0] + "expect:\n  - status: 200\n    on: ingress-nginx@<1.11\n"
    )
    scenario = loads(only_old, "s.yaml")
    assert version_skip(scenario, bed) == (
        "s.yaml: controller 1.15.1 is outside every range the file states for ingress-nginx (<1.11)"
    )


PASTED_CURL = """\
title: a user's curl with a cookie file sticks to one pod
ingress: |
  apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata:
    name: web
    annotations:
      nginx.ingress.kubernetes.io/affinity: cookie
  spec:
    rules:
    - http:
        paths:
        - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
steps:
  - {name: first, curl: "curl -s -c jar.txt -b jar.txt http://h/", client_ip: 10.0.0.9}
  - {name: again, curl: "curl -s -b jar.txt http://h/", client_ip: 10.0.0.9, repeat: 4}
expect:
  - cookie: {step: again, name: INGRESSCOOKIE, sent: true, set: false}
  - same_pod: [first, again]
"""


@pytest.mark.slow
def test_a_pasted_curl_with_a_cookie_file_keeps_a_jar(bed):
    verdict = play(loads(PASTED_CURL, "s.yaml"), bed)
    assert verdict.passed, verdict.render()


ONE_SERVICE = """\
title: one Ingress, its Service pasted
ingress: |
  apiVersion: v1
  kind: Service
  metadata: {name: app}
  spec:
    ports: [{name: http, port: 80, targetPort: 8080}]
  ---
  apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata:
    name: web
    annotations:
      nginx.ingress.kubernetes.io/upstream-hash-by: "$binary_remote_addr"
  spec:
    rules:
    - http:
        paths:
        - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
steps:
  - {name: a, http: "http://h/x{i}", count: 10, client_ip: 10.0.0.1}
expect:
  - same_pod: [a]
"""


@pytest.mark.parametrize("plane", ["ingress-nginx", "nginx", "haproxy"])
def test_one_ingress_with_its_pasted_service_is_served_by_that_services_pods(plane):
    scenario = loads(ONE_SERVICE, "s.yaml")
    assert not scenario.setup.several and scenario.setup.service_names == ("app",)
    with FakeBackend(plane, seed=3) as fake:
        verdict = play(scenario, fake)
    assert verdict.passed, verdict.render()
    assert {o.pod.split("-fake-")[0] for o in verdict.run.observations} == {"app"}
