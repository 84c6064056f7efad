"""Placement-model benchmark: ring build time and lookup rate beside the bare hash loop.

Run: ``/tmp/venv/bin/python bench/bench_placement.py [--endpoints 1000] [--keys 200000]``.
Targets: building a 1,000-endpoint ring in at most 0.5 s; at least 500,000 lookups/s.
The CRC-32 loop over the same keys shows how much the ring adds to the bare hash
(``lookup/crc`` is the ratio of the two loop times); HAProxy's lookups (``balance uri``,
consistent and map-based) are set beside a bare sdbm loop the same way. Best of
``--repeat`` runs; the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from summary import record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingressbed.placement import Predictor, Request, Ring
from ingressbed.placement.haproxy import HaproxyPredictor
from ingressbed.placement.haproxy_hash import full_hash, sdbm
from ingressbed.vocabulary import Endpoint


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
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {args.endpoints} endpoints, {args.keys} keys")
    missed = 0
    for flavor in ("ingress-nginx", "nginx"):
        # A new port per run: each build is real work, not the build cache.
        seconds = best_of(
            args.repeat, lambda n, f=flavor: Ring.build(f, endpoints(args.endpoints, 20000 + n))
        )
        verdict = "ok" if seconds <= 0.5 else "SLOW (target 0.5 s)"
        missed += seconds > 0.5
        print(f"build {flavor:<13} {seconds * 1000:8.1f} ms   {verdict}")

    rng = random.Random(1)
    keys = [str(ipaddress.IPv4Address(rng.getrandbits(32))).encode() for _ in range(args.keys)]
    crc32 = zlib.crc32
    for flavor in ("ingress-nginx", "nginx"):
        ring = Ring.build(flavor, endpoints(args.endpoints, 8080))
        lookup = ring.lookup

        def crc_loop(_: int) -> None:
            for key in keys:
                crc32(key)

        def lookup_loop(_: int, lookup: Callable[[bytes], Endpoint] = lookup) -> None:
            for key in keys:
                lookup(key)

        crc_s = best_of(args.repeat, crc_loop)
        lookup_s = best_of(args.repeat, lookup_loop)
        rate = args.keys / lookup_s
        verdict = "ok" if rate >= 500_000 else "SLOW (target 500,000/s)"
        missed += rate < 500_000
        record(
            "placement",
            f"{flavor} ring lookup (1,000 endpoints)",
            rate,
            "/s",
            "bare CRC-32 loop",
            args.keys / crc_s,
        )
        print(
            f"lookup {flavor:<13} {rate:12,.0f}/s   crc32 {args.keys / crc_s:12,.0f}/s   "
            f"lookup/crc {lookup_s / crc_s:5.2f}   {verdict}"
        )

    # HAProxy: `balance uri` with its default sdbm; the bare loop is that hash (and the
    # avalanche for consistent), the lookup adds the ring's nearest node or the table slot.
    uris = [f"/p/{key.decode()}".encode() for key in keys[: args.keys // 4]]
    for hash_type in ("consistent", "map-based"):
        haproxy = HaproxyPredictor(endpoints(args.endpoints, 8080), "uri", hash_type)
        pick_index = haproxy.pick_index
        avalanche = hash_type == "consistent"

        def hash_loop(_: int, avalanche: bool = avalanche) -> None:
            for uri in uris:
                full_hash(sdbm(uri)) if avalanche else sdbm(uri)

        def pick_loop(
            _: int, pick_index: Callable[[int], int] = pick_index, avalanche: bool = avalanche
        ) -> None:
            for uri in uris:
                pick_index(full_hash(sdbm(uri)) if avalanche else sdbm(uri))

        hash_s = best_of(args.repeat, hash_loop)
        pick_s = best_of(args.repeat, pick_loop)
        record(
            "placement",
            f"haproxy {hash_type} lookup (balance uri, 1,000 servers)",
            len(uris) / pick_s,
            "/s",
            "bare sdbm loop" + (" + avalanche" if avalanche else ""),
            len(uris) / hash_s,
        )
        print(
            f"lookup haproxy {hash_type:<10} {len(uris) / pick_s:12,.0f}/s   "
            f"hash {len(uris) / hash_s:12,.0f}/s   lookup/hash {pick_s / hash_s:5.2f}"
        )

    predictor = Predictor("ingress-nginx", endpoints(6, 8080), "$binary_remote_addr")
    requests = [Request(client_ip=key.decode()) for key in keys[:50_000]]
    seconds = best_of(args.repeat, lambda _: [predictor.pick(r) for r in requests])
    rate = len(requests) / seconds
    print(f"predict ($binary_remote_addr, key evaluation included) {rate:,.0f}/s")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
