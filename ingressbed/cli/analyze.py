"""`ingressbed analyze`: spread, remapping and cross-port affinity of a hash key, no cluster.

Synthetic requests (random IPv4 clients, random URLs; reproducible with ``--seed``) are
hashed onto the ring of ``--pods N`` pod addresses or of ``--endpoints``. Prints per-pod
shares, max/mean and coefficient of variation, the share of keys moved when one pod is
added or removed, and, with ``--ports``, how often one client reaches the same pod on
different ports. ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from ingressbed.cli import analyze_log
from ingressbed.cli.predict import (
    add_placement_options,
    balance_from_args,
    parse_endpoints,
    warn_constant_key,
)
from ingressbed.errors import ConfigError
from ingressbed.placement import Analysis, analyze, synthetic_endpoints

DESCRIPTION = (
    "Hash random IPv4 clients and URLs (reproducible with --seed) as a data plane does "
    "(--data-plane, or --flavor) onto --pods N synthetic pods or --endpoints, and print "
    "per-pod shares, max/mean, coefficient of variation, the share of keys moved when a pod "
    "is added or removed, and with --ports how often one client reaches the same pod on "
    "different ports."
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``analyze`` and its options.

    Args:
        sub: the ``ingressbed`` subcommand parsers.
    """
    parser = sub.add_parser(
        "analyze",
        help="analyse a hash key's spread and stickiness without a cluster",
        description=DESCRIPTION,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pods", type=int, metavar="N", help="N synthetic pods (default 6)")
    where.add_argument("--endpoints", metavar="A:P,B:P,...", help="explicit endpoints")
    parser.add_argument(
        "--hash-by", default="$remote_addr", metavar="EXPR", help="key (default %(default)s)"
    )
    add_placement_options(parser, data_plane=False)
    parser.add_argument("--keys", type=int, default=10_000, metavar="K", help="requests")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--ports",
        default="",
        metavar="P,P,...",
        help="Service ports for the cross-port figure, e.g. 8080,9090,8081",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    analyze_log.add_arguments(parser)  # --access-log mode: see ingressbed/cli/analyze_log.py
    parser.set_defaults(run=run)


def _ports(text: str) -> list[int]:
    ports: list[int] = []
    for item in (piece.strip() for piece in text.split(",")):
        if not item:
            continue
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise ConfigError(f"--ports: {item!r} is not a port number")
        if int(item) in ports:
            raise ConfigError(f"--ports: {item} is listed twice; list each port once")
        ports.append(int(item))
    return ports


#: Options of the --access-log mode that synthetic keys would ignore (their default is None).
_LOG_ONLY = ("plot", "replay", "rate", "host")
#: From this much work on, ``analyze`` says on stderr what it is doing.
_PROGRESS_ENDPOINTS = 2_000
_PROGRESS_KEYS = 300_000


def _refuse_log_options(args: argparse.Namespace) -> None:
    given = [f"--{name}" for name in _LOG_ONLY if getattr(args, name, None) is not None]
    given += ["--candidate"] if getattr(args, "candidate", None) else []
    given += ["--upstream"] if getattr(args, "upstream", None) else []
    given += ["--which-key"] if getattr(args, "which_key", False) else []
    given += ["--try"] if getattr(args, "try_keys", None) else []
    if given:
        raise ConfigError(
            f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to "
            "--access-log only; synthetic keys take --pods, --endpoints, --hash-by, --keys, "
            "--seed and --ports"
        )


def _progress(args: argparse.Namespace, endpoints: int) -> Callable[[str], None] | None:
    """A printer of progress lines on stderr when the work is long (``--quiet``: none)."""
    if args.quiet or (endpoints < _PROGRESS_ENDPOINTS and args.keys < _PROGRESS_KEYS):
        return None
    start = time.monotonic()

    def say(line: str) -> None:
        elapsed = time.monotonic() - start
        print(f"ingressbed: analyze: {line} ({elapsed:.1f}s so far)", file=sys.stderr, flush=True)

    return say


def render(analysis: Analysis) -> str:
    """Format an analysis for the terminal.

    Args:
        analysis: the result of ``analyze``.

    Returns:
        A plain-text table and summary lines.
    """
    spread = analysis.spread
    width = max(len("endpoint"), *(len(e) for e in analysis.endpoints)) + 2
    lines = [
        f"{analysis.flavor}, key {analysis.hash_by!r}, {analysis.keys} requests "
        f"(seed {analysis.seed}), {len(analysis.endpoints)} endpoints",
        "",
        f"{'endpoint':<{width}}{'keys':>8}{'share':>9}{'ring share':>12}",
    ]
    for endpoint in analysis.endpoints:
        lines.append(
            f"{endpoint:<{width}}{spread.counts[endpoint]:>8}"
            f"{spread.shares[endpoint]:>9.3f}{spread.ring_shares[endpoint]:>12.3f}"
        )
    lines += [
        "",
        f"max/mean {spread.max_over_mean:.3f}   cv {spread.cv:.3f}   "
        f"(ring: max/mean {spread.ring_max_over_mean:.3f}   cv {spread.ring_cv:.3f})",
    ]
    if spread.round_robin:
        lines.append(f"round robin (empty key): {spread.round_robin} requests")
    lines.append(f"moved when adding {analysis.added}: {analysis.moved_on_add:.3f}")
    if analysis.removed is not None and analysis.moved_on_remove is not None:
        lines.append(f"moved when removing {analysis.removed}: {analysis.moved_on_remove:.3f}")
    for pair, share in analysis.same_pod_pairs.items():
        lines.append(f"same pod on ports {pair}: {share:.3f}")
    if analysis.same_pod_all_ports is not None and len(analysis.ports) > 2:
        lines.append(f"same pod on all ports: {analysis.same_pod_all_ports:.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the analysis.

    Args:
        args: parsed options.

    Returns:
        0 (errors raise).

    Raises:
        ConfigError: bad options (the CLI prints one line).
    """
    if args.access_log:  # a real log instead of synthetic keys
        return analyze_log.run(args)
    _refuse_log_options(args)
    ports = _ports(args.ports)
    if args.endpoints:
        endpoints = parse_endpoints(args.endpoints)
    else:
        endpoints = synthetic_endpoints(6 if args.pods is None else args.pods, (ports or [8080])[0])
    warn_constant_key(args.hash_by, args.controller_version)
    balance = balance_from_args(args, len(endpoints))
    result = analyze(
        balance,
        endpoints,
        plane=str(balance.plane),
        hash_by=args.hash_by,
        keys=args.keys,
        seed=args.seed,
        ports=ports,
        progress=_progress(args, len(endpoints)),
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else render(result))
    return 0
