"""`ingressbed repro` for CI: exit statuses 0-4, one line on stderr, and the JUnit report.

Played on the fake backend (in process, no pods): these check the command, not a data plane.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ingressbed.backends.fake import FakeBackend
from ingressbed.cli import main
from ingressbed.errors import SetupError

REPO = Path(__file__).resolve().parent.parent
CANARY = REPO / "e2e" / "scenarios" / "report-canary-cookie-affinity.yaml"
TWO = REPO / "e2e" / "scenarios" / "report-two-ingresses-hash-key.yaml"
FAKE = ["--backend", "fake", "--data-plane", "ingress-nginx", "-q"]
ONE = """\
title: one Ingress
ingress: |
  apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: web}
  spec:
    rules:
    - http:
        paths:
        - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
steps:
  - {name: a, http: "http://h/x", client_ip: 10.1.2.3, repeat: 3}
expect:
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["repro", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def scenario(tmp_path: Path, expect: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(ONE + expect)
    return str(path)


def test_0_when_every_expectation_holds_and_the_junit_report_lists_them(tmp_path, capsys):
    junit = tmp_path / "report.xml"
    status, out, err = run(capsys, str(TWO), *FAKE, "--junit", str(junit))
    assert status == 0, err
    assert out.rstrip().endswith("PASS: 2 expectations hold")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names[0].startswith("line ") and "same_pod one-client" in names[0]
    assert "PASS: 2 expectations hold" in (suite.findtext("system-out") or "")


def test_1_when_one_fails_with_a_failure_in_the_report(tmp_path, capsys):
    junit = tmp_path / "report.xml"
    path = scenario(tmp_path, "  - same_pod: [a]\n")  # round robin: three pods
    status, out, _ = run(capsys, path, *FAKE, "--junit", str(junit))
    assert status == 1 and "FAIL: 1 of 1 expectations failed" in out
    failure = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message", "").startswith("10.1.2.3: 3 pod(s)")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["missing.yaml", "--backend", "fake"], "missing.yaml:1: cannot read the scenario file"),
        ([str(TWO), "--backend", "docker"], "--backend 'docker': not one of"),
        ([str(TWO), "--backend", "cluster"], "the cluster backend needs a kubeconfig context"),
    ],
)
def test_2_for_a_malformed_file_or_a_bad_option(argv, said, capsys):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.startswith("ingressbed: error: ") and said in err and err.count("\n") == 1


def test_3_when_the_bed_itself_fails(tmp_path, capsys, monkeypatch):
    def broken(self: FakeBackend) -> None:
        raise SetupError("port 80 is taken")

    monkeypatch.setattr(FakeBackend, "start", broken)
    junit = tmp_path / "report.xml"
    status, out, err = run(capsys, str(TWO), *FAKE, "--junit", str(junit))
    assert (status, out, err) == (3, "", "ingressbed: error: port 80 is taken\n")
    error = ET.parse(junit).getroot().find("testsuite/testcase/error")
    assert error is not None and error.get("message") == "port 80 is taken"


def test_4_when_the_backend_lacks_a_capability_or_the_release_is_out_of_range(tmp_path, capsys):
    junit = tmp_path / "report.xml"
    status, out, err = run(
        capsys, str(CANARY), "--backend", "fake", "--data-plane", "haproxy", "--junit", str(junit)
    )
    assert status == 4 and out == ""
    assert err == "ingressbed: skipped: backend fake (haproxy) lacks: canary, several-objects\n"
    assert ET.parse(junit).getroot().find("testsuite/testcase/skipped") is not None
    # what the plane's controller has no equivalent of comes first, with its reason
    status, out, err = run(capsys, str(CANARY), "--backend", "fake", "--data-plane", "nginx")
    assert status == 4 and out == ""
    assert err.startswith("ingressbed: skipped: nginx has no equivalent of affinity: cookie: ")
    old = scenario(tmp_path, "  - same_pod: [a]\n    on: ingress-nginx@<1.0\n")
    status, out, err = run(capsys, old, *FAKE)
    assert status == 4 and out == ""
    assert err == (
        f"ingressbed: skipped: {old}: controller 1.15.1 is outside every range the file states "
        "for ingress-nginx (<1.0)\n"
    )


def test_explain_prints_the_controller_model_before_the_verdict(capsys):
    status, out, _ = run(capsys, str(TWO), *FAKE, "--explain")
    assert status == 0
    explanation, _, verdict = out.partition("scenario: ")
    assert explanation.startswith("ingress-nginx v1.15.1 (controller model)")
    assert "ignored: default/api upstream-hash-by='$request_uri'" in explanation
    assert verdict.startswith("the younger Ingress's upstream-hash-by is ignored")


def test_a_dry_run_runs_nothing(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    status, out, _ = run(capsys, str(TWO), "--dry-run")
    assert status == 0
    shown = TWO.relative_to(REPO)
    assert out == f"{shown}: valid (2 steps, 2 expectations); nothing ran\n"
    status, out, _ = run(capsys, str(TWO), "--dry-run", "--explain")
    assert status == 0 and out.startswith("dry run: nothing ran; pod addresses are placeholders")
    assert "endpoints: 10.0.1.1:8080, 10.0.1.2:8080" in out
