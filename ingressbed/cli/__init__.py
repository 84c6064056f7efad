"""The ``ingressbed`` command. One module per subcommand, each with ``add_parser`` and ``run``.

Every ``BedError`` is caught here once: its one-line message goes to stderr and the exit
status is 1 (with ``--verbose`` the traceback too).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from ingressbed.errors import BedError

#: Subcommand modules under ingressbed.cli, in help order.
SUBCOMMANDS = ("up", "down", "repro", "predict", "analyze", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingressbed",
        description="Test bed for ingress routing affinity and caching.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"ingressbed.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except BedError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"ingressbed: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ingressbed: interrupted; everything started was cleaned up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
