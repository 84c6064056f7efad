"""Cleanup that holds at every moment, with real nginx, real processes and real signals.

A real e2e session (``e2e/test_scale.py`` on the local backend) is interrupted with one or
two SIGINTs at a moment picked by what it prints or writes (never by elapsed time): during
bring-up, while its pods start, while traffic flows, during teardown. Afterwards no process
of its block runs, and its run folder and lock file are gone. A SIGKILLed runner takes its
pods and nginx with it, and the next run reclaims its folder and lock.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingressbed.backends.local_addresses import LOCK_DIR, reclaim
from tests.real_processes import (
    BLOCK_LINE,
    assert_nothing_left,
    children,
    interruptible,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent
#: The session's output block-buffered, as in a CI log: its lines must still come in order.
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
MOMENTS = {
    # moment: the line after which the signal is sent (and, for traffic, a file to grow);
    # {plane} is the data plane's program (nginx, haproxy, envoy)
    "bring-up": "• Starting {plane} ...",
    "pods-start": "• Starting hellogo pods",
    "traffic": "✓ Starting hellogo pods",
    "teardown": "local backend: stopping {plane} and pods",
}
#: Where the access log of each program shows requests, and how a request line looks.
ACCESS_LOG = {
    "nginx": ("access.log", ""),
    "haproxy": ("haproxy.log", "backend=hellogo-"),
    "envoy": ("access.log", "cluster=hellogo-"),
}
CASES = [
    *((moment, presses, "nginx") for moment in MOMENTS for presses in (1, 2)),
    # HAProxy's master-worker lifecycle: a few moments are enough on top of nginx's.
    ("bring-up", 1, "haproxy"),
    ("traffic", 2, "haproxy"),
    ("teardown", 1, "haproxy"),
    # Envoy: one process watching its files; the same moments.
    ("bring-up", 1, "envoy"),
    ("traffic", 2, "envoy"),
    ("teardown", 1, "envoy"),
]


@pytest.mark.parametrize(
    ("moment", "presses", "plane"),
    CASES,
    ids=[f"{m}-{'ctrl-c-twice' if p == 2 else 'ctrl-c'}-{plane}" for m, p, plane in CASES],
)
def test_ctrl_c_at_any_moment_leaves_nothing_behind(moment, presses, plane, tmp_path):
    target = "e2e/test_scale.py"
    if moment == "teardown":
        target += "::test_adding_a_seventh_pod_moves_about_one_in_seven_keys_all_to_it"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", target, "--backend", "local", "-p", "no:cacheprovider",
         "-q", "-s", "--artifacts", str(tmp_path / "reports"), "--data-plane", plane],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=interruptible, env=BUFFERED,
    )  # fmt: skip
    mark = MOMENTS[moment].format(plane=plane)
    prefix = run_dir = None
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            match = BLOCK_LINE.search(line)
            if match:
                prefix, run_dir = match.group(1), Path(match.group(2))
            if mark in line:
                break
        assert prefix and run_dir, "".join(seen)[-3000:]
        assert mark in seen[-1], "".join(seen)[-3000:]
        if moment == "traffic":
            name, request = ACCESS_LOG[plane]
            log = run_dir / name
            wait_for(
                lambda: log.exists() and log.stat().st_size > 0 and request in log.read_text(),
                f"requests in {name}",
            )
        for _ in range(presses):
            proc.send_signal(signal.SIGINT)
        output = "".join(seen) + proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if moment != "teardown":  # in teardown the tests may all have passed already
        assert proc.returncode != 0, output[-2000:]
    assert "everything started was cleaned up" not in output
    assert "Traceback" not in output, output[-3000:]
    last = [line for line in output.splitlines() if line.strip()][-1]
    assert last.startswith("ingressbed: interrupted; "), output[-3000:]  # one line says it
    assert last.endswith("; nothing it started is left running"), output[-3000:]
    assert_nothing_left(prefix, output)


RUNNER = """
import sys
from pathlib import Path
from ingressbed import layouts
from ingressbed.backends.local import LocalBackend
from ingressbed.options import BedOptions

bed = LocalBackend(
    BedOptions(backend="local", quiet=True, artifacts=Path(sys.argv[1]), data_plane=sys.argv[2])
)
try:
    bed.start()
    bed.apply(layouts.setup("one-port", replicas=2))
    pods = " ".join(str(child.pid) for _, child in bed._pods._pods)
    print(bed._block.prefix, bed._run_dir, bed._proxy.pid, pods, flush=True)
    sys.stdin.read()
finally:
    bed.close()
