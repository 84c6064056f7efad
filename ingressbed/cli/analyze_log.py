"""`ingressbed analyze --access-log FILE`: a user's own log through candidate placements.

Reads the log (plain, gzip or ``-`` for stdin) in chunks, feeds each through every
candidate (``--candidate PLANE=EXPR`` repeated, PLANE any data plane, or ``round-robin``;
default the one given by ``--flavor`` and ``--hash-by``) and prints one table: max/mean
load, cache hit ratio of per-pod caches, keys and requests moved on scale up/down,
requests per pod, the hottest keys. ``--json`` prints the same as one JSON object,
``--plot F.png`` draws requests per pod per candidate, and ``--replay N`` sends a sample
of N requests through the live bed and compares its answers with the model.
``--upstream NAME`` and ``--which-key`` analyse one backend of an ingress-nginx log on
the pods it shows (``ingressbed/cli/analyze_upstream.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ingressbed.cli import analyze_upstream
from ingressbed.cli.predict import parse_endpoints
from ingressbed.errors import ConfigError
from ingressbed.options import CONTROLLER_PLANE, add_cli_arguments
from ingressbed.placement import synthetic_endpoints

if TYPE_CHECKING:
    from ingressbed.accesslog.results import Candidate
    from ingressbed.accesslog.simulate import Simulation
    from ingressbed.accesslog.upstreams import DefaultBackendLines

# ingressbed.accesslog is imported when --access-log is used, not when ``analyze`` builds
# its parser: the subcommand's other modes never load it.

#: Seconds between two progress lines on stderr.
PROGRESS_EVERY = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the access-log options to ``analyze``.

    Args:
        parser: the ``analyze`` parser.
    """
    group = parser.add_argument_group("access log (ingressbed analyze --access-log FILE)")
    group.add_argument(
        "--access-log", metavar="FILE", help="log to analyse: plain, gzip, or - for stdin"
    )
    group.add_argument(
        "--log-format",
        default="upstreaminfo",
        metavar="FMT",
        help="upstreaminfo (ingress-nginx default), combined, urls (one URL per line), or "
        "an nginx log_format string (default %(default)s)",
    )
    group.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="PLANE=EXPR",
        help="a placement to compare: a data plane (ingress-nginx, nginx, nginx:hash, "
        "nginx:ip-hash, haproxy, haproxy:pod-ids, haproxy:map-based) and its key, e.g. "
        "ingress-nginx=$host$request_uri, haproxy=$remote_addr, or round-robin "
        "(repeatable; default: --flavor with --hash-by)",
    )
    group.add_argument(
        "--cache-ttl", type=float, default=100.0, metavar="S", help="page TTL (default 100)"
    )
    group.add_argument(
        "--cache-entries",
        type=int,
        default=100_000,
        metavar="N",
        help="pages per pod cache (default 100000, as hellogo)",
    )
    group.add_argument(
        "--rate", type=float, metavar="R", help="requests per second for logs without time"
    )
    group.add_argument("--host", metavar="NAME", help="host of every request when none is logged")
    group.add_argument("--top", type=int, default=5, metavar="K", help="hottest keys shown")
    group.add_argument("--plot", metavar="FILE.png", help="draw requests per pod per candidate")
    group.add_argument(
        "--replay",
        type=int,
        metavar="N",
        help="send a sample of N requests through the live bed (see --backend) and compare",
    )
    analyze_upstream.add_arguments(group)
    add_cli_arguments(parser, "analyze")


def candidates(args: argparse.Namespace) -> list[Candidate]:
    """The candidates the options name.

    Args:
        args: parsed options.

    Returns:
        ``--candidate`` items, or the one of ``--data-plane`` (else ``--flavor``) and
        ``--hash-by``.

    Raises:
        ConfigError: a malformed ``--candidate``, or one given twice.
    """
    from ingressbed.accesslog.results import Candidate

    if args.candidate:
        chosen: list[Candidate] = []
        for item in args.candidate:
            candidate = Candidate.parse(item)
            if candidate in chosen:
                raise ConfigError(f"--candidate {item!r} is given twice; give each candidate once")
            chosen.append(candidate)
        return chosen
    plane = args.data_plane or args.flavor or CONTROLLER_PLANE
    candidate = Candidate(plane, args.hash_by)
    try:
        candidate.balance()
    except ConfigError as exc:
        raise ConfigError(f"--hash-by {args.hash_by!r} on {plane}: {exc}") from None
    return [candidate]


