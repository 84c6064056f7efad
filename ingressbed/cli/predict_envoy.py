"""`ingressbed predict --flavor envoy`: the host Envoy, as Envoy Gateway configures it,
picks for a request.

Options (added to ``predict`` by ``add_options``; every one is refused with another
flavor):

- ``--lb maglev|ring-hash`` (default maglev, Envoy Gateway's only consistent hash; ring
  hash for Contour and Istio), ``--table-size N`` (Maglev, prime, default 65537),
  ``--min-ring-size N`` (ring hash, default 1024);
- ``--hash-policy P``, repeatable, in route order: ``source-ip``, ``header:NAME``
  (``header::path``, ``header::authority`` included), ``cookie:NAME``, ``query:NAME``;
- ``--trusted-hops N``: a ClientTrafficPolicy's
  ``clientIPDetection.xForwardedFor.numTrustedHops``; without it the client is the TCP
  peer (Envoy Gateway's default), given by ``--peer`` or a batch line's ``peer``.

A ``--batch`` line may carry ``client_ip`` (sent as X-Forwarded-For), ``host``,
``request_uri``, ``headers`` (an object, or a list of ``[name, value]`` lines: repeated
lines matter to Envoy), ``cookies``, ``scheme`` and ``peer``. The answer is ``IP:PORT``,
or ``random`` where no policy yields a value and Envoy picks at random per request.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy import LOAD_BALANCERS, RANDOM, EnvoyPredictor
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_maglev import DEFAULT_TABLE_SIZE, check_table_size
from ingressbed.placement.envoy_policy import parse_policy
from ingressbed.placement.envoy_ringhash import DEFAULT_MIN_RING_SIZE
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

_FIELDS = ("client_ip", "host", "request_uri", "headers", "cookies", "scheme", "peer")
#: The options of this flavor, as ``argparse`` stores them.
OPTIONS = ("--lb", "--table-size", "--min-ring-size", "--hash-policy", "--trusted-hops", "--peer")
#: Options of the other flavors this one does not take.
FOREIGN = (
    "--hash-by",
    "--method",
    "--balance",
    "--hash-type",
    "--server-ids",
    "--weights",
    "--subset-size",
    "--controller-version",
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the envoy flavor's options to ``predict``.

    Args:
        parser: the ``predict`` parser.
    """
    parser.add_argument(
        "--lb", choices=LOAD_BALANCERS, help="envoy flavor: the cluster's load balancer"
    )
    parser.add_argument(
        "--table-size",
        type=int,
        metavar="N",
        help=f"envoy flavor, maglev: the table size (prime, default {DEFAULT_TABLE_SIZE})",
    )
    parser.add_argument(
        "--min-ring-size",
        type=int,
        metavar="N",
        help=f"envoy flavor, ring-hash: the minimum ring size (default {DEFAULT_MIN_RING_SIZE})",
    )
    parser.add_argument(
        "--hash-policy",
        action="append",
        metavar="P",
        help="envoy flavor, repeatable in route order: source-ip, header:NAME (header::path, "
        "header::authority), cookie:NAME, query:NAME",
    )
    parser.add_argument(
        "--trusted-hops",
        type=int,
        metavar="N",
        help="envoy flavor: clientIPDetection.xForwardedFor.numTrustedHops (absent: the TCP "
        "peer, Envoy Gateway's default)",
    )
    parser.add_argument("--peer", metavar="IP[:PORT]", help="envoy flavor: the TCP peer")