"""


def start_runner(
    tmp_path: Path, plane: str = "nginx"
) -> tuple[subprocess.Popen[str], str, Path, int, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(tmp_path / "reports"), plane],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    prefix, run_dir, master, *pods = proc.stdout.readline().split()
    return proc, prefix, Path(run_dir), int(master), [int(p) for p in pods]


def reclaim_once(prefix: str) -> None:
    """Reclaim what dead runs left, as the next run does; the dead run's block is gone.

    Under ``pytest -n`` a bed started by another test reclaims too, and may be the one
    that takes this block first: then it is no longer there to take, and nothing of it
    may be left (what the callers assert next); it may still be removing it.
    """
    if prefix not in reclaim():
        lock = LOCK_DIR / f"{prefix}.lock"
        wait_for(lambda: not lock.exists(), f"{prefix} reclaimed by another run")


@pytest.mark.parametrize("plane", ["nginx", "haproxy", "envoy"])
def test_a_sigkilled_runner_takes_its_processes_and_the_next_run_reclaims_the_rest(tmp_path, plane):
    proc, prefix, run_dir, master, pods = start_runner(tmp_path, plane)
    workers = children(master)
    assert (workers or plane == "envoy") and len(pods) == 2  # Envoy has threads, no workers
    proc.kill()
    proc.wait()
    assert wait_gone([master, *workers, *pods]) == [], f"pods and {plane} die with the runner"
    reclaim_once(prefix)
    assert not run_dir.exists()
    assert not (LOCK_DIR / f"{prefix}.lock").exists()


@pytest.mark.parametrize("plane", ["nginx", "haproxy"])
def test_reclaim_kills_workers_orphaned_when_runner_and_the_master_die_together(tmp_path, plane):
    proc, prefix, run_dir, master, pods = start_runner(tmp_path, plane)
    workers = children(master)
    assert workers
    os.kill(master, signal.SIGKILL)
    proc.kill()
    proc.wait()
    assert wait_gone(pods) == []
    reclaim_once(prefix)
    assert wait_gone(workers) == [], f"no {plane} worker survives the reclaim"
    assert not run_dir.exists()
    assert not (LOCK_DIR / f"{prefix}.lock").exists()


def test_a_live_run_is_never_reclaimed(tmp_path):
    proc, prefix, run_dir, master, pods = start_runner(tmp_path)
    try:
        assert prefix not in reclaim()
        assert run_dir.exists()
        assert wait_gone([master, *pods], timeout=0.0) == sorted([master, *pods])
    finally:
        proc.stdin.close()  # the runner ends normally and cleans up
        assert proc.wait(timeout=30) == 0
    assert_nothing_left(prefix, "")


INTERRUPTED_LINE = re.compile(
    r"ingressbed: interrupted; stopped (nginx|haproxy|envoy), stopped \d+ pods, removed its folder "
    r"/\S+/ingressbed-127\.\d+\.\d+-\S+, released block 127\.\d+\.\d+\.0/24; "
    r"nothing it started is left running"
)


@pytest.mark.parametrize("plane", ["nginx", "haproxy", "envoy"])
def test_ctrl_c_in_a_scale_step_then_again_while_the_report_is_drawn(plane, tmp_path):
    """The first press lands in a catalog candidate's scale step, the second once the
    report has begun (its report.json is on disk, the PNGs are being drawn). The bed is
    cleaned up whatever the second press interrupts, the results stay, and the session
    ends with one line saying what was cleaned up, no traceback."""
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "e2e/test_catalog.py", "-k", "host or round-robin",
         "--backend", "local", "--data-plane", plane, "-p", "no:cacheprovider", "-q", "-s",
         "--artifacts", str(reports)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=interruptible, env=BUFFERED,
    )  # fmt: skip
    prefix = None
    seen: list[str] = []
    scale_steps = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            match = BLOCK_LINE.search(line)
            if match:
                prefix = match.group(1)
            if "• Starting hellogo pods (6 -> 7)" in line:
                scale_steps += 1
                if scale_steps == 2:  # the second candidate's scale step: one is recorded
                    break
        assert prefix and scale_steps == 2, "".join(seen)[-3000:]
        proc.send_signal(signal.SIGINT)
        wait_for(lambda: list(reports.glob("*/report.json")), "report.json written")
        proc.send_signal(signal.SIGINT)  # while the PNGs are drawn
        output = "".join(seen) + proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if line.strip()]
    assert INTERRUPTED_LINE.fullmatch(lines[-1]), output[-3000:]
    assert sum("ingressbed: interrupted" in line for line in lines) == 1, output[-3000:]
    assert_nothing_left(prefix, output)
    (report,) = reports.glob("*/report.json")
    measured = [
        c["id"] for c in json.loads(report.read_text())["candidates"] if c["status"] == "measured"
    ]
    assert measured, "the candidate measured before the first Ctrl-C is in the report"
    assert (report.parent / "report.md").is_file()
