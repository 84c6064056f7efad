"""`ingressbed predict`: the endpoint a data plane picks for a request (no cluster needed).

One request from the options, or ``--batch``: one JSON object per stdin line
(``client_ip``, ``host``, ``request_uri``, ``headers``, ``cookies``, ``scheme``; any may be
left out, the options then fill in) and one answer per line, in order. The ring is built
once. Answers are ``ADDRESS:PORT``; with ``--subset-size`` the group's endpoints separated
by spaces; ``round-robin`` where nginx balances round robin (empty key).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ingressbed.errors import ConfigError
from ingressbed.placement import PINNED_CONTROLLER_VERSION, Predictor, Request
from ingressbed.placement import endpoints as placement_endpoints
from ingressbed.vocabulary import Endpoint, Flavor

_FIELDS = ("client_ip", "host", "request_uri", "headers", "cookies", "scheme")
ROUND_ROBIN = "round-robin"
DESCRIPTION = (
    "Print the endpoint a data plane picks for one request, or with --batch for each JSON "
    "object read from stdin (fields client_ip, host, request_uri, headers, cookies, scheme; "
    "missing ones come from the options). With --subset-size the group's endpoints are "
    "printed, separated by spaces; 'round-robin' where nginx balances round robin."
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``predict`` and its options.

    Args:
        sub: the ``ingressbed`` subcommand parsers.
    """
    parser = sub.add_parser(
        "predict",
        help="predict the endpoint a request is hashed to",
        description=DESCRIPTION,
    )
    parser.add_argument("--endpoints", required=True, metavar="A:P,B:P,...")
    parser.add_argument("--hash-by", required=True, metavar="EXPR", help="e.g. '$remote_addr'")
    add_placement_options(parser)
    parser.add_argument("--client-ip", default="", help="client address ($remote_addr)")
    parser.add_argument("--host", default="", help="Host header")
    parser.add_argument("--request-uri", default="/", help="request target, path?query")
    parser.add_argument("--scheme", default="http", choices=("http", "https"))
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="repeatable"
    )
    parser.add_argument(
        "--cookie", action="append", default=[], metavar="NAME=VALUE", help="repeatable"
    )
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="query argument appended to --request-uri (raw, repeatable)",
    )
    parser.add_argument(
        "--batch", action="store_true", help="read JSON requests from stdin, one per line"
    )
    parser.add_argument(
        "--subset-size",
        type=int,
        metavar="N",
        help="upstream-hash-by-subset with groups of N: print the group",
    )
    parser.set_defaults(run=run)


def add_placement_options(parser: argparse.ArgumentParser) -> None:
    """Add the options ``predict`` and ``analyze`` share: flavor and controller version.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        "--flavor",
        choices=(Flavor.INGRESS_NGINX.value, Flavor.NGINX.value),
        default=Flavor.INGRESS_NGINX,
        help="data plane whose ring to use (default %(default)s)",
    )
    parser.add_argument(
        "--controller-version",
        metavar="V",
        help=f"ingress-nginx release (default {PINNED_CONTROLLER_VERSION}); below 0.33.0 "
        "the whole annotation is one variable name",
    )


def parse_endpoints(text: str) -> list[Endpoint]:
    """Parse the ``--endpoints`` value: ``A:P,B:P,[v6]:P`` (IPv6 only in brackets, ports
    1-65535, no endpoint twice).

    Raises:
        ConfigError: the first bad item, a duplicate or an empty list, in one line.
    """
    return placement_endpoints.parse_endpoints(text, "--endpoints")


def _pairs(option: str, items: Iterable[str]) -> dict[str, str]:
    result = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"{option} {item!r} is not NAME=VALUE")
        result[name] = value
    return result


def request_from_args(args: argparse.Namespace) -> Request:
    """The request the command-line options describe.

    Args:
        args: parsed options (``--client-ip``, ``--host``, ``--request-uri``, ...).

    Returns:
        The request; ``--arg`` items are appended to the query string.

    Raises:
        ConfigError: a ``--header``, ``--cookie`` or ``--arg`` that is not NAME=VALUE.
    """
    uri = args.request_uri
    extra = "&".join(f"{k}={v}" for k, v in _pairs("--arg", args.arg).items())
    if extra:
        uri += ("&" if "?" in uri else "?") + extra
    return Request(
        client_ip=args.client_ip,
        host=args.host,
        request_uri=uri,
        headers=_pairs("--header", args.header),
        cookies=_pairs("--cookie", args.cookie),
        scheme=args.scheme,
    )


def request_from_json(line: str, number: int, defaults: Request) -> Request:
    """One ``--batch`` line as a request.

    Args:
        line: the JSON text.
        number: its line number, for messages.
        defaults: where missing fields come from.

    Returns:
        The request.

    Raises:
        ConfigError: bad JSON or fields, naming the line number.
    """
    where = f"stdin line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for name, value in data.items():
        if name in ("headers", "cookies"):
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ConfigError(f"{where}: {name} must map strings to strings")
        elif not isinstance(value, str):
            raise ConfigError(f"{where}: {name} must be a string")
    return replace(defaults, **data)


def _answer(predictor: Predictor, request: Request) -> str:
    if predictor.subsets is not None:
        return " ".join(str(e) for e in predictor.pick_group(request))
    pick = predictor.pick(request)
    return ROUND_ROBIN if pick is None else str(pick)


def predictor_from_args(args: argparse.Namespace, endpoints: Sequence[Endpoint]) -> Predictor:
    """The predictor the options describe.

    Args:
        args: parsed options (``--flavor``, ``--hash-by``, ``--controller-version``,
            ``--subset-size``).
        endpoints: the endpoints.

    Returns:
        A predictor with its ring built.

    Raises:
        ConfigError: a controller version with the nginx flavor, or bad options.
    """
    if args.flavor == Flavor.NGINX and args.controller_version:
        raise ConfigError("--controller-version applies to the ingress-nginx flavor only")
    return Predictor(
        args.flavor,
        endpoints,
        args.hash_by,
        controller_version=args.controller_version,
        subset_size=getattr(args, "subset_size", None),
    )


def run(args: argparse.Namespace) -> int:
    """Print the prediction(s).

    Args:
        args: parsed options.

    Returns:
        0 (errors raise).

    Raises:
        ConfigError: bad options or input (the CLI prints one line).
    """
    predictor = predictor_from_args(args, parse_endpoints(args.endpoints))
    defaults = request_from_args(args)
    if not args.batch:
        print(_answer(predictor, defaults))
        return 0
    write = sys.stdout.write
    for number, line in enumerate(sys.stdin, start=1):
        if line.strip():
            request = request_from_json(line, number, defaults)
            try:
                write(_answer(predictor, request) + "\n")
            except ConfigError as exc:
                raise ConfigError(f"stdin line {number}: {exc}") from exc
    return 0
