"""`ingressbed predict`: the endpoint a data plane picks for a request (no cluster needed).

One request from the options, or ``--batch``: one JSON object per stdin line
(``client_ip``, ``host``, ``request_uri``, ``headers``, ``cookies``, ``scheme``; any may be
left out, the options then fill in) and one answer per line, in order. The ring is built
once. Answers are ``ADDRESS:PORT``; with ``--subset-size`` the group's endpoints separated
by spaces; ``round-robin`` where nginx balances round robin (empty key) or HAProxy does
(missing header).

``--flavor nginx`` takes ``--method hash-consistent|hash|ip-hash`` (default
hash-consistent; ip-hash reads the client address and takes no ``--hash-by``).
``--flavor haproxy`` takes ``--balance ALGO``, ``--hash-type consistent|map-based``
(default map-based, as in HAProxy) and ``--server-ids N,N,...`` instead of ``--hash-by``.
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
from ingressbed.placement.haproxy import HaproxyPredictor, parse_server_ids
from ingressbed.placement.nginx_methods import METHODS
from ingressbed.placement.variables import parse_target
from ingressbed.vocabulary import Endpoint, Flavor

_FIELDS = ("client_ip", "host", "request_uri", "headers", "cookies", "scheme")
ROUND_ROBIN = "round-robin"
DESCRIPTION = (
    "Print the endpoint a data plane picks for one request, or with --batch for each JSON "
    "object read from stdin (fields client_ip, host, request_uri, headers, cookies, scheme; "
    "missing ones come from the options). With --subset-size the group's endpoints are "
    "printed, separated by spaces; 'round-robin' where the data plane balances round robin."
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
    parser.add_argument(
        "--hash-by", metavar="EXPR", help="e.g. '$remote_addr' (not with haproxy or ip-hash)"
    )
    add_placement_options(parser, (Flavor.INGRESS_NGINX, Flavor.NGINX, Flavor.HAPROXY))
    parser.add_argument(
        "--method",
        choices=METHODS,
        help="nginx flavor: hash KEY consistent (default), plain hash KEY, or ip_hash",
    )
    parser.add_argument(
        "--balance",
        metavar="ALGO",
        help="haproxy flavor: source, uri [whole] [len N] [depth N] [path-only], hdr(NAME)",
    )
    parser.add_argument(
        "--hash-type",
        metavar="TYPE",
        help="haproxy flavor: map-based (default) or consistent [FUNCTION [avalanche]]",
    )
    parser.add_argument(
        "--server-ids",
        metavar="N,N,...",
        help="haproxy flavor: explicit server ids in endpoint order ('-': automatic)",
    )
    parser.add_argument(
        "--weights",
        metavar="W,W,...",
        help="nginx and haproxy flavors: server weights in endpoint order (default 1 each)",
    )
    parser.add_argument("--client-ip", default="", help="client address ($remote_addr)")
    parser.add_argument("--host", help="Host header")
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


def add_placement_options(
    parser: argparse.ArgumentParser,
    flavors: Sequence[Flavor] = (Flavor.INGRESS_NGINX, Flavor.NGINX),
) -> None:
    """Add the options ``predict`` and ``analyze`` share: flavor and controller version.

    Args:
        parser: the subcommand's parser.
        flavors: the flavors the subcommand offers.
    """
    parser.add_argument(
        "--flavor",
        choices=tuple(f.value for f in flavors),
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
    if args.host is not None and not args.host.strip():
        raise ConfigError(
            "--host is empty: nginx answers 400 to an empty Host header; give a host name "
            "(e.g. --host shop.example.com) or leave --host out"
        )
    return Request(
        client_ip=args.client_ip,
        host=args.host or "",
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


def check_host(predictor: Predictor | HaproxyPredictor, request: Request) -> None:
    """Refuse a request without a Host when the key reads ``$host``.

    nginx answers 400 to an HTTP/1.1 request without Host, and without one ``$host`` is
    the server's name, which the model does not know.

    Raises:
        ConfigError: one line saying to give ``--host``.
    """
    if not isinstance(predictor, Predictor) or predictor.method == "ip-hash":
        return
    if "host" in predictor.key.reads and not (
        request.header("host") or parse_target(request.request_uri).host
    ):
        raise ConfigError(
            "the hash key reads $host but the request has no Host header: give --host "
            "(or host in a --batch line)"
        )


def warn_constant_key(predictor: Predictor | HaproxyPredictor) -> None:
    """Say on stderr when every request gets the same key, so the same endpoint."""
    if not isinstance(predictor, Predictor) or predictor.method == "ip-hash":
        return
    why = predictor.key.constant()
    if why:
        print(
            f"ingressbed: warning: hash key {predictor.key.expr!r} {why}: every request "
            "goes to one endpoint",
            file=sys.stderr,
        )


def _answer(predictor: Predictor | HaproxyPredictor, request: Request) -> str:
    check_host(predictor, request)
    if isinstance(predictor, Predictor) and predictor.subsets is not None:
        return " ".join(str(e) for e in predictor.pick_group(request))
    pick = predictor.pick(request)
    return ROUND_ROBIN if pick is None else str(pick)


def _weights(text: str | None, count: int) -> list[int] | None:
    if text is None:
        return None
    items = [piece.strip() for piece in text.split(",")]
    for item in items:
        if not item.isdigit() or not 1 <= int(item) <= 256:
            raise ConfigError(f"--weights: {item!r} is not a weight (a whole number 1-256)")
    if len(items) != count:
        raise ConfigError(f"--weights has {len(items)} weights for {count} endpoints")
    return [int(item) for item in items]


def _refuse(args: argparse.Namespace, options: Sequence[str], why: str) -> None:
    for option in options:
        if getattr(args, option.lstrip("-").replace("-", "_"), None) is not None:
            raise ConfigError(f"{option} {why}")


def predictor_from_args(
    args: argparse.Namespace, endpoints: Sequence[Endpoint]
) -> Predictor | HaproxyPredictor:
    """The predictor the options describe.

    Args:
        args: parsed options (``--flavor``, ``--hash-by``, ``--controller-version``,
            ``--subset-size``, ``--method``, ``--balance``, ``--hash-type``,
            ``--server-ids``, ``--weights``).
        endpoints: the endpoints.

    Returns:
        A predictor with its ring or table built.

    Raises:
        ConfigError: an option the flavor or method does not take, a missing one, or a
            bad value; one line.
    """
    if args.flavor != Flavor.INGRESS_NGINX and args.controller_version:
        raise ConfigError("--controller-version applies to the ingress-nginx flavor only")
    subset_size = getattr(args, "subset_size", None)
    if args.flavor == Flavor.HAPROXY:
        _refuse(
            args,
            ("--hash-by", "--method", "--subset-size"),
            "does not apply to the haproxy flavor: it hashes what --balance names",
        )
        if not args.balance:
            raise ConfigError("the haproxy flavor needs --balance (source, uri, hdr(NAME), ...)")
        ids = None if args.server_ids is None else parse_server_ids(args.server_ids)
        return HaproxyPredictor(
            endpoints,
            args.balance,
            args.hash_type or "map-based",
            server_ids=ids,
            weights=_weights(args.weights, len(endpoints)),
        )
    _refuse(
        args,
        ("--balance", "--hash-type", "--server-ids"),
        "applies to the haproxy flavor only (give --flavor haproxy)",
    )
    method = args.method or "hash-consistent"
    if args.flavor != Flavor.NGINX:
        _refuse(args, ("--method", "--weights"), "applies to the nginx and haproxy flavors only")
    if method == "ip-hash" and args.hash_by is not None:
        raise ConfigError("--method ip-hash hashes the client address: drop --hash-by")
    if method != "ip-hash" and args.hash_by is None:
        raise ConfigError(
            f"--hash-by is required with --flavor {args.flavor} (e.g. '$remote_addr')"
        )
    weights = _weights(args.weights, len(endpoints))
    return Predictor(
        args.flavor,
        endpoints,
        args.hash_by or "",
        controller_version=args.controller_version,
        subset_size=subset_size,
        method=method,
        weights=None if weights is None else dict(zip(endpoints, weights, strict=True)),
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
    warn_constant_key(predictor)
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
