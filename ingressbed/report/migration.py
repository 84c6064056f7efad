"""The migration report's model: catalog runs of several data planes merged into one matrix.

Pure: ``merge`` takes (source, ``Report``) pairs and returns a ``Migration``. Rows are
candidates, columns are runs, each cell one run's ``CandidateResult`` (its figures and
verdicts). Columns:

- a column is one run, labelled ``<data plane> (<backend>)``; the same data plane on two
  backends (ingress-nginx on kind and on a cluster) is two columns; the same data plane
  twice on one backend is refused (``ConfigError``): the report could not say which run
  speaks for the plane;
- the baseline, the data plane being left, comes first: the first ingress-nginx run; when
  there is none, the first run given (``baseline_found`` is then False and the report
  says so); the other columns follow in the order given.

``changes`` holds, per non-baseline column, what differs from the baseline
(``migration_changes``). ``to_json``/``from_json`` are migration.json; the ``matrix`` and
per-column ``counts`` in it are derived and only written, for readers of the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.report.migration_changes import Change, compare
from ingressbed.report.migration_planes import BASELINE, Rendering, rendering
from ingressbed.report.results import CandidateResult, Report, from_dict

SCHEMA = 1
KIND = "ingressbed migration report"
#: Status of a cell whose run's catalog has no such candidate.
ABSENT = "absent"


def label_of(report: Report) -> str:
    """A run's column title: ``haproxy:pod-ids (local)``."""
    return f"{report.data_plane} ({report.backend})"


@dataclass(frozen=True)
class Column:
    """One run: its label, the folder it was read from, and its report."""

    label: str
    source: str
    report: Report

    @property
    def plane(self) -> str:
        """The run's data plane."""
        return self.report.data_plane


@dataclass(frozen=True)
class Migration:
    """Runs of several data planes side by side, and what changes from the baseline."""

    columns: tuple[Column, ...]
    baseline_found: bool  # whether the first column is an ingress-nginx run
    changes: tuple[Change, ...]
    created: str
    schema: int = SCHEMA

    @property
    def baseline(self) -> Column:
        """The column every other one is compared with."""
        return self.columns[0]

    @property
    def targets(self) -> tuple[Column, ...]:
        """The columns compared with the baseline."""
        return self.columns[1:]

    def candidates(self) -> list[tuple[str, str]]:
        """(id, intent) of every candidate of any run, in order of first appearance."""
        seen: dict[str, str] = {}
        for column in self.columns:
            for candidate in column.report.candidates:
                seen.setdefault(candidate.id, candidate.intent)
        return list(seen.items())

    def properties(self) -> list[tuple[str, str, str]]:
        """(name, title, definition) of every property of any run, first seen first."""
        seen: dict[str, tuple[str, str, str]] = {}
        for column in self.columns:
            for name, title, what in column.report.properties:
                seen.setdefault(name, (name, title, what))
        return list(seen.values())

    def result(self, candidate: str, column: Column) -> CandidateResult | None:
        """``candidate``'s result in ``column`` (None: not in that run's catalog)."""
        return next((c for c in column.report.candidates if c.id == candidate), None)

    def changes_for(self, column: Column) -> list[Change]:
        """What changes from the baseline to ``column``."""
        return [c for c in self.changes if c.column == column.label]

    def rendering(self, candidate: str, column: Column) -> Rendering | None:
        """How ``column``'s plane renders ``candidate`` and what to write on the controllers
        it stands for (None: the baseline's plane, or a candidate in no run)."""
        result = self.result(candidate, column) or self.result(candidate, self.baseline)
        return None if result is None else rendering(result, column.plane)

    def matrix(self) -> list[dict[str, Any]]:
        """The matrix as plain data: per candidate, per column, status and figures, and
        (``target``) what to write on the controllers a non-ingress-nginx column stands for."""
        rows = []
        for candidate, intent in self.candidates():
            cells: dict[str, Any] = {}
            for column in self.columns:
                result = self.result(candidate, column)
                rendered = self.rendering(candidate, column)
                target = {} if rendered is None else {"target": rendered.to_dict()}
                if result is None:
                    cells[column.label] = {
                        "status": ABSENT,
                        "reason": "not in this catalog",
                        **target,
                    }
                    continue
                cells[column.label] = {
                    "status": result.status,
                    "ok": result.ok,
                    "reason": result.reason,
                    "properties": {
                        p.name: {"observed": p.observed, "passed": p.passed, "expected": p.expected}
                        for p in result.properties
                    },
                    **target,
                }
            rows.append({"candidate": candidate, "intent": intent, "cells": cells})
        return rows

    def to_json(self) -> str:
        """migration.json's text."""
        data = {
            "kind": KIND,
            "schema": self.schema,
            "created": self.created,
            "baseline": self.baseline.label,
            "baseline_found": self.baseline_found,
            "columns": [
                {
                    "label": c.label,
                    "source": c.source,
                    "counts": c.report.counts(),
                    "report": asdict(c.report),
                }
                for c in self.columns
            ],
            "matrix": self.matrix(),
            "changes": [asdict(c) for c in self.changes],
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def merge(runs: Sequence[tuple[str, Report]], created: str) -> Migration:
    """Merge catalog runs into one migration report.

    Args:
        runs: (where the run was read from, its report), in the order given.
        created: when the merge was made (shown in the report).

    Raises:
        ConfigError: fewer than two runs, or two runs of one data plane on one backend.
    """
    if len(runs) < 2:
        raise ConfigError("a migration report needs runs of two or more data planes")
    columns: list[Column] = []
    for source, report in runs:
        label = label_of(report)
        twin = next((c for c in columns if c.label == label), None)
        if twin is not None:
            raise ConfigError(
                f"{twin.source} and {source} are both {report.data_plane} runs on "
                f"{report.backend}: give one run per data plane and backend"
            )
        columns.append(Column(label, source, report))
    first = next((i for i, c in enumerate(columns) if c.plane == BASELINE), None)
    if first is not None:
        columns.insert(0, columns.pop(first))
    baseline = columns[0]
    changes = [
        change
        for column in columns[1:]
        for change in compare(baseline.report, baseline.label, column.report, column.label)
    ]
    return Migration(tuple(columns), first is not None, tuple(changes), created)


def from_json(text: str, source: str = "migration.json") -> Migration:
    """Parse migration.json text back into a ``Migration``.

    Raises:
        ConfigError: not JSON, not a migration report of this schema, or malformed.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}:{exc.lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or data.get("kind") != KIND or data.get("schema") != SCHEMA:
        raise ConfigError(f"{source}: not an ingressbed migration report (schema {SCHEMA})")
    try:
        columns = tuple(
            Column(c["label"], c["source"], from_dict(c["report"], f"{source}: {c['label']}"))
            for c in data["columns"]
        )
        changes = tuple(Change(**c) for c in data["changes"])
        return Migration(columns, bool(data["baseline_found"]), changes, data["created"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: malformed migration report: {exc}") from exc


def read(path: Path) -> Migration:
    """Read a migration.json file (ConfigError when unreadable or malformed)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return from_json(text, str(path))