def _dest(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


def chosen(args: argparse.Namespace) -> bool:
    """Whether the options ask for the envoy flavor."""
    return getattr(args, "flavor", None) == "envoy" and getattr(args, "data_plane", None) is None


def refuse_for_other_flavors(args: argparse.Namespace) -> None:
    """Refuse the envoy options with another flavor.

    Raises:
        ConfigError: the first envoy option given, in one line.
    """
    for option in OPTIONS:
        if getattr(args, _dest(option), None) is not None:
            raise ConfigError(f"{option} applies to the envoy flavor only (give --flavor envoy)")


def predictor_from_args(args: argparse.Namespace, endpoints: Sequence[Endpoint]) -> EnvoyPredictor:
    """The predictor the envoy options describe.

    Args:
        args: parsed options.
        endpoints: the cluster's endpoints.

    Returns:
        The predictor, its table or ring built.

    Raises:
        ConfigError: an option of another flavor, a missing policy, a bad value.
    """
    for option in FOREIGN:
        if getattr(args, _dest(option), None) is not None:
            raise ConfigError(f"{option} does not apply to the envoy flavor")
    lb = args.lb or "maglev"
    if lb != "maglev" and args.table_size is not None:
        raise ConfigError("--table-size applies to --lb maglev (ring hash takes --min-ring-size)")
    if lb != "ring-hash" and args.min_ring_size is not None:
        raise ConfigError("--min-ring-size applies to --lb ring-hash (Maglev takes --table-size)")
    if not args.hash_policy:
        raise ConfigError(
            "--flavor envoy needs --hash-policy P (source-ip, header:NAME, cookie:NAME, "
            "query:NAME), repeatable in route order"
        )
    size = DEFAULT_TABLE_SIZE if args.table_size is None else args.table_size
    check_table_size(size, "--table-size")
    ring = DEFAULT_MIN_RING_SIZE if args.min_ring_size is None else args.min_ring_size
    if ring < 1:
        raise ConfigError(f"--min-ring-size {ring}: give 1 or more")
    hops = args.trusted_hops
    if hops is not None and hops < 1:
        raise ConfigError(
            f"--trusted-hops {hops}: give 1 or more (leave it out for the TCP peer, Envoy "
            "Gateway's default)"
        )
    return EnvoyPredictor(
        endpoints,
        lb=lb,
        table_size=size,
        min_ring_size=ring,
        policies=[parse_policy(text) for text in args.hash_policy],
        client=ClientDetection(trusted_hops=hops),
    )


def request_from_json(line: str, number: int, defaults: Request) -> Request:
    """One ``--batch`` line as a request.

    Args:
        line: the JSON text.
        number: its line number, for messages.
        defaults: where missing fields come from.

    Returns:
        The request (``headers`` given as a list become ``header_lines``).

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
    fields: dict[str, object] = {}
    for name, value in data.items():
        if name == "headers" and isinstance(value, list):
            if not all(
                isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
                for item in value
            ):
                raise ConfigError(f"{where}: headers as a list holds [name, value] string pairs")
            fields["headers"] = {}
            fields["header_lines"] = tuple((item[0], item[1]) for item in value)
        elif name in ("headers", "cookies"):
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                what = (
                    "an object of strings or a list of [name, value]"
                    if name == "headers"
                    else ("an object of strings")
                )
                raise ConfigError(f"{where}: {name} must be {what}")
            fields[name] = value
        elif not isinstance(value, str):
            raise ConfigError(f"{where}: {name} must be a string")
        else:
            fields[name] = value
    return replace(defaults, **fields)  # type: ignore[arg-type]


def _answer(predictor: EnvoyPredictor, request: Request) -> str:
    pick = predictor.pick(request)
    return RANDOM if pick is None else str(pick)


def run(args: argparse.Namespace, endpoints: Sequence[Endpoint], defaults: Request) -> int:
    """Print the prediction(s) of the envoy flavor.

    Args:
        args: parsed options.
        endpoints: the parsed ``--endpoints``.
        defaults: the request the options describe (``--peer`` is added here).

    Returns:
        0 (errors raise).

    Raises:
        ConfigError: bad options or input (the CLI prints one line).
    """
    predictor = predictor_from_args(args, endpoints)
    if args.peer is not None:
        defaults = replace(defaults, peer=args.peer)
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
