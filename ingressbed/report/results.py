"""The results model of a catalog run, and its JSON form (report.json).

Plain frozen data built from the judge's verdicts (``PropertyResult.of``): the same
verdicts the catalog test asserts on, so the report cannot disagree with the assertions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.verdict import Verdict

SCHEMA = 1

#: Candidate statuses.
MEASURED = "measured"
SKIPPED = "skipped"
ERROR = "error"
NOT_RUN = "not run"
#: The data plane stands for a controller that has nothing like the candidate
#: (``ingressbed.errors.NoEquivalent``): ``—`` with the reason, never a skip.
NO_EQUIVALENT = "no equivalent"
STATUSES = (MEASURED, NO_EQUIVALENT, SKIPPED, ERROR, NOT_RUN)


@dataclass(frozen=True)
class PropertyResult:
    """One expectation of one candidate: what was expected, what was seen, whether it held.

    ``name`` is the expectation's kind (a property name for property expectations),
    ``kind`` how it was checked. ``passed`` is None only for a candidate that was not
    measured (skipped, errored, not run): its expectations are listed, not judged.
    """

    name: str
    kind: str
    expected: str
    why: str
    observed: float | None = None
    passed: bool | None = None
    low: float | None = None
    high: float | None = None
    detail: str = ""

    @classmethod
    def of(cls, verdict: Verdict) -> PropertyResult:
        """The record of one verdict (its ``check`` says how it was checked)."""
        return cls(
            name=verdict.kind,
            kind=verdict.check or verdict.kind,
            expected=verdict.asked,
            why=verdict.why,
            observed=verdict.observed,
            passed=verdict.passed,
            low=verdict.low,
            high=verdict.high,
            detail=verdict.seen,
        )


@dataclass(frozen=True)
class CandidateResult:
    """Everything known about one catalog candidate after a run."""

    id: str
    intent: str
    status: str
    plane: str = ""  # the data plane whose expectations ``properties`` hold
    layout: str = ""
    replicas: int = 0
    annotations: Mapping[str, str] = field(default_factory=dict)
    controller: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""
    properties: tuple[PropertyResult, ...] = ()
    load: Mapping[str, int] = field(default_factory=dict)  # page requests per pod
    requests: int = 0
    errors: int = 0
    error_examples: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def failed(self) -> list[PropertyResult]:
        """Properties whose expectation did not hold."""
        return [p for p in self.properties if p.passed is False]

    @property
    def ok(self) -> bool:
        """Measured, every request answered, and every judged property as expected."""
        return self.status == MEASURED and bool(self.properties) and not self.failed

    def property(self, name: str) -> PropertyResult | None:
        """The result of property ``name``, if present."""
        return next((p for p in self.properties if p.name == name), None)


@dataclass(frozen=True)
class Report:
    """A whole catalog run on one backend."""

    backend: str
    data_plane: str
    versions: Mapping[str, str]
    catalog: str
    started: str
    finished: str
    properties: tuple[tuple[str, str, str], ...]  # (name, column title, definition)
    candidates: tuple[CandidateResult, ...]
    schema: int = SCHEMA

    def counts(self) -> dict[str, int]:
        """How many candidates passed, failed, have no equivalent, were skipped, errored or
        did not run."""
        out = {"passed": 0, "failed": 0, NO_EQUIVALENT: 0, SKIPPED: 0, ERROR: 0, NOT_RUN: 0}
        for candidate in self.candidates:
            if candidate.status == MEASURED:
                out["passed" if candidate.ok else "failed"] += 1
            else:
                out[candidate.status] += 1
        return out

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    def write(self, path: Path) -> Path:
        """Write ``to_json()`` to ``path``; returns it."""
        path.write_text(self.to_json())
        return path


def _property(data: Mapping[str, Any]) -> PropertyResult:
    return PropertyResult(**data)


def _candidate(data: Mapping[str, Any]) -> CandidateResult:
    fields = dict(data)
    if fields.get("status") not in STATUSES:
        raise ConfigError(f"candidate {fields.get('id')!r} has status {fields.get('status')!r}")
    fields["properties"] = tuple(_property(p) for p in fields.get("properties", ()))
    fields["error_examples"] = tuple(fields.get("error_examples", ()))
    return CandidateResult(**fields)


def from_json(text: str, source: str = "report.json") -> Report:
    """Parse report.json text back into a ``Report``.

    Raises:
        ConfigError: not JSON, another schema, or missing fields (the message names which).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}:{exc.lineno}: not JSON: {exc.msg}") from exc
    return from_dict(data, source)


def from_dict(data: Any, source: str = "report.json") -> Report:
    """A ``Report`` from report.json's parsed form (``asdict`` of one).

    Raises:
        ConfigError: another schema, or missing fields (the message names which).
    """
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(f"{source}: not an ingressbed catalog report (schema {SCHEMA})")
    data = dict(data)
    try:
        data["properties"] = tuple(tuple(p) for p in data["properties"])
        data["candidates"] = tuple(_candidate(c) for c in data["candidates"])
        return Report(**data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: malformed report: {exc}") from exc


def read(path: Path) -> Report:
    """Read a report.json file (ConfigError when unreadable or malformed)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return from_json(text, str(path))
