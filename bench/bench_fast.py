"""Wall time of the inner loop: ``tox -e fast``'s self-tests (no process started).

Runs ``pytest tests -m "not slow" -n 2`` (what ``tox -e fast`` runs) and, as the baseline
measured in the same run, the same tests in one process; prints both beside the target of
60 s on a 2-core machine.

    python bench/bench_fast.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from summary import record

REPO = Path(__file__).resolve().parent.parent
TARGET = 60.0
FAST = ["tests", "-m", "not slow", "-q", "-p", "no:cacheprovider"]


def timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0:
        raise SystemExit(f"bench: pytest {' '.join(args)} failed: {summary}")
    return elapsed, summary


def main() -> None:
    fast, fast_summary = timed([*FAST, "-n", "2"])
    serial, serial_summary = timed([*FAST, "-p", "no:xdist"])
    print(f"{'run':<44}{'seconds':>9}  summary")
    print(f"{'fast loop, 2 workers (target 60 s)':<44}{fast:>9.1f}  {fast_summary}")
    print(f"{'the same tests in one process (baseline)':<44}{serial:>9.1f}  {serial_summary}")
    print(f"fast / target = {fast / TARGET:.2f}; fast / one process = {fast / serial:.2f}")
    record("fast", "tox -e fast (pytest -m 'not slow' -n 2)", fast, "s", "one process", serial)


if __name__ == "__main__":
    main()
