"""`ingressbed predict`: the endpoint a data plane picks for a request (no cluster needed).

One request from the options, or ``--batch``: one JSON object per stdin line
(``client_ip``, ``host``, ``request_uri``, ``headers``, ``cookies``, ``scheme``; any may be
left out, the options then fill in) and one answer per line, in order. The ring is built
once. Answers are ``ADDRESS:PORT``; with ``--subset-size`` the group's endpoints separated
by spaces; ``round-robin`` where nginx balances round robin (empty key) or HAProxy does
(missing header).

``--data-plane NAME`` renders ``--hash-by`` as that data plane does (``nginx:ip-hash``,
``haproxy:pod-ids`` ...: the bed's translations, ``ingressbed.planes``). Without it,
``--flavor`` takes the flavor's own knobs: ``--flavor nginx`` takes ``--method
hash-consistent|hash|ip-hash`` (default hash-consistent; ip-hash reads the client address
and takes no ``--hash-by``); ``--flavor haproxy`` takes ``--balance ALGO``, ``--hash-type
consistent|map-based`` (default map-based, as in HAProxy) and ``--server-ids N,N,...``
instead of ``--hash-by``; ``--flavor envoy`` takes ``--lb``, ``--table-size``,
``--min-ring-size``, ``--hash-policy`` and ``--trusted-hops``, and its batch lines
``peer`` and ``headers`` as lines (``predict_envoy``). Either way every pick comes from the
plane registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ingressbed import planes
from ingressbed.cli import predict_envoy
from ingressbed.errors import ConfigError
from ingressbed.options import CONTROLLER_PLANE
from ingressbed.placement import PINNED_CONTROLLER_VERSION, Request
from ingressbed.placement import endpoints as placement_endpoints
from ingressbed.placement.keys import KeyExpr
from ingressbed.placement.nginx_methods import METHODS
from ingressbed.placement.upstream import Upstream
from ingressbed.placement.variables import parse_target
from ingressbed.planes import Balance, FlavorOptions
from ingressbed.vocabulary import (
    ANNOTATION_PREFIX,
    Capability,
    DataPlane,
    Endpoint,
    Flavor,
    IngressSpec,
    Setup,
)

_FIELDS = ("client_ip", "host", "request_uri", "headers", "cookies", "scheme")
#: Flavor knobs ``--data-plane`` does not take (it renders ``--hash-by`` as the plane does).
_FLAVOR_ONLY = (
    "method", "balance", "hash_type", "server_ids", "weights",
    "lb", "table_size", "min_ring_size", "hash_policy", "trusted_hops",
)  # fmt: skip
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
    add_placement_options(parser)
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
    predict_envoy.add_options(parser)
    parser.set_defaults(run=run)


def add_placement_options(parser: argparse.ArgumentParser, *, data_plane: bool = True) -> None:
    """Add the options ``predict`` and ``analyze`` share: data plane, flavor, version.

    Args:
        parser: the subcommand's parser.
        data_plane: add ``--data-plane`` (``analyze`` has it from the option table already:
            the plane analysed, and the bed's with ``--replay``).
    """
    if data_plane:
        parser.add_argument(
            "--data-plane",
            choices=tuple(p.value for p in DataPlane),
            metavar="PLANE",
            help="render --hash-by as this data plane does: "
            + ", ".join(p.value for p in DataPlane),
        )
    parser.add_argument(
        "--flavor",
        choices=tuple(f.value for f in Flavor),
        help="without --data-plane: the placement flavor whose own knobs the options give "
        f"(default {CONTROLLER_PLANE})",
    )
    parser.add_argument(
        "--controller-version",
        metavar="V",
        help=f"ingress-nginx release (default {PINNED_CONTROLLER_VERSION}); below 0.33.0 "
        "the whole annotation is one variable name",
    )


def _candidate(hash_by: str, subset_size: int | None) -> Setup:
    """The one-port candidate ``--hash-by`` (and ``--subset-size``) describe. As in the
    bed, the client (``--client-ip``) comes as X-Forwarded-For and is trusted
    (``use-forwarded-headers``): a plane that takes the client from it does so."""
    annotations = {ANNOTATION_PREFIX + "upstream-hash-by": hash_by}
    if subset_size is not None:
        annotations[ANNOTATION_PREFIX + "upstream-hash-by-subset"] = "true"
        annotations[ANNOTATION_PREFIX + "upstream-hash-by-subset-size"] = str(subset_size)
    return Setup(IngressSpec("predict", (), annotations), {"use-forwarded-headers": "true"})


def balance_from_args(args: argparse.Namespace, count: int) -> Balance:
    """The data plane's translation the options describe, for ``count`` endpoints.

    Raises:
        ConfigError: an option the plane or flavor does not take, a missing one, or a bad
            value; one line.
    """
    options = FlavorOptions(
        hash_by=args.hash_by,
        controller_version=args.controller_version or None,
        subset_size=getattr(args, "subset_size", None),
        method=getattr(args, "method", None),
        balance=getattr(args, "balance", None),
        hash_type=getattr(args, "hash_type", None),
        server_ids=getattr(args, "server_ids", None),
        weights=getattr(args, "weights", None),
        **predict_envoy.flavor_options(args),
    )
    if args.data_plane is None:
        return planes.flavor_balance(args.flavor or CONTROLLER_PLANE, options, count)
    if args.flavor is not None:
        raise ConfigError("give --data-plane or --flavor, not both")
    options.refuse(
        _FLAVOR_ONLY, "is a --flavor option; --data-plane renders --hash-by as that plane does"
    )
    plane = planes.plane(args.data_plane)
    if options.controller_version and not plane.versioned:
        raise ConfigError(f"--controller-version does not apply to data plane {plane.name}")
    if options.hash_by is None:
        raise ConfigError(f"--hash-by is required with --data-plane {plane.name}")
    if options.subset_size is not None and Capability.SUBSET not in plane.model_capabilities:
        raise ConfigError(f"--subset-size: data plane {plane.name} has no subset hashing")
    setup = _candidate(options.hash_by, options.subset_size)
    return plane.translate(setup, controller_version=options.controller_version)


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


def check_host(balance: Balance, request: Request) -> None:
    """Refuse a request without a Host when the key reads ``$host``.

    nginx answers 400 to an HTTP/1.1 request without Host, and without one ``$host`` is
    the server's name, which the model does not know.

    Raises:
        ConfigError: one line saying to give ``--host``.
    """
    if not balance.hash_by or not balance.reads_key:
        return
    reads = KeyExpr(balance.hash_by).reads
    if "host" in reads and not (request.header("host") or parse_target(request.request_uri).host):
        raise ConfigError(
            "the hash key reads $host but the request has no Host header: give --host "
            "(or host in a --batch line)"
        )


def warn_constant_key(hash_by: str | None, controller_version: str | None) -> None:
    """Say on stderr when every request gets the same key, so the same endpoint."""
    if not hash_by:
        return
    try:
        why = KeyExpr(hash_by, controller_version=controller_version).constant()
    except ConfigError:
        return  # the translation names what is wrong with the key
    if why:
        print(
            f"ingressbed: warning: hash key {hash_by!r} {why}: every request goes to one endpoint",
            file=sys.stderr,
        )


def upstream_from_args(args: argparse.Namespace, endpoints: Sequence[Endpoint]) -> Upstream:
    """The upstream the options describe, over ``endpoints`` (``balance_from_args``).

    Raises:
        ConfigError: bad options or values; one line.
    """
    return balance_from_args(args, len(endpoints)).upstream(endpoints)


def run(args: argparse.Namespace) -> int:
    """Print the prediction(s).

    Args:
        args: parsed options.

    Returns:
        0 (errors raise).

    Raises:
        ConfigError: bad options or input (the CLI prints one line).
    """
    endpoints = parse_endpoints(args.endpoints)
    balance = balance_from_args(args, len(endpoints))
    defaults = predict_envoy.with_peer(args, balance, request_from_args(args))
    upstream = balance.upstream(endpoints)
    warn_constant_key(balance.hash_by, args.controller_version)
    if not args.batch:
        check_host(balance, defaults)
        print(upstream.pick(defaults))
        return 0
    read = predict_envoy.request_from_json if balance.reads_connection else request_from_json
    write = sys.stdout.write
    for number, line in enumerate(sys.stdin, start=1):
        if line.strip():
            request = read(line, number, defaults)
            try:
                check_host(balance, request)
                write(f"{upstream.pick(request)}\n")
            except ConfigError as exc:
                raise ConfigError(f"stdin line {number}: {exc}") from exc
    return 0
