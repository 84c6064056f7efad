"""`ingressbed report DIR [DIR ...]`: re-render one catalog run, or merge several.

- One DIR: re-render report.md (and the PNGs) from DIR/report.json, in DIR.
- Two or more: a migration report (docs/migration.md): the runs' candidates side by side,
  one column per data plane, and what changes from ingress-nginx to each other plane;
  written to ``--out``, by default ``migration-<timestamp>/`` beside the first DIR
  (``reports/`` for run folders there).

DIR is a run's artifacts folder (``reports/<timestamp>/``); a path to the report.json
itself works too. The written files are printed, one per line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ingressbed import report
from ingressbed.errors import ConfigError
from ingressbed.report import migration_files

DESCRIPTION = (
    "With one DIR, re-render report.md and the load-per-pod PNGs (with the 'plots' extra) "
    "of a catalog run from its report.json. With several, merge the runs (say a local "
    "nginx run, a local haproxy run and a kind run) into a migration report: "
    "migration.json, migration.md and PNGs, one column per data plane, ingress-nginx first. "
    "DIR is a run's folder, e.g. reports/20260101-120000."
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` and its arguments.

    Args:
        sub: the ``ingressbed`` subcommand parsers.
    """
    parser = sub.add_parser(
        "report",
        help="re-render a catalog report, or merge several runs into a migration report",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "dirs", nargs="+", metavar="DIR", help="folder holding report.json (or the file)"
    )
    parser.add_argument(
        "--out",
        metavar="OUT",
        help="folder for the migration report (several DIRs only; must not exist or be "
        "empty); default: migration-<timestamp> beside the first DIR",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Render the report (one DIR) or the migration report (several); print the files.

    Raises:
        ConfigError: a DIR without a readable, valid report.json; runs that cannot be
            merged; ``--out`` with one DIR, or an unwritable one; a DIR whose report
            cannot be rewritten.
    """
    targets = [Path(d) for d in args.dirs]
    if len(targets) > 1:
        out = Path(args.out) if args.out else None
        for path in migration_files.build(targets, out):
            print(path)
        return 0
    if args.out:
        raise ConfigError(
            "--out is for a migration report of two or more DIRs; one DIR is re-rendered in place"
        )
    folder = migration_files.run_folder(targets[0])
    if not (folder / report.JSON_NAME).is_file():
        raise ConfigError(f"no {report.JSON_NAME} in {folder}: give a catalog run's folder")
    try:
        written = report.render(folder)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report in {folder}: {exc.strerror or exc} ({exc.filename}); "
            "copy the run folder somewhere writable and re-render it there"
        ) from exc
    for path in written:
        print(path)
    return 0
