"""`ingressbed backends FILE`: check a backends document for the local ingress-nginx plane.

FILE is what ingress-nginx posts to its Lua balancer and what ``/dbg backends all`` prints
(``kubectl exec -n ingress-nginx deploy/ingress-nginx-controller -- /dbg backends all``);
``-`` reads stdin. Every backend is checked as the local plane would take it
(``ingress_nginx_lua.backends_read``) and described in one line: the balancer it gets,
its endpoints, its canary. A document the plane cannot run exactly is refused in one line
naming the backend and the field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingressbed.errors import ConfigError
from ingressbed.ingress_nginx_lua.backends_read import read_document

DESCRIPTION = (
    "Check a backends document (ingress-nginx's /dbg backends all output, or what the bed "
    "posts) for the local ingress-nginx data plane, and print how each backend is balanced."
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``backends`` and its argument.

    Args:
        sub: the ``ingressbed`` subcommand parsers.
    """
    parser = sub.add_parser(
        "backends",
        help="check an ingress-nginx backends document and say how each backend balances",
        description=DESCRIPTION,
    )
    parser.add_argument("file", metavar="FILE", help="the JSON document; - reads stdin")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per backend.

    Raises:
        ConfigError: an unreadable file, or a document the local plane refuses.
    """
    if args.file == "-":
        text, where = sys.stdin.read(), "stdin"
    else:
        path = Path(args.file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        where = str(path)
    for backend in read_document(text, where):
        print(backend.describe())
    return 0
