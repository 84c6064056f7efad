"""How the `ingressbed` command ends: a closed stdout, Ctrl-C (real pipes, real signals)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.real_processes import BLOCK_LINE, assert_nothing_left, interruptible

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "ingressbed.cli"]


def test_a_reader_closing_stdout_ends_the_command_quietly():
    # Far more output than a pipe holds, so the writer meets the closed pipe.
    proc = subprocess.Popen(
        [*CLI, "analyze", "--json", "--pods", "1500", "--keys", "1500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(2) == b"{\n"
    proc.stdout.close()  # what `| head` does
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141
    assert err == "", err


def test_ctrl_c_says_only_what_is_true_and_leaves_nothing(tmp_path):
    scenario = (
        REPO
        / "e2e"
        / "scenarios"
        / sorted(p.name for p in (REPO / "e2e" / "scenarios").glob("*.yaml"))[0]
    )
    proc = subprocess.Popen(
        [*CLI, "repro", str(scenario), "--backend", "local"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible,
    )  # fmt: skip
    assert proc.stderr is not None
    prefix, seen = None, []
    for line in proc.stderr:
        seen.append(line)
        match = BLOCK_LINE.search(line)
        if match:
            prefix = match.group(1)
        if "• Starting hellogo pods" in line:
            break
    assert prefix, "".join(seen)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + rest
    assert rest.strip().splitlines()[-1] == (
        "ingressbed: interrupted; nothing it started is left running"
    )
    assert_nothing_left(prefix, "".join(seen) + rest)