def analyse(
    args: argparse.Namespace, progress: TextIO | None = sys.stderr
) -> tuple[Simulation, float]:
    """Read the whole log through a simulation.

    Args:
        args: parsed options.
        progress: where progress lines go (None: nowhere).

    Returns:
        The fed simulation and the seconds it took.

    Raises:
        ConfigError: bad options, format or input (one line each).
    """
    from ingressbed.accesslog import read
    from ingressbed.accesslog.records import Extractor
    from ingressbed.accesslog.results import Settings
    from ingressbed.accesslog.simulate import Simulation

    chosen = candidates(args)
    keys = [c.hash_by for c in chosen if c.hash_by is not None]
    # ip_hash reads the client whatever the key: capture it (Simulation refuses a format
    # without one).
    client = bool(args.replay) or any(c.reads_client for c in chosen)
    extractor = Extractor.build(args.log_format, keys, host=args.host, client=client)
    if args.endpoints:
        endpoints = parse_endpoints(args.endpoints)
    else:
        endpoints = synthetic_endpoints(6 if args.pods is None else args.pods)
    if args.top < 0:
        raise ConfigError(f"--top {args.top}: must be 0 or more")
    if args.replay is not None and args.replay < 1:
        raise ConfigError(f"--replay {args.replay}: must be 1 or more")
    settings = Settings(
        endpoints=tuple(endpoints),
        cache_ttl=args.cache_ttl,
        cache_entries=args.cache_entries,
        rate=args.rate,
        controller_version=args.controller_version,
        top=args.top,
    )
    if settings.cache_ttl < 0:
        raise ConfigError(f"--cache-ttl {settings.cache_ttl}: must be 0 or more")
    simulation = Simulation(extractor, chosen, settings, sample=args.replay or 0, seed=args.seed)
    name = args.access_log
    start = last = time.monotonic()
    line = 1
    default_lines = _default_backend_lines(args.log_format)
    with read.open_log(name) as stream:
        for chunk in read.chunks(stream, name):
            runs = [(line, chunk)] if default_lines is None else default_lines.runs(chunk, line)
            try:
                for number, lines in runs:
                    simulation.feed(lines, number)
            except ConfigError as exc:
                raise ConfigError(f"--access-log {name}: {exc}") from exc
            line += len(chunk)
            if simulation.requests == 0 and simulation.binary_lines:
                raise ConfigError(f"--access-log {name} is binary data, not a text access log")
            now = time.monotonic()
            if progress is not None and now - last >= PROGRESS_EVERY:
                last = now
                print(
                    f"ingressbed: analyze: {line - 1:,} lines read, "
                    f"{(line - 1) / (now - start):,.0f} lines/s",
                    file=progress,
                    flush=True,
                )
    if line == 1:
        raise ConfigError(f"--access-log {name} is empty: no line to analyse")
    if simulation.requests == 0 and default_lines is not None and default_lines.left_out:
        raise ConfigError(
            f"--access-log {name}: every request line is upstream-default-backend's (404s of "
            "no Ingress rule); give --upstream upstream-default-backend to analyse them"
        )
    if simulation.requests == 0:
        first = simulation.examples[0] if simulation.examples else None
        shown = f"; line {first.line}: {first.text!r}" if first else ""
        raise ConfigError(
            f"--access-log {name}: no line matches the log format {extractor.format_name}"
            f"{shown}; give --log-format with the format the log was written in"
        )
    if default_lines is not None:
        simulation.left_out = default_lines.left_out
    return simulation, time.monotonic() - start


