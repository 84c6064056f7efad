"""Probe engine vs wrk on the same route and concurrency, side by side in one run.

Prints requests/s of wrk (the baseline), of the fast engine and of the httpx engine,
their ratios to wrk, and how long it takes to measure 10,000 distinct clients'
placements. Real nginx, real hellogo processes, loopback only.

    python bench/bench_probe.py [--seconds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time

from summary import record

from ingressbed import layouts, measure, traffic
from ingressbed.backends.local import LocalBackend
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.options import BedOptions

PATH = "/8080/bench"


def wrk_rps(url: str, host: str, seconds: float, concurrency: int) -> float:
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("bench: wrk not found (Debian/Ubuntu: apt-get install wrk)")
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds:g}s",
            "-H",
            f"Host: {host}",
            "-H",
            "X-Forwarded-For: 10.1.2.3",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"bench: could not read wrk's output:\n{out}")
    return float(match.group(1))


def engine_rps(bed: LocalBackend, engine: str, count: int, concurrency: int) -> float:
    clients = traffic.clients(count, seed=99)
    requests = [HttpRequest(PATH, layouts.DEFAULT_HOST, c, route="/8080") for c in clients]
    start = time.perf_counter()
    observations = probe(bed.address(), requests, concurrency=concurrency, engine=engine)
    elapsed = time.perf_counter() - start
    failed = [o for o in observations if not o.ok]
    if failed:
        raise SystemExit(f"bench: {len(failed)} requests failed, e.g. {failed[0]}")
    return len(observations) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    bed = LocalBackend(BedOptions(backend="local", quiet=True))
    bed.start()
    try:
        bed.apply(layouts.setup("three-ports", {"upstream-hash-by": "$binary_remote_addr"}))
        url = f"{bed.address().base_url}{PATH}"
        baseline = wrk_rps(url, layouts.DEFAULT_HOST, args.seconds, args.concurrency)
        fast = engine_rps(bed, "fast", int(baseline * args.seconds * 0.4) or 1000, args.concurrency)
        slow = engine_rps(bed, "httpx", 2000, args.concurrency)

        clients = traffic.clients(10_000, seed=7)
        requests = [HttpRequest(PATH, layouts.DEFAULT_HOST, c, route="/8080") for c in clients]
        start = time.perf_counter()
        observations = probe(bed.address(), requests, concurrency=args.concurrency)
        placement_seconds = time.perf_counter() - start
        placed = len(measure.assignment(observations, lambda o: o.client))
    finally:
        bed.close()

    print(
        f"route: nginx -> hellogo {PATH}, $binary_remote_addr hash, 6 pods, "
        f"concurrency {args.concurrency}"
    )
    print(f"{'client':<14}{'requests/s':>12}{'vs wrk':>9}")
    print(f"{'wrk (baseline)':<14}{baseline:>12.0f}{1.0:>9.2f}")
    print(f"{'fast engine':<14}{fast:>12.0f}{fast / baseline:>9.2f}")
    print(f"{'httpx engine':<14}{slow:>12.0f}{slow / baseline:>9.2f}")
    record("probe", "fast probe engine", fast, "req/s", "wrk", baseline)
    record("probe", "httpx probe engine", slow, "req/s", "wrk", baseline)
    print(
        f"10,000 distinct clients placed: {placed} clients in {placement_seconds:.2f} s "
        f"(target <= 10 s)"
    )


if __name__ == "__main__":
    main()
