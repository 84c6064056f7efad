"""The report plugin in a pytest run of its own: results, skips and errors become a report."""

from __future__ import annotations

import json
import textwrap

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest


class FakeBed:
    name = "fake"
    data_plane = "nginx"
    capabilities = frozenset()

    def versions(self):
        return {"fake": "1.0"}


@pytest.fixture(scope="session")
def bed():
    yield FakeBed()
"""

TESTS = """
import pytest

from ingressbed import catalog
from ingressbed.report.results import MEASURED, CandidateResult

CATALOG = catalog.load()


PICKED = [CATALOG.get(i) for i in ("round-robin", "ewma", "ip-hash-three-ports")]


@pytest.mark.parametrize("candidate", PICKED, ids=lambda c: c.id)
def test_candidate(candidate, catalog_recorder):
    catalog_recorder.begin(candidate, CATALOG)
    if candidate.id == "ewma":
        pytest.skip("backend fake (nginx) lacks: ewma")
    if candidate.id == "ip-hash-three-ports":
        raise RuntimeError("the bed broke")
    catalog_recorder.record(CandidateResult(candidate.id, candidate.intent, MEASURED))


def test_unrelated():
    pass
"""


def run(pytester, tests):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_catalog_like=textwrap.dedent(tests))
    artifacts = pytester.path / "artifacts"
    return pytester.runpytest("--artifacts", str(artifacts), "-p", "no:cacheprovider"), artifacts


def test_the_report_covers_every_catalog_entry(pytester):
    result, artifacts = run(pytester, TESTS)
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    (folder,) = artifacts.iterdir()
    data = json.loads((folder / "report.json").read_text())
    assert (data["backend"], data["data_plane"], data["versions"]) == (
        "fake",
        "nginx",
        {"fake": "1.0"},
    )
    status = {c["id"]: (c["status"], c["reason"]) for c in data["candidates"]}
    assert status["round-robin"] == ("measured", "")
    assert status["ewma"] == ("skipped", "backend fake (nginx) lacks: ewma")
    assert status["ip-hash-three-ports"][0] == "error"
    assert "the bed broke" in status["ip-hash-three-ports"][1]
    assert status["service-upstream"] == ("not run", "not selected in this run")
    assert len(data["candidates"]) == 13
    ewma = next(c for c in data["candidates"] if c["id"] == "ewma")
    assert ewma["plane"] == "nginx"  # the run's plane: the catalog states some for it
    assert [p["name"] for p in ewma["properties"]] == ["slow_pod_share"]
    assert ewma["properties"][0]["passed"] is None  # listed, not judged
    assert (folder / "report.md").is_file()
    result.stdout.fnmatch_lines(["*ingressbed catalog report*", f"report: {folder}/report.md"])
    result.stdout.fnmatch_lines(["── candidate round-robin (1/13)*"])


def test_no_report_without_catalog_results(pytester):
    result, artifacts = run(pytester, "def test_other():\n    pass\n")
    result.assert_outcomes(passed=1)
    assert not artifacts.exists()
    assert "ingressbed catalog report" not in result.stdout.str()


def test_a_played_candidates_verdicts_become_its_report_record():
    from ingressbed import catalog
    from ingressbed.evidence import Evidence
    from ingressbed.placement import synthetic_endpoints
    from ingressbed.properties import Traffic
    from ingressbed.report.candidates import played
    from ingressbed.scenario.verdict import judge
    from ingressbed.vocabulary import Observation

    candidate = catalog.load().get("round-robin")
    eps = synthetic_endpoints(2, 8080)
    pods = {"pod-a": eps[0].address, "pod-b": eps[1].address}
    first = [
        Observation("http", "c", "h", f"/p{i}", name, ip, 8080, 200, "MISS", step="page")
        for i, (name, ip) in enumerate([*pods.items()] * 3)
    ]
    lost = Observation("http", "c", "h", "/x", "", "", 0, 0, step="page", error="refused")
    mix = Traffic({8080: eps}, pods, [], [*first, lost], [], [], [], None, {}, requests=7)
    evidence = Evidence((), tuple(pods), "t", "nginx", candidate.scenario.setup, {}, {"mix": mix})
    verdict = judge(candidate.scenario, evidence)
    record = played(candidate, "nginx", verdict)
    assert record.status == "measured" and not record.ok
    assert record.requests == 7 and record.errors == 1
    assert record.error_examples == ("http c h/x -> 0 refused",)
    assert record.load == {"pod-a": 3, "pod-b": 3}
    answered = record.property("answered")
    assert answered is not None and answered.passed is False
    sticky = record.property("client_stickiness")
    assert sticky is not None and sticky.kind == "binomial" and sticky.passed is False
    assert "nothing to judge" in sticky.detail  # no client visits in this made-up mix
