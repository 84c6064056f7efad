"""The artifacts folder stays bounded; evidence named in messages still exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingressbed import artifacts, layouts
from ingressbed.backends.local import LocalBackend
from ingressbed.errors import ConfigError, ToolError
from ingressbed.options import BedOptions


def test_only_the_newest_runs_are_kept_and_nothing_else_is_touched(tmp_path):
    for stamp in ("20250101-000000", "20250101-000001", "20250101-000001-2", "20250102-000000"):
        (tmp_path / stamp).mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "report.json").write_text("{}")
    newest = artifacts.new_run_folder(tmp_path, keep=3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["20250101-000001-2", "20250102-000000", newest.name, "notes", "report.json"]


def test_a_log_is_cut_to_its_end_and_the_cut_is_said(tmp_path):
    src = tmp_path / "error.log"
    src.write_text("".join(f"line {n}\n" for n in range(100_000)))
    note = artifacts.copy_tail(src, tmp_path / "copy.log", limit=1000)
    copy = (tmp_path / "copy.log").read_text()
    assert copy.startswith("[... trimmed by ingressbed")
    assert copy.endswith("line 99999\n") and len(copy) < 1100
    assert note is not None and re.fullmatch(r"copy.log: kept the last \d+ of \d+ bytes", note)
    small = tmp_path / "small.log"
    small.write_text("x\n")
    assert artifacts.copy_tail(small, tmp_path / "small-copy.log") is None


def test_a_tests_diagnostics_stay_within_the_budget(tmp_path):
    for name, size in (("a.log", 100), ("b.log", 5000), ("c.log", 3000)):
        (tmp_path / name).write_bytes(b"x" * size)
    notes = artifacts.bound(tmp_path, budget=4000)
    assert [n.split(":")[0] for n in notes] == ["b.log"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log", "c.log"]


@pytest.mark.slow
def test_a_rejected_config_points_at_a_copy_that_outlives_the_run(tmp_path):
    bed = LocalBackend(BedOptions(backend="local", quiet=True, artifacts=tmp_path / "reports"))
    bed.start()
    try:
        with pytest.raises(ConfigError) as caught:
            bed.apply(layouts.setup("one-port", {"proxy-body-size": "lots"}, replicas=1))
    finally:
        bed.close()
    message = str(caught.value)
    assert "\n" not in message
    kept = Path(re.search(r"\(kept in (\S+)\)", message).group(1))
    assert kept.is_relative_to(tmp_path / "reports")
    assert (kept / "nginx.conf").exists() and (kept / "nginx-t.out").exists()
    for path in re.findall(r"(/\S+)", message):
        assert Path(re.sub(r"(:\d+)?\)?$", "", path)).exists(), f"{path} is named but gone"


@pytest.mark.slow
def test_an_unwritable_artifacts_folder_stops_pytest_at_start_up(tmp_path):
    (tmp_path / "file").write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--artifacts", str(tmp_path / "file" / "r"),
         "-p", "no:cacheprovider", "--co", "-q", str(Path(__file__))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 4, result.stdout + result.stderr
    assert "is a file, not a folder" in result.stderr
    assert "INTERNALERROR" not in result.stdout + result.stderr


def test_the_local_bring_up_is_a_list_of_described_steps():
    from ingressbed.backends.bringup import describe_all

    bed = LocalBackend(BedOptions(backend="local", quiet=True))
    steps = bed.bring_up()
    assert [s.title for s in steps] == [
        "Checking the artifacts folder",
        "Finding nginx",
        "Reserving a loopback block",
        "Starting nginx",
    ]
    assert all(s.detail for s in steps)
    plan = describe_all(steps)
    assert plan.startswith("1. Checking the artifacts folder\n    check that reports")
    assert "nginx -t" in plan and "lock a free 127.A.B.0/24" in plan


def test_a_bring_up_step_that_fails_says_which_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_NGINX", "/nonexistent/nginx")
    bed = LocalBackend(BedOptions(backend="local", quiet=True, artifacts=tmp_path))
    with pytest.raises(ToolError, match=r"^Finding nginx: INGRESSBED_NGINX=/nonexistent/nginx"):
        bed.start()
    assert bed._block is None


@pytest.mark.slow
def test_a_backends_diagnostics_keep_the_end_of_long_logs_and_say_so(tmp_path):
    bed = LocalBackend(BedOptions(backend="local", quiet=True, artifacts=tmp_path))
    bed.start()
    try:
        bed.apply(layouts.setup("one-port", replicas=1))
        with (bed._run_dir / "error.log").open("a") as log:  # a long-running bed's log
            log.writelines(f"noise {n}\n" for n in range(60_000))
            log.write("the line that explains the failure\n")
        paths = bed.diagnostics(tmp_path / "diag")
    finally:
        bed.close()
    names = {p.name for p in paths}
    assert {"nginx-error.log", "nginx-nginx.conf", "backends.json", "TRIMMED.txt"} <= names
    kept = (tmp_path / "diag" / "nginx-error.log").read_text()
    assert kept.endswith("the line that explains the failure\n")
    assert len(kept) <= artifacts.LOG_TAIL_BYTES + 100
    assert "nginx-error.log: kept the last" in (tmp_path / "diag" / "TRIMMED.txt").read_text()
    assert sum(p.stat().st_size for p in paths) <= artifacts.TEST_BUDGET_BYTES
