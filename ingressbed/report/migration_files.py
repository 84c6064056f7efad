"""The migration report on disk: read runs from their folders, write the report's folder.

``read_runs`` reads each run's report.json (a bad one is a one-line ``ConfigError`` naming
the file). ``write`` renders everything into a hidden staging folder next to the
destination and renames it into place at the end, so an error leaves nothing
half-written: migration.json, the PNGs (when matplotlib is there), migration.md.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from ingressbed.errors import ConfigError
from ingressbed.report import migration_markdown, migration_plots, plots, results
from ingressbed.report.migration import Migration, merge

REPORT_NAME = "report.json"
JSON_NAME = "migration.json"
MARKDOWN_NAME = "migration.md"
#: What a bad input should be replaced with.
HINT = (
    "give the folder of a catalog run (reports/<timestamp>/, written by pytest e2e/test_catalog.py)"
)


def run_folder(target: Path) -> Path:
    """The run folder ``target`` names (the folder, or its report.json)."""
    return target.parent if target.name == REPORT_NAME else target


def read_runs(targets: Sequence[Path]) -> list[tuple[str, results.Report]]:
    """(folder, report) of every run, in the order given.

    Raises:
        ConfigError: a folder without report.json, or an unreadable, malformed or foreign one.
    """
    runs = []
    for target in targets:
        folder = run_folder(target)
        path = folder / REPORT_NAME
        if not path.is_file():
            raise ConfigError(f"no {REPORT_NAME} in {folder}: {HINT}")
        try:
            runs.append((str(folder), results.read(path)))
        except ConfigError as exc:
            raise ConfigError(f"{exc}; {HINT}") from exc
    return runs


def default_out(first: Path, stamp: str | None = None) -> Path:
    """``migration-<timestamp>`` beside the first run's folder (``reports/`` for a run there).

    A ``-2``, ``-3``... suffix keeps an existing folder untouched. The name is not a run
    folder's, so pruning old runs never removes it.
    """
    base = run_folder(first).absolute().parent
    name = f"migration-{stamp or time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base / name, 1
    while out.exists():
        n += 1
        out = base / f"{name}-{n}"
    return out


def _staging(out: Path) -> Path:
    """A new hidden folder beside ``out`` (made with the usual permissions)."""
    n = 0
    while True:
        n += 1
        staging = out.parent / f".{out.name}.partial-{os.getpid()}-{n}"
        try:
            staging.mkdir()
        except FileExistsError:
            continue
        return staging


def write(migration: Migration, out: Path) -> list[Path]:
    """Write migration.json, the PNGs and migration.md into ``out``, all or nothing.

    Returns:
        The files written, migration.md last.

    Raises:
        ConfigError: ``out`` exists and is not an empty folder, or cannot be written.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not empty: choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = _staging(out)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {out}: {exc.strerror or exc}; choose another --out"
        ) from exc
    try:
        (staging / JSON_NAME).write_text(migration.to_json())
        note = plots.unavailable() or ""
        drawn = migration_plots.write(migration, staging)
        (staging / MARKDOWN_NAME).write_text(migration_markdown.render(migration, drawn, note))
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from exc
        raise
    return [out / JSON_NAME, *(out / name for name in drawn.values()), out / MARKDOWN_NAME]


def build(targets: Sequence[Path], out: Path | None = None) -> list[Path]:
    """Read the runs in ``targets``, merge them, write the report; the files written.

    ``out`` defaults to ``default_out(targets[0])``.

    Raises:
        ConfigError: a bad run folder, runs that cannot be merged, or an unwritable ``out``.
    """
    migration = merge(read_runs(targets), time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return write(migration, out if out is not None else default_out(targets[0]))
