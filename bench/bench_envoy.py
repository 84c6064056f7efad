"""Envoy flavor benchmark: Maglev lookups and table builds beside same-run baselines.

Run: ``.venv/bin/python bench/bench_envoy.py [--keys 200000] [--repeat 5]``.

- Lookups: hash each key with XXH64 and take its host from a 65537-slot table of 1,000
  hosts, beside a bare XXH64 loop over the same keys (the lookup's floor).
- Build: fill a 65537-slot table for 6 and for 1,000 hosts, beside a bare loop of 65537
  modular steps (the least any fill of that table does).
- Ring hash: lookups beside the same bare loop.
- Whole predictions (request view, policy, lookup) for ``source-ip``, printed only.

Best of ``--repeat`` runs; figures only, no targets.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import xxhash
from summary import record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingressbed.placement.envoy import EnvoyPredictor
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_maglev import MaglevTable
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.placement.envoy_ringhash import HashRing
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

SIZE = 65537


def best_of(repeat: int, action: Callable[[int], object]) -> float:
    times = []
    for attempt in range(repeat):
        start = time.perf_counter()
        action(attempt)
        times.append(time.perf_counter() - start)
    return min(times)


def endpoints(count: int, port: int) -> list[Endpoint]:
    first = int(ipaddress.IPv4Address("10.244.0.2"))
    return [Endpoint(str(ipaddress.IPv4Address(first + i)), port) for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.keys} keys, table size {SIZE}")

    rng = random.Random(1)
    keys = [str(ipaddress.IPv4Address(rng.getrandbits(32))).encode() for _ in range(args.keys)]
    xxh64 = xxhash.xxh64_intdigest

    def hash_loop(_: int) -> None:
        for key in keys:
            xxh64(key)

    hash_s = best_of(args.repeat, hash_loop)
    for name, balancer in (
        ("maglev lookup (1,000 hosts, 65537 slots)", MaglevTable(endpoints(1000, 8080))),
        ("ring-hash lookup (1,000 hosts)", HashRing(endpoints(1000, 8080))),
    ):
        lookup = balancer.lookup

        def lookup_loop(_: int, lookup: Callable[[int], Endpoint] = lookup) -> None:
            for key in keys:
                lookup(xxh64(key))

        lookup_s = best_of(args.repeat, lookup_loop)
        record("envoy", name, args.keys / lookup_s, "/s", "bare XXH64 loop", args.keys / hash_s)
        print(
            f"{name:<42} {args.keys / lookup_s:12,.0f}/s   xxh64 {args.keys / hash_s:12,.0f}/s"
            f"   lookup/hash {lookup_s / hash_s:5.2f}"
        )

    def modular_steps(_: int) -> None:
        slot, step = 0, 7919
        for _ in range(SIZE):
            slot = (slot + step) % SIZE

    steps_s = best_of(args.repeat, modular_steps)
    for count in (6, 1000):
        # A new port per run: each build hashes new keys.
        build_s = best_of(
            args.repeat, lambda n, c=count: MaglevTable(endpoints(c, 20000 + n), size=SIZE)
        )
        record(
            "envoy",
            f"maglev table build ({count:,} hosts, 65537 slots)",
            build_s * 1000,
            "ms",
            "bare loop of 65537 modular steps",
            steps_s * 1000,
        )
        print(
            f"build {count:>5} hosts {build_s * 1000:9.1f} ms   65537 modular steps "
            f"{steps_s * 1000:6.1f} ms   build/steps {build_s / steps_s:6.1f}"
        )

    model = EnvoyPredictor(
        endpoints(6, 8080), policies=[HashPolicy("source-ip")], client=ClientDetection(1)
    )
    requests = [Request(client_ip=key.decode()) for key in keys[:50_000]]
    seconds = best_of(args.repeat, lambda _: [model.pick(r) for r in requests])
    print(f"predict (source-ip from X-Forwarded-For, request view included) "
          f"{len(requests) / seconds:,.0f}/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
