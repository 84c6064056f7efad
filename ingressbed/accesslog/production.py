"""Synthetic production logs: several backends in ingress-nginx's format, picks of known keys.

Unlike ``generate`` (one service, placement left to the analysis), each line here says
where a controller with a known ``upstream-hash-by`` sent the request: the first address
of ``$upstream_addr`` is the ingress-nginx pick (``ingressbed.planes``) over the backend's
pods at that moment. Some requests were retried (``a, b``) or internally redirected
(``a : b``), some went to ``upstream-default-backend`` (404), and one backend may gain a
pod part way through. The docs, tests and benchmark of ``--upstream`` and ``--which-key``
use it; ``python -m ingressbed.accesslog.production`` writes one.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ingressbed import planes
from ingressbed.accesslog.generate import START, _time_local, write_lines
from ingressbed.accesslog.upstreams import DEFAULT_BACKEND
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

#: Where ingress-nginx's own default backend listens.
DEFAULT_BACKEND_ADDRESS = "127.0.0.1:8181"


@dataclass(frozen=True)
class Backend:
    """One Service port behind the controller, and how the controller placed its requests.

    ``key`` None is round robin. ``added`` joins the pods after ``added_at`` (a share of
    the log's lines).
    """

    name: str
    key: str | None
    pods: tuple[Endpoint, ...]
    host: str = "shop.example.test"
    added: Endpoint | None = None
    added_at: float = 1.0


def pods(third_octet: int, count: int, port: int) -> tuple[Endpoint, ...]:
    """``count`` pod endpoints ``10.244.<third_octet>.<2..>:port``."""
    return tuple(Endpoint(f"10.244.{third_octet}.{i + 2}", port) for i in range(count))


#: The backends ``main`` writes: the shop hashed by --key, a blog by client, an API in turn.
def standard(key: str, scale_at: float | None = None) -> list[Backend]:
    """The three backends of the walk-through (docs/accesslog.md).

    Args:
        key: the shop's ``upstream-hash-by``.
        scale_at: where (share of lines) the shop gains a seventh pod; None: never.

    Returns:
        The shop (``default-shop-8080``, six pods), the blog (``default-blog-80``, by
        ``$remote_addr``, three pods) and the API (``default-api-9090``, round robin).
    """
    shop = pods(1, 6, 8080)
    return [
        Backend(
            "default-shop-8080",
            key,
            shop,
            added=None if scale_at is None else Endpoint("10.244.1.8", 8080),
            added_at=1.0 if scale_at is None else scale_at,
        ),
        Backend("default-blog-80", "$remote_addr", pods(2, 3, 80), host="blog.example.test"),
        Backend("default-api-9090", None, pods(3, 4, 9090), host="api.example.test"),
    ]


def lines(
    count: int,
    backends: Sequence[Backend],
    *,
    default_share: float = 0.05,
    retries: float = 0.02,
    redirects: float = 0.01,
    clients: int = 500,
    pages: int = 400,
    seed: int = 1,
) -> Iterator[str]:
    """The log's lines in ``upstreaminfo``, one second per 50 lines.

    Args:
        count: how many lines.
        backends: the backends, chosen evenly per line.
        default_share: the share of lines for ``upstream-default-backend``.
        retries: the share of requests retried on a second pod (``a, b``).
        redirects: the share internally redirected elsewhere (``a : b``).
        clients: distinct client addresses.
        pages: distinct paths (about half the requests carry a query string).
        seed: random seed.

    Yields:
        Lines ending with a newline.
    """
    rng = random.Random(seed)
    addresses = [f"10.{rng.randrange(1, 250)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                 for _ in range(clients)]  # fmt: skip
    upstreams = {}
    for b in backends:
        grown = b.pods if b.added is None else (*b.pods, b.added)
        balance = planes.plane("ingress-nginx").for_key(b.key) if b.key else None
        upstreams[b.name] = (
            None if balance is None else balance.upstream(b.pods),
            None if balance is None else balance.upstream(grown),
        )
    turn = dict.fromkeys(upstreams, 0)
    for index in range(count):
        stamp = _time_local(START + index // 50)
        client = rng.choice(addresses)
        page = int(pages * rng.random() ** 2)  # popular low numbers
        uri = f"/item/{page}" + (f"?ref={rng.randrange(9)}" if rng.random() < 0.5 else "")
        request_line = f'"GET {uri} HTTP/1.1"'
        head = f"{client} - - [{stamp}] {request_line}"
        if rng.random() < default_share:
            yield (f'{head} 404 19 "-" "prod-log" 120 0.000 [{DEFAULT_BACKEND}] [] '
                   f"{DEFAULT_BACKEND_ADDRESS} 19 0.000 404 {index:032x}\n")  # fmt: skip
            continue
        b = backends[rng.randrange(len(backends))]
        late = b.added is not None and index >= b.added_at * count
        now = (*b.pods, b.added) if late and b.added is not None else b.pods
        upstream = upstreams[b.name][1 if late else 0]
        if upstream is None:
            first = now[turn[b.name] % len(now)]
            turn[b.name] += 1
        else:
            pick = upstream.pick(Request(client_ip=client, host=b.host, request_uri=uri)).exact
            assert pick is not None
            first = pick
        tried, statuses, times = str(first), "200", "0.004"
        roll = rng.random()
        if roll < retries and len(now) > 1:
            second = rng.choice([p for p in now if p != first])
            tried, statuses, times = f"{first}, {second}", "502, 200", "0.001, 0.004"
        elif roll < retries + redirects:
            tried, statuses, times = f"{first} : 10.96.0.20:80", "200 : 200", "0.002 : 0.003"
        yield (f'{head} 200 512 "-" "prod-log" 180 0.005 [{b.name}] [] {tried} 512 {times} '
               f"{statuses} {index:032x}\n")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Write a production-like log (three backends and 404s) to ``--output`` or stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m ingressbed.accesslog.production", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--key", default="$request_uri", help="the shop's upstream-hash-by")
    parser.add_argument(
        "--scale-at",
        type=float,
        default=None,
        help="share of lines after which the shop has 7 pods",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--output", default="-", help="file (gzipped if it ends in .gz), or - for stdout"
    )
    args = parser.parse_args(argv)
    write_lines(lines(args.lines, standard(args.key, args.scale_at), seed=args.seed), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
