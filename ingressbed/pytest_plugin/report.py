"""Pytest plugin of the catalog report.

- ``catalog_recorder`` (session fixture): the ``Recorder`` the catalog test hands each
  candidate's verdict to; it also prints progress lines through the terminal reporter
  (visible under capture).
- Candidates the bed's data plane has no equivalent of are recorded by the catalog test
  (``record_no_equivalent``: status ``no equivalent``, shown as ``—`` with the reason).
- Candidates whose test was skipped (a capability missing) or errored are recorded from
  the test reports, with the reason.
- At session end (after the bed is closed), if any catalog candidate was recorded,
  report.json, then the PNGs and report.md go to this run's folder
  (``ingressbed.pytest_plugin.bed.run_dir``; a temporary folder if that one cannot take
  them); a Ctrl-C stops the drawing, never the results. The terminal summary prints where.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from ingressbed import report as catalog_report
from ingressbed.backends.base import Backend
from ingressbed.catalog import Candidate, Catalog
from ingressbed.catalog import load as load_catalog
from ingressbed.progress import Steps
from ingressbed.pytest_plugin.bed import (
    RUN_DIR_KEY,
    TerminalStream,
    options_from,
    pressed,
    run_dir,
)
from ingressbed.report.candidates import full_report, no_equivalent, not_played, played
from ingressbed.report.results import (
    ERROR,
    MEASURED,
    SKIPPED,
    CandidateResult,
    Report,
)
from ingressbed.scenario.verdict import ScenarioVerdict

RECORDER_KEY = pytest.StashKey["Recorder"]()
WRITTEN_KEY = pytest.StashKey[list[Path]]()
NOTES_KEY = pytest.StashKey[list[str]]()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Recorder:
    """Collects one session's catalog results; ``report()`` completes them into a ``Report``."""

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.results: dict[str, CandidateResult] = {}
        self.catalog: Catalog | None = None
        self.backend = "unknown"
        self.data_plane = "unknown"
        self.versions: dict[str, str] = {}
        self.started = _now()
        self._begun = 0

    def attach(self, bed: Backend) -> None:
        """Remember what the bed is (name, data plane, versions) while it runs."""
        if self.backend == "unknown":
            self.backend, self.data_plane = bed.name, bed.data_plane
            try:
                self.versions = dict(bed.versions())
            except Exception as exc:  # versions are for the record; never fail a test
                self.versions = {"error": f"{type(exc).__name__}: {exc}"}

    def begin(self, candidate: Candidate, catalog: Catalog) -> None:
        """Announce a candidate on the terminal."""
        self.catalog = catalog
        self._begun += 1
        total = len(catalog.candidates)
        self.steps.note(f"── candidate {candidate.id} ({self._begun}/{total}): {candidate.intent}")

    def record(self, result: CandidateResult) -> None:
        """Keep a candidate's result (the last one wins)."""
        self.results[result.id] = result

    def record_verdict(self, candidate: Candidate, verdict: ScenarioVerdict) -> CandidateResult:
        """Keep the result of a candidate that was played; returns it."""
        result = played(candidate, self.data_plane, verdict)
        self.record(result)
        return result

    def record_no_equivalent(self, candidate: Candidate, reason: str) -> CandidateResult:
        """Keep a candidate the bed's data plane has no equivalent of (``—``, the reason)."""
        result = no_equivalent(candidate, reason, self.data_plane)
        self.record(result)
        return result

    def not_measured(self, candidate: Candidate, status: str, reason: str) -> None:
        """Keep a candidate that was skipped or errored before a result existed."""
        if candidate.id in self.results and self.results[candidate.id].status == MEASURED:
            return
        self.results[candidate.id] = not_played(candidate, status, reason, self.data_plane)

    def report(self) -> Report:
        """All results, every catalog entry included (``not run`` where nothing was seen)."""
        return full_report(
            self.catalog or load_catalog(),
            self.results,
            backend=self.backend,
            data_plane=self.data_plane,
            versions=self.versions,
            started=self.started,
            finished=_now(),
        )


def _recorder(config: pytest.Config) -> Recorder:
    if RECORDER_KEY not in config.stash:
        steps = Steps(TerminalStream(config))
        config.stash[RECORDER_KEY] = Recorder(steps)
    return config.stash[RECORDER_KEY]


@pytest.fixture(scope="session")
def catalog_recorder(pytestconfig: pytest.Config, bed: Backend) -> Iterator[Recorder]:
    """The session's recorder of catalog results, attached to the bed."""
    recorder = _recorder(pytestconfig)
    recorder.attach(bed)
    yield recorder


def _candidate_of(item: pytest.Item) -> Candidate | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("candidate") if callspec is not None else None
    return value if isinstance(value, Candidate) else None


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    text = str(getattr(report, "longreprtext", "") or longrepr or "")
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors or lines or ["unknown error"])[-1].removeprefix("E ").strip()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    candidate = _candidate_of(item)
    if candidate is None or report.passed:
        return report
    recorder = _recorder(item.config)
    if report.skipped:
        recorder.not_measured(candidate, SKIPPED, _reason(report))
    elif report.failed:
        recorder.not_measured(candidate, ERROR, _reason(report))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the report (after the bed is closed: ``interrupts.SessionEnd`` goes first).

    report.json comes first; a Ctrl-C then stops the drawing, not the results. A folder
    that cannot take the report (a full disk, a folder gone) never loses the results:
    they go to a new temporary folder, and the summary says where and why.
    """
    config = session.config
    recorder = config.stash.get(RECORDER_KEY, None)
    if recorder is None or not recorder.results:
        return
    report = recorder.report()
    stop = functools.partial(pressed, config)
    notes: list[str] = []
    try:
        written = catalog_report.write(report, run_dir(config), stop)
    except OSError as exc:
        where = (
            config.stash[RUN_DIR_KEY]
            if RUN_DIR_KEY in config.stash
            else options_from(config).artifacts
        )
        fallback = Path(tempfile.mkdtemp(prefix="ingressbed-report-"))
        notes.append(
            f"could not write the report to {where} ({exc.strerror or exc}); "
            f"it was written to {fallback} instead"
        )
        written = catalog_report.write(report, fallback, stop)
    if stop():
        notes.append(
            "drawing stopped by Ctrl-C: report.json holds every result; "
            f"ingressbed report {written[0].parent} draws the rest"
        )
    config.stash[WRITTEN_KEY] = written
    config.stash[NOTES_KEY] = notes


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    written = terminalreporter.config.stash.get(WRITTEN_KEY, None)
    if not written:
        return
    markdown = next((p for p in written if p.name == catalog_report.MARKDOWN_NAME), written[-1])
    terminalreporter.write_sep("-", "ingressbed catalog report")
    for note in terminalreporter.config.stash.get(NOTES_KEY, []):
        terminalreporter.write_line(f"note:   {note}")
    terminalreporter.write_line(f"report: {markdown}")
    terminalreporter.write_line(f"data:   {markdown.parent / catalog_report.JSON_NAME}")
