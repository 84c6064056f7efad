"""Generate a synthetic access log with Zipf-popular pages (for docs, tests and benchmarks).

``python -m ingressbed.accesslog.generate --lines 100000 --output access.log``

Page k (1-based) is requested with probability proportional to 1/k^s (``--zipf s``);
pages are spread over ``--hosts`` sites (page k belongs to site k mod H, so the first
site holds the most popular page); clients are drawn uniformly from ``--clients``
addresses; requests are ``--rate`` per second from a fixed start time. The same seed
gives the same file. Formats: ``upstreaminfo`` (ingress-nginx's default), ``combined``
``vhost`` (``combined`` with ``$host`` first: ``VHOST``) and ``urls`` (one URL per
line). A name ending in ``.gz`` is written gzip-compressed.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import accumulate
from typing import TextIO

#: 2026-11-29 12:00:00 UTC: the first request's time.
START = 1_795_953_600
FORMATS = ("upstreaminfo", "combined", "vhost", "urls")
#: The ``vhost`` format: ``combined`` with the host first, as a user may configure it.
VHOST = (
    '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _time_local(stamp: int) -> str:
    moment = datetime.fromtimestamp(stamp, UTC)
    return (
        f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000"
    )


def lines(
    count: int,
    *,
    pages: int = 5000,
    hosts: int = 3,
    clients: int = 2000,
    zipf: float = 1.1,
    rate: float = 100.0,
    fmt: str = "upstreaminfo",
    seed: int = 1,
) -> Iterator[str]:
    """The log's lines, each ending with a newline.

    Args:
        count: how many lines.
        pages: distinct pages.
        hosts: sites the pages are spread over.
        clients: distinct client addresses.
        zipf: the popularity exponent s (page k has weight 1/k^s).
        rate: requests per second.
        fmt: one of ``FORMATS``.
        seed: random seed.

    Yields:
        Lines of text.

    Raises:
        ValueError: a count, size or format out of range.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if min(count, pages, hosts, clients) < 1 or rate <= 0:
        raise ValueError("lines, pages, hosts, clients and rate must be positive")
    rng = random.Random(seed)
    weights = list(accumulate(1.0 / k**zipf for k in range(1, pages + 1)))
    addresses = [
        f"10.{rng.randrange(1, 250)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(clients)
    ]
    batch = 10_000
    last_second = -1
    stamp = ""
    made = 0
    while made < count:
        size = min(batch, count - made)
        chosen = rng.choices(range(1, pages + 1), cum_weights=weights, k=size)
        who = rng.choices(addresses, k=size)
        for offset in range(size):
            index = made + offset
            page = chosen[offset]
            host = f"site{page % hosts}.example.test"
            uri = f"/article/{page}"
            if fmt == "urls":
                yield f"http://{host}{uri}\n"
                continue
            second = START + int(index / rate)
            if second != last_second:
                stamp, last_second = _time_local(second), second
            size_bytes = 2000 + page % 7000
            line = (
                f'{who[offset]} - - [{stamp}] "GET {uri} HTTP/1.1" 200 {size_bytes} "-" '
                f'"Mozilla/5.0 (zipf-log)"'
            )
            if fmt == "upstreaminfo":
                line += (
                    f" {180 + len(uri)} 0.004 [default-{host.split('.')[0]}-80] [] "
                    f"10.244.0.{2 + page % 6}:8080 {size_bytes} 0.004 200 "
                    f"{index:032x}"
                )
            elif fmt == "vhost":
                line = f"{host} {line}"
            yield line + "\n"
        made += size


def main(argv: list[str] | None = None) -> int:
    """Write a generated log to ``--output`` or stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m ingressbed.accesslog.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--zipf", type=float, default=1.1, help="popularity exponent")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--format", choices=FORMATS, default="upstreaminfo")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default="-", help="file (.gz: compressed) or - for stdout")
    args = parser.parse_args(argv)
    made = lines(
        args.lines,
        pages=args.pages,
        hosts=args.hosts,
        clients=args.clients,
        zipf=args.zipf,
        rate=args.rate,
        fmt=args.format,
        seed=args.seed,
    )
    write_lines(made, args.output)
    return 0


def write_lines(made: Iterable[str], output: str) -> None:
    """Write log lines to ``output``: a file (gzipped when it ends in ``.gz``), or ``-``
    for stdout."""
    out: TextIO
    if output == "-":
        sys.stdout.writelines(made)
    elif output.endswith(".gz"):
        with gzip.open(output, "wt", encoding="ascii") as out:
            out.writelines(made)
    else:
        with open(output, "w", encoding="ascii") as out:
            out.writelines(made)


if __name__ == "__main__":
    sys.exit(main())
