"""Wall time of the e2e suite on the local backend, pod and data-plane startup included.

Runs ``pytest e2e --backend local``, on its default data plane, on ``--data-plane haproxy``
and on ``--data-plane envoy``, in the current interpreter's environment (the virtualenv
already built) and prints each wall time beside the target of 60 s, and beside the
self-tests' time measured in the same run as a baseline.

    python bench/bench_e2e.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from summary import record

REPO = Path(__file__).resolve().parent.parent
TARGET = 60.0


def timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"],
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
    e2e, e2e_summary = timed(["e2e", "--backend", "local"])
    haproxy, haproxy_summary = timed(["e2e", "--backend", "local", "--data-plane", "haproxy"])
    envoy, envoy_summary = timed(["e2e", "--backend", "local", "--data-plane", "envoy"])
    unit, unit_summary = timed(["tests"])
    print(f"{'run':<36}{'seconds':>9}  summary")
    print(f"{'e2e on local default (target 60 s)':<36}{e2e:>9.1f}  {e2e_summary}")
    print(f"{'e2e on local haproxy (target 60 s)':<36}{haproxy:>9.1f}  {haproxy_summary}")
    print(f"{'e2e on local envoy (target 60 s)':<36}{envoy:>9.1f}  {envoy_summary}")
    print(f"{'self-tests (baseline)':<36}{unit:>9.1f}  {unit_summary}")
    print(
        f"default e2e / target = {e2e / TARGET:.2f}; haproxy e2e / target = "
        f"{haproxy / TARGET:.2f}; envoy e2e / target = {envoy / TARGET:.2f}"
    )
    record(
        "e2e", "e2e suite on local default plane, start-up included", e2e, "s", "self-tests", unit
    )
    record("e2e", "e2e suite on local haproxy, start-up included", haproxy, "s", "self-tests", unit)
    record("e2e", "e2e suite on local envoy, start-up included", envoy, "s", "self-tests", unit)


if __name__ == "__main__":
    main()
