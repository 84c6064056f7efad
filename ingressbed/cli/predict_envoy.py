"""`ingressbed predict --flavor envoy`: the envoy flavor's own options and batch lines.

The balance comes from the plane registry like every flavor's (``planes.envoy``'s
``flavor_balance``: ``--lb maglev|ring-hash``, ``--table-size N``, ``--min-ring-size N``,
``--hash-policy P`` in route order, ``--trusted-hops N``); this module only reads options:

- ``add_options``: those options on ``predict`` (every one refused with another flavor);
- ``flavor_options``: their values for ``planes.FlavorOptions``;
- ``--peer`` (the TCP peer) and a ``--batch`` line's ``peer`` and ``headers`` as a list of
  ``[name, value]`` lines (repeated lines matter to Envoy), for a balance that reads them
  (``Balance.reads_connection``: the envoy planes).

A ``--batch`` line may carry ``client_ip`` (sent as X-Forwarded-For), ``host``,
``request_uri``, ``headers`` (an object, or a list of ``[name, value]`` lines), ``cookies``,
``scheme`` and ``peer``. The answer is ``IP:PORT``, or ``random`` where no policy yields a
value and Envoy picks at random per request.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy import LOAD_BALANCERS
from ingressbed.placement.envoy_maglev import DEFAULT_TABLE_SIZE
from ingressbed.placement.envoy_ringhash import DEFAULT_MIN_RING_SIZE
from ingressbed.placement.variables import Request
from ingressbed.planes import Balance

_FIELDS = ("client_ip", "host", "request_uri", "headers", "cookies", "scheme", "peer")


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


def flavor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The envoy flavor's knobs as ``FlavorOptions`` fields (None: not given).

    Args:
        args: parsed options (of ``predict``, or of a command without these options).
    """
    policies = getattr(args, "hash_policy", None)
    return {
        "lb": getattr(args, "lb", None),
        "table_size": getattr(args, "table_size", None),
        "min_ring_size": getattr(args, "min_ring_size", None),
        "hash_policy": tuple(policies) if policies else None,
        "trusted_hops": getattr(args, "trusted_hops", None),
    }


def with_peer(args: argparse.Namespace, balance: Balance, request: Request) -> Request:
    """``request`` with ``--peer`` (the TCP peer), for a balance that reads it.

    Raises:
        ConfigError: ``--peer`` with a balance that does not read it.
    """
    peer = getattr(args, "peer", None)
    if peer is None:
        return request
    if not balance.reads_connection:
        raise ConfigError("--peer applies to the envoy flavor only (give --flavor envoy)")
    return replace(request, peer=peer)


def request_from_json(line: str, number: int, defaults: Request) -> Request:
    """One ``--batch`` line as a request, with the envoy flavor's fields.

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
