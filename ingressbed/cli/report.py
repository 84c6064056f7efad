"""`ingressbed report DIR`: re-render report.md (and the PNGs) from DIR/report.json.

DIR is a run's artifacts folder (``reports/<timestamp>/``); a path to the report.json
itself works too. The written files are printed, one per line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ingressbed import report
from ingressbed.errors import ConfigError

DESCRIPTION = (
    "Re-render report.md and the load-per-pod PNGs (with the 'plots' extra) of a catalog "
    "run from its report.json. DIR is the run's folder, e.g. reports/20260101-120000."
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` and its argument.

    Args:
        sub: the ``ingressbed`` subcommand parsers.
    """
    parser = sub.add_parser(
        "report", help="re-render a catalog report from its report.json", description=DESCRIPTION
    )
    parser.add_argument("dir", metavar="DIR", help="folder holding report.json (or the file)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Render the report; print the files written.

    Raises:
        ConfigError: DIR has no readable, valid report.json.
    """
    target = Path(args.dir)
    folder = target.parent if target.name == report.JSON_NAME else target
    if not (folder / report.JSON_NAME).is_file():
        raise ConfigError(f"no {report.JSON_NAME} in {folder}: give a catalog run's folder")
    for path in report.render(folder):
        print(path)
    return 0
