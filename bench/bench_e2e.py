"""Wall time of the e2e suite on the local backend, pod and data-plane startup included.

Runs ``pytest e2e --backend local --data-plane P`` for one plane of each family: the
default ``ingress-nginx`` (ingress-nginx (local): the bed's own Lua balancer on nginx),
``nginx``, ``haproxy`` and ``envoy``, one after the other, in the current interpreter's
environment (the virtualenv already built). Each wall time is printed beside the target of
60 s and beside the baseline measured in the same run: the inner loop (``tox -e fast``'s
``pytest tests -m "not slow" -n 2``), which starts no process, so the ratio shows what
the real programs and their traffic cost on this machine.

    python bench/bench_e2e.py [PLANE ...]
"""

from __future__ import annotations

import sys

from bench_fast import FAST, timed
from summary import record

TARGET = 60.0  # seconds for the e2e suite on one plane
PLANES = ["ingress-nginx", "nginx", "haproxy", "envoy"]
BASELINE = [*FAST, "-n", "2"]
QUIET = ["-q", "-p", "no:cacheprovider"]


def label(plane: str) -> str:
    return "ingress-nginx (local)" if plane == "ingress-nginx" else plane


def main() -> None:
    planes = sys.argv[1:] or PLANES
    runs = {p: timed(["e2e", "--backend", "local", "--data-plane", p, *QUIET]) for p in planes}
    base, base_summary = timed(BASELINE)
    rows = [(f"e2e on {label(p)}", *runs[p]) for p in planes]
    print(f"{'run':<40}{'seconds':>9}{'/target':>9}{'/fast':>7}  summary")
    for name, seconds, summary in [*rows, ("fast self-tests (baseline)", base, base_summary)]:
        ratios = f"{seconds / TARGET:>9.2f}{seconds / base:>7.2f}"
        print(f"{name:<40}{seconds:>9.1f}{ratios}  {summary}")
    for name, seconds, _ in rows:
        record("e2e", f"{name}, start-up included", seconds, "s", "fast self-tests", base)


if __name__ == "__main__":
    main()
