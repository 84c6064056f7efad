"""The nightly workflow runs the e2e suite on kind over the lock's controller matrix."""

from __future__ import annotations

from pathlib import Path

import yaml

from ingressbed.tools import Lock

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "nightly.yml"


def _workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def test_nightly_matrix_is_the_lock_matrix():
    job = _workflow()["jobs"]["e2e-kind"]
    assert job["strategy"]["matrix"]["controller"] == Lock.load().matrix
    assert job["env"]["INGRESSBED_CONTROLLER_VERSION"] == "${{ matrix.controller }}"


def test_nightly_is_scheduled_and_dispatchable_and_uploads_always():
    wf = _workflow()
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    steps = wf["jobs"]["e2e-kind"]["steps"]
    run = next(s["run"] for s in steps if "pytest e2e" in s.get("run", ""))
    assert "--backend kind" in run and "--junitxml" in run and "--artifacts" in run
    assert run.count("--backend") == 1 and "tox" not in run
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"


def test_nightly_caches_downloads_and_uses_current_actions():
    steps = _workflow()["jobs"]["e2e-kind"]["steps"]
    uses = {str(s.get("uses", "")).split("@")[0]: str(s.get("uses", "")) for s in steps}
    assert uses["actions/checkout"] == "actions/checkout@v6"
    assert uses["actions/setup-python"] == "actions/setup-python@v6"
    assert uses["actions/upload-artifact"] == "actions/upload-artifact@v7"
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@v5"))
    assert "/bin" in cache["with"]["path"] and "lock.yaml" in cache["with"]["key"]
    env = _workflow()["jobs"]["e2e-kind"]["env"]
    assert cache["with"]["path"].startswith("${{ env.INGRESSBED_CACHE }}")
    assert env["INGRESSBED_CACHE"].endswith(".ingressbed-cache")
    failure = [s for s in steps if s.get("if") == "failure()"]
    assert failure and "docker ps -a" in failure[0]["run"]
