"""`analyze --access-log FILE --upstream NAME [--which-key]`: one backend of a production log.

Two passes over the log. The first counts lines per ``$proxy_upstream_name`` and, for the
selected backend, the pods ``$upstream_addr`` shows (first attempts), when each was first
and last seen, and the periods between pod changes (``accesslog.upstreams``). The second
feeds the selected backend's lines to the simulation (load, cache, hottest keys) and
compares every candidate's picks with the log's (``accesslog.agreement``). ``--which-key``
replaces the candidates by the usual keys, the ``--try`` ones and round robin, and
reports them best first. Input on stdin is kept in a temporary file for the second pass.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingressbed.errors import ConfigError
from ingressbed.options import CONTROLLER_PLANE

if TYPE_CHECKING:
    from ingressbed.accesslog.agreement import Agreement, Fit
    from ingressbed.accesslog.results import Candidate, Result
    from ingressbed.accesslog.simulate import Simulation
    from ingressbed.accesslog.upstreams import Period, Seen

#: The keys ``--which-key`` tries, as written in ``upstream-hash-by``.
USUAL_KEYS = (
    "$binary_remote_addr",
    "$remote_addr",
    "$request_uri",
    "$uri",
    "$host$request_uri",
    "$host",
)
#: Variables a selected line must log.
NEEDED = ("proxy_upstream_name", "upstream_addr")
_TRY_PREFIXES = ("http_", "cookie_", "arg_")


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """Add ``--upstream``, ``--which-key`` and ``--try`` to the access-log options.

    Args:
        group: the ``analyze`` parser's access-log group.
    """
    group.add_argument(
        "--upstream",
        metavar="NAME",
        help="keep only this backend's lines ([$proxy_upstream_name], e.g. default-web-8080; "
        "a glob is fine); its pods come from $upstream_addr unless --endpoints is given",
    )
    group.add_argument(
        "--which-key",
        action="store_true",
        help="find the key the controller used: try the usual keys, --try ones and round "
        "robin against the log's own picks, best first",
    )
    group.add_argument(
        "--try",
        dest="try_keys",
        action="append",
        default=[],
        metavar="EXPR",
        help="another key for --which-key: $http_NAME, $cookie_NAME or $arg_NAME "
        "(repeatable, or comma-separated)",
    )


def wanted(args: argparse.Namespace) -> bool:
    """Whether the options ask for a backend of the log (``--upstream``, ``--which-key``)."""
    return bool(args.upstream or args.which_key or args.try_keys)


@dataclass
class Analysis:
    """What ``analyse`` found: the first pass, the periods, the fits and the simulation."""

    seen: Seen
    periods: list[Period]
    fits: list[Fit]
    agreement: Agreement
    simulation: Simulation | None
    not_readable: list[str]
    endpoints_from_log: bool


def tried_keys(args: argparse.Namespace, fmt: str) -> tuple[list[str], list[str]]:
    """The keys ``--which-key`` tries on this log, and those the log cannot give.

    Args:
        args: parsed options (``--try``, ``--host``).
        fmt: the ``--log-format`` value.

    Returns:
        ``(keys to try, "KEY: why not" for each one left out)``.

    Raises:
        ConfigError: a ``--try`` that is no ``$http_*``, ``$cookie_*`` or ``$arg_*``.
    """
    from ingressbed.accesslog.records import Extractor

    extra: list[str] = []
    for item in args.try_keys:
        for raw in (piece.strip() for piece in item.split(",")):
            if not raw:
                continue
            name = raw.removeprefix("$")
            if not name.lower().startswith(_TRY_PREFIXES) or not name[5:]:
                raise ConfigError(
                    f"--try {raw!r}: give a header, cookie or argument variable such as "
                    "$http_x_user, $cookie_session or $arg_id (the usual keys are tried anyway)"
                )
            extra.append("$" + name)
    keys, left_out = [], []
    for key in dict.fromkeys([*USUAL_KEYS, *extra]):
        try:
            Extractor.build(fmt, [key], host=args.host)
        except ConfigError as exc:
            left_out.append(f"{key}: {exc}")
            continue
        keys.append(key)
    return keys, left_out


@contextmanager
def _two_pass_path(name: str) -> Iterator[str]:
    """A path that can be read twice: the file, or stdin copied to a temporary file."""
    if name != "-":
        yield name
        return
    with tempfile.TemporaryDirectory(prefix="ingressbed-log-") as folder:
        path = Path(folder) / "stdin.log"
        source = getattr(sys.stdin, "buffer", None)
        with path.open("wb") as out:
            if source is None:  # a text stream standing in for stdin
                out.write(sys.stdin.read().encode())
            else:
                shutil.copyfileobj(source, out)
        yield str(path)


def _first_pass(args: argparse.Namespace, path: str) -> Seen:
    from ingressbed.accesslog import formats, read
    from ingressbed.accesslog.upstreams import Seen, Selector

    name, text = formats.resolve(args.log_format)
    present = set(formats.variables(text)) if text else set()
    missing = [f"${v}" for v in NEEDED if v not in present]
    if missing:
        raise ConfigError(
            f"--upstream and --which-key read {' and '.join(missing)} from each line, but the "
            f"log format {name} has none: use upstreaminfo or a format that logs them"
        )
    time_variable = next((v for v in formats.TIME_VARIABLES if v in present), None)
    compiled = formats.compile_format(args.log_format, {*NEEDED, *filter(None, [time_variable])})
    backend_group = compiled.groups["proxy_upstream_name"]
    address_group = compiled.groups["upstream_addr"]
    time_group = compiled.groups.get(time_variable or "", 0)
    match = compiled.regex.match

    def scan(pattern: str) -> Seen:
        seen = Seen(Selector(pattern))
        number = 1
        with read.open_log(path) as stream:
            for chunk in read.chunks(stream, args.access_log):
                for line in chunk:
                    m = match(line)
                    if m is not None:
                        when = m.group(time_group) if time_group else ""
                        seen.add(m.group(backend_group), m.group(address_group), number, when)
                    number += 1
        return seen

    seen = scan(args.upstream or "*")
    if not args.upstream:  # --which-key alone: the log's one service, if it has one
        services = [n for n in seen.backends if seen.selector(n)]
        if len(services) != 1:
            shown = ", ".join(f"{n} ({c:,})" for n, c in seen.backends.most_common(8))
            raise ConfigError(
                "--which-key compares the picks of one backend: give --upstream NAME; the "
                f"log's backends are {shown or 'none'}"
            )
        seen.selector = Selector(services[0])  # the same lines: no second scan
    seen.check()
    return seen


def _candidates(args: argparse.Namespace, fmt: str) -> tuple[list[Candidate], list[str]]:
    from ingressbed.accesslog.results import Candidate
    from ingressbed.cli.analyze_log import candidates

    if not args.which_key:
        if args.try_keys:
            raise ConfigError("--try applies to --which-key: add --which-key")
        return candidates(args), []
    if args.candidate:
        raise ConfigError("--which-key tries its own candidates: leave out --candidate")
    plane = args.data_plane or args.flavor or CONTROLLER_PLANE
    keys, left_out = tried_keys(args, fmt)
    chosen = [Candidate(plane, key) for key in keys]
    return [*chosen, Candidate("round-robin")], left_out


def analyse(args: argparse.Namespace) -> Analysis:
    """Both passes over the log for the selected backend.

    Args:
        args: parsed options of ``analyze``.

    Returns:
        The analysis.

    Raises:
        ConfigError: bad options, format or input (one line each).
    """
    from ingressbed.accesslog import read
    from ingressbed.accesslog.agreement import Agreement
    from ingressbed.accesslog.records import Extractor
    from ingressbed.accesslog.results import Settings
    from ingressbed.accesslog.simulate import Simulation
    from ingressbed.accesslog.upstreams import Period, first_attempt, periods
    from ingressbed.cli.predict import parse_endpoints

    if args.replay:
        raise ConfigError("--replay replays a whole log: leave out --upstream and --which-key")
    chosen, not_readable = _candidates(args, args.log_format)
    with _two_pass_path(args.access_log) as path:
        seen = _first_pass(args, path)
        if args.endpoints:
            given = tuple(parse_endpoints(args.endpoints))
            spans = [Period(0, seen.requests, given)]
        else:
            spans = periods(seen)
        keys = [c.hash_by for c in chosen if c.hash_by is not None]
        client = any(c.reads_client for c in chosen)
        extractor = Extractor.build(
            args.log_format, keys, host=args.host, client=client, logged=NEEDED
        )
        agreement = Agreement(extractor, chosen, spans, args.controller_version)
        simulation = None
        if not args.which_key:
            settings = Settings(
                endpoints=spans[-1].endpoints,
                cache_ttl=args.cache_ttl,
                cache_entries=args.cache_entries,
                rate=args.rate,
                controller_version=args.controller_version,
                top=args.top,
            )
            simulation = Simulation(extractor, chosen, settings, seed=args.seed)
        name_group = extractor.groups["log:proxy_upstream_name"]
        addr_group = extractor.groups["log:upstream_addr"]
        selected, match = seen.selector, extractor.regex.match
        where = {e: i for i, e in enumerate(agreement.pods)}
        # A first attempt outside every period's list (--endpoints) is not compared.
        indices = {a: where[p.endpoint] for a, p in seen.pods.items() if p.endpoint in where}
        ordinal = period = 0
        number = 1
        with read.open_log(path) as stream:
            for chunk in read.chunks(stream, args.access_log):
                runs: list[tuple[int, list[str]]] = []
                for line in chunk:
                    m = match(line)
                    keep = m is None or selected(m.group(name_group))
                    if keep and simulation is not None:
                        if runs and runs[-1][0] + len(runs[-1][1]) == number:
                            runs[-1][1].append(line)
                        else:
                            runs.append((number, [line]))
                    number += 1
                    if m is None or not keep:
                        continue
                    address = first_attempt(m.group(addr_group))
                    if address is None or address not in seen.pods:
                        continue
                    while ordinal >= spans[period].end and period + 1 < len(spans):
                        period += 1
                    ordinal += 1
                    pod = indices.get(address)
                    if pod is not None:
                        agreement.add(m, period, pod)
                if simulation is not None:
                    for first, lines in runs:
                        try:
                            simulation.feed(lines, first)
                        except ConfigError as exc:
                            raise ConfigError(f"--access-log {args.access_log}: {exc}") from exc
    return Analysis(
        seen=seen,
        periods=spans,
        fits=agreement.result(),
        agreement=agreement,
        simulation=simulation,
        not_readable=not_readable,
        endpoints_from_log=not args.endpoints,
    )


def to_dict(analysis: Analysis, result: Result | None) -> dict[str, Any]:
    """The JSON of a backend's analysis (the simulation's figures included when run).

    Args:
        analysis: from ``analyse``.
        result: the simulation's result, or None with ``--which-key``.

    Returns:
        JSON-ready data: ``upstream`` (backends, pods, periods, actual picks),
        ``agreement`` per candidate and, with ``--which-key``, ``which_key`` best first.
    """
    from ingressbed.accesslog.agreement import ranked

    seen = analysis.seen
    data: dict[str, Any] = {} if result is None else result.to_dict()
    data["upstream"] = {
        "selected": seen.selector.pattern,
        "backends": dict(seen.backends.most_common()),
        "requests": seen.requests,
        "without_pod": seen.unplaced,
        "endpoints_from_log": analysis.endpoints_from_log,
        "pods": [p.to_dict() for p in seen.sorted_pods()],
        "periods": [p.to_dict() for p in analysis.periods],
        "actual": dict(analysis.agreement.actual),
    }
    data["agreement"] = [f.to_dict() for f in analysis.fits]
    if analysis.simulation is None:
        data["which_key"] = [
            {"candidate": f.candidate, "agreement": f.agreement} for f in ranked(analysis.fits)
        ]
        data["not_tried"] = analysis.not_readable
    return data
