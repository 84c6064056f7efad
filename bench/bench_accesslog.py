"""Access-log analysis benchmark: lines per second beside a bare regex parse of the same file.

Run: ``.venv/bin/python bench/bench_accesslog.py [--lines 1000000] [--repeat 3]``.

Generates a Zipf-popular log in ingress-nginx's default format (``upstreaminfo``,
``ingressbed.accesslog.generate``) into a temporary file, then times, on that file:

* ``bare``: a hand-written regex over each line, capturing every field (what a
  throw-away script would do), reading the file the same way;
* ``analyze``: what ``ingressbed analyze --access-log`` does for one candidate
  (ingress-nginx, ``$request_uri``, 6 pods): parse, key, ring pick, per-pod cache,
  then the summary with remapping shares;
* ``analyze x3``: the same with three candidates (two keys and round robin).

Target: ``analyze`` at most 3x the bare parse (the ratio is printed). Best of
``--repeat`` runs each; the exit status is 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from summary import record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingressbed.accesslog import generate, read
from ingressbed.accesslog.records import Extractor
from ingressbed.accesslog.results import Candidate, Settings
from ingressbed.accesslog.simulate import Simulation
from ingressbed.placement import synthetic_endpoints

TARGET = 3.0
BARE = re.compile(
    r'(\S+) - (\S+) \[([^\]]*)\] "([^"]*)" (\d+) (\d+) "([^"]*)" "([^"]*)" (\d+) (\S+) '
    r"\[([^\]]*)\] \[([^\]]*)\] (\S+(?:, \S+)*) (\S+(?:, \S+)*) (\S+(?:, \S+)*) "
    r"(\S+(?:, \S+)*) (\S+)"
)


def bare(path: str) -> int:
    matched = 0
    with read.open_log(path) as stream:
        for chunk in read.chunks(stream, path):
            for line in chunk:
                m = BARE.match(line)
                if m is not None:
                    m.groups()
                    matched += 1
    return matched


def analyze(path: str, candidates: list[Candidate]) -> int:
    keys = [c.hash_by for c in candidates if c.hash_by]
    extractor = Extractor.build("upstreaminfo", keys)
    settings = Settings(endpoints=tuple(synthetic_endpoints(6)))
    simulation = Simulation(extractor, candidates, settings)
    line = 1
    with read.open_log(path) as stream:
        for chunk in read.chunks(stream, path):
            simulation.feed(chunk, line)
            line += len(chunk)
    return simulation.result().requests


def best_of(repeat: int, action: Callable[[], int]) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = action()
        times.append(time.perf_counter() - start)
    return min(times), count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    one = [Candidate("ingress-nginx", "$request_uri")]
    three = [*one, Candidate("nginx", "$remote_addr"), Candidate("round-robin")]
    with tempfile.TemporaryDirectory(prefix="ingressbed-bench-") as folder:
        path = str(Path(folder) / "access.log")
        start = time.perf_counter()
        with open(path, "w", encoding="ascii") as out:
            out.writelines(generate.lines(args.lines, pages=20_000, clients=50_000))
        size = Path(path).stat().st_size
        print(
            f"python {sys.version.split()[0]}; generated {args.lines:,} upstreaminfo lines "
            f"({size / 1e6:.0f} MB, Zipf s=1.1 over 20,000 pages) in "
            f"{time.perf_counter() - start:.1f} s"
        )
        bare_s, bare_n = best_of(args.repeat, lambda: bare(path))
        one_s, one_n = best_of(args.repeat, lambda: analyze(path, one))
        three_s, three_n = best_of(args.repeat, lambda: analyze(path, three))
    assert bare_n == one_n == three_n == args.lines, (bare_n, one_n, three_n)
    ratio = one_s / bare_s
    print(f"bare regex parse   {bare_s:6.2f} s  {bare_n / bare_s:>11,.0f} lines/s")
    record(
        "accesslog",
        "analyze, 1 candidate",
        one_n / one_s,
        "lines/s",
        "bare regex parse",
        bare_n / bare_s,
    )
    print(
        f"analyze (1 cand.)  {one_s:6.2f} s  {one_n / one_s:>11,.0f} lines/s  "
        f"ratio {ratio:.2f}x  {'ok' if ratio <= TARGET else f'SLOW (target {TARGET:g}x)'}"
    )
    print(
        f"analyze (3 cand.)  {three_s:6.2f} s  {three_n / three_s:>11,.0f} lines/s  "
        f"ratio {three_s / bare_s:.2f}x  (no target)"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
