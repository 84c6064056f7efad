"""The ``ingressbed`` command. One module per subcommand, each with ``add_parser`` and ``run``.

Every ``BedError`` is caught here once: its one-line message goes to stderr and the exit
status is 1 (with ``--verbose`` the traceback too). A reader that closes stdout early
(``ingressbed analyze --json | head``) ends the command quietly with status 141, as a
program killed by SIGPIPE would. After Ctrl-C the command says whether anything it
started is still running, and never claims a cleanup it did not finish.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from ingressbed.backends.leftovers import what_is_left
from ingressbed.errors import BedError

#: Exit status after stdout was closed by its reader (128 + SIGPIPE).
EXIT_CLOSED_STDOUT = 141

#: Subcommand modules under ingressbed.cli, in help order.
SUBCOMMANDS = ("up", "down", "repro", "predict", "analyze", "report", "backends")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (with where to find the usage), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        return _run(args)
    except BrokenPipeError:  # raised by the last flush, after the command returned
        return _closed_stdout()


def _run(args: argparse.Namespace) -> int:
    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed stdout shows here, not in the interpreter's exit
        return status
    except BedError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"ingressbed: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return _closed_stdout()
    except KeyboardInterrupt:
        print(f"ingressbed: interrupted; {what_is_left()}", file=sys.stderr)
        return 130


def _closed_stdout() -> int:
    """stdout's reader went away: point stdout at /dev/null so the interpreter's final
    flush cannot fail again, and end quietly."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_CLOSED_STDOUT


if __name__ == "__main__":
    sys.exit(main())
