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


#: The commit each action's tag pointed to when pinned (read from the actions' own git
#: history); the workflow names the tag in a comment after the SHA.
PINNED = {
    "actions/checkout": ("d23441a48e516b6c34aea4fa41551a30e30af803", "v6.1.0"),
    "actions/setup-python": ("ece7cb06caefa5fff74198d8649806c4678c61a1", "v6.3.0"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
}


def test_nightly_pins_actions_by_commit_with_the_tag_in_a_comment():
    steps = _workflow()["jobs"]["e2e-kind"]["steps"]
    uses = {str(s.get("uses", "")).split("@")[0]: str(s.get("uses", "")) for s in steps}
    text = WORKFLOW.read_text()
    for action, (sha, tag) in PINNED.items():
        assert uses[action] == f"{action}@{sha}"
        assert f"uses: {action}@{sha} # {tag}\n" in text
    assert all(len(u.split("@")[1]) == 40 for u in uses.values() if "@" in u)


def test_nightly_caches_pip_and_the_downloads():
    steps = _workflow()["jobs"]["e2e-kind"]["steps"]
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip"
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@"))
    assert "/bin" in cache["with"]["path"] and "lock.yaml" in cache["with"]["key"]
    env = _workflow()["jobs"]["e2e-kind"]["env"]
    assert cache["with"]["path"].startswith("${{ env.INGRESSBED_CACHE }}")
    assert env["INGRESSBED_CACHE"].endswith(".ingressbed-cache")
    failure = [s for s in steps if s.get("if") == "failure()"]
    assert failure and "docker ps -a" in failure[0]["run"]