def _default_backend_lines(fmt: str) -> DefaultBackendLines | None:
    """The filter of default-backend lines for a format logging ``$proxy_upstream_name``."""
    from ingressbed.accesslog import formats
    from ingressbed.accesslog.upstreams import DefaultBackendLines

    _, text = formats.resolve(fmt)
    if "proxy_upstream_name" not in formats.variables(text):
        return None
    compiled = formats.compile_format(fmt, {"proxy_upstream_name"})
    return DefaultBackendLines(compiled.regex, compiled.groups["proxy_upstream_name"])


def run(args: argparse.Namespace) -> int:
    """Analyse the log, print the table or JSON, and replay a sample if asked.

    Args:
        args: parsed options of ``analyze``.

    Returns:
        0, or 1 when a replay disagrees with the model.

    Raises:
        ConfigError: bad options or input (the CLI prints one line).
    """
    from ingressbed.accesslog import render

    if args.ports:
        raise ConfigError("--ports applies to synthetic keys, not to --access-log")
    if args.plot:
        if render.plot_unavailable():
            raise ConfigError(render.PLOTS_HINT)
        check_plot_path(Path(args.plot))
    if analyze_upstream.wanted(args):
        return _run_upstream(args)
    quiet = bool(getattr(args, "quiet", False))
    simulation, _ = analyse(args, None if quiet else sys.stderr)
    result = simulation.result()
    report = None
    if args.replay:
        from ingressbed.accesslog.replay import run as replay
        from ingressbed.options import from_args

        options = from_args(args, "analyze")
        report = replay(simulation.sample(), simulation.candidates, options)
    # The figures first: a plot that cannot be written must not lose them.
    if args.json:
        data = result.to_dict()
        if report is not None:
            data["replay"] = report.to_dict()
        print(json.dumps(data, indent=2), flush=True)
    else:
        print(render.text(result))
        if report is not None:
            print()
            print(report.text())
        sys.stdout.flush()
    if args.plot:
        render.plot(result, Path(args.plot))
        if not args.json:
            print(f"\nwrote {args.plot}")
    return 1 if report is not None and report.disagreements else 0


def _run_upstream(args: argparse.Namespace) -> int:
    """``--upstream``/``--which-key``: one backend, its pods and the key in force."""
    from ingressbed.accesslog import render, render_upstream

    found = analyze_upstream.analyse(args)
    result = None if found.simulation is None else found.simulation.result()
    if args.json:
        print(json.dumps(analyze_upstream.to_dict(found, result), indent=2), flush=True)
    else:
        lines = [*render_upstream.backends(found.seen), ""]
        lines += render_upstream.pods(found.seen, found.periods, found.endpoints_from_log)
        fits = render_upstream.fits(found.fits, found.agreement.actual, which_key=result is None)
        lines += ["", *fits]
        shifted = render_upstream.moved(found.fits, found.periods)
        lines += ["", *shifted] if shifted else []
        if found.not_readable:
            lines += ["", "not tried (the log lacks what they read):"]
            lines += [f"  {why}" for why in found.not_readable]
        if result is not None:
            lines += ["", render.text(result)]
        print("\n".join(lines), flush=True)
    if args.plot:
        render_upstream.plot(found.fits, found.agreement.actual, Path(args.plot))
        if not args.json:
            print(f"\nwrote {args.plot}")
    return 0


def check_plot_path(path: Path) -> None:
    """Refuse, before any work, a ``--plot`` file that is no PNG or cannot be written.

    Raises:
        ConfigError: one line naming the file and what to do.
    """
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--plot {path}: the plot is a PNG; give a file name ending in .png")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"--plot {path}: the folder {folder} does not exist")
    existed = path.exists()
    try:  # for real: create it (and remove it again if it was not there)
        with path.open("ab"):
            pass
    except OSError as exc:
        raise ConfigError(f"--plot {path}: cannot write it ({exc.strerror or exc})") from exc
    if not existed:
        path.unlink()
