"""The bed's pytest plugin: options, the ``bed`` and ``serve`` fixtures, ``needs``, failures.

- Options come from the one table in ``ingressbed.options`` (flags and ``INGRESSBED_*``
  variables); they are checked when pytest starts, and a bad value stops the run with
  one line naming the flag or variable.
- ``@pytest.mark.needs(Capability.SCALE, ...)``: the test is skipped, with the missing
  capabilities named, before any of its fixtures is set up (``pytest_runtest_setup``).
  The backend is created (not started) to answer, so a session whose tests all skip
  starts nothing.
- The backend is created and started when the session starts, before the first test,
  if a selected test uses ``bed`` (and its ``needs`` do not skip it). A start-up error
  (nginx missing, ``--backend cluster`` without ``--context``) stops the session there,
  once, in one line, with pytest's usage-error status (4).
- ``bed`` (session): that started backend. It is closed first thing when the session
  ends (``pytest_sessionfinish``, before the report is drawn), also on failure and
  Ctrl-C; from then on Ctrl-C is held (``interrupts``), so a second press cannot cut the
  cleanup short, and an interrupted session ends with one line saying what was cleaned
  up. ``--keep`` decides what stays.
- ``serve`` (function): ``serve(setup)`` applies a setup and returns the backend; a
  setup needing a capability the backend lacks is skipped with that reason.
- A ``BedError`` becomes a one-line failure, not a traceback.
- A failing test that used the bed gets the backend's diagnostics written under
  ``<artifacts>/<run>/diagnostics/<test>/`` and listed in its report.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

import pytest

from ingressbed import artifacts, ingress_keys
from ingressbed.backends import base, create
from ingressbed.backends.base import Backend
from ingressbed.errors import BedError
from ingressbed.options import OPTIONS, BedOptions, add_pytest_options, resolve
from ingressbed.progress import Steps
from ingressbed.pytest_plugin.interrupts import SessionEnd
from ingressbed.suggest import suggest
from ingressbed.vocabulary import Capability, Setup

OPTIONS_KEY = pytest.StashKey[BedOptions]()
BED_KEY = pytest.StashKey[Backend]()
STARTED_KEY = pytest.StashKey[bool]()
END_KEY = pytest.StashKey[SessionEnd]()
USED_KEY = pytest.StashKey[bool]()
RUN_DIR_KEY = pytest.StashKey[Path]()
DEATH_KEY = pytest.StashKey[str]()


def run_dir(config: pytest.Config) -> Path:
    """This run's artifacts folder, ``<--artifacts>/<timestamp>/``, created on first use.

    Diagnostics go to ``diagnostics/`` inside it, the report next to them. Only the newest
    runs are kept (``artifacts.new_run_folder``).
    """
    if RUN_DIR_KEY not in config.stash:
        options = options_from(config)
        config.stash[RUN_DIR_KEY] = artifacts.current_run(options.artifacts, options.keep_runs)
    return config.stash[RUN_DIR_KEY]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser)


class TerminalStream:
    """Lets progress lines reach the terminal while pytest captures output."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            reporter = self._config.pluginmanager.get_plugin("terminalreporter")
            capture = self._config.pluginmanager.get_plugin("capturemanager")
            if reporter is None:
                continue
            if capture is None:
                reporter.write_line(line)
            else:
                with capture.global_and_fixture_disabled():
                    reporter.write_line(line)
            reporter.flush()  # a line at a time into a pipe or a log file too
        return len(text)

    def flush(self) -> None:
        pass


def options_from(config: pytest.Config) -> BedOptions:
    """The checked options of this run (flags, then ``INGRESSBED_*``), made once."""
    if OPTIONS_KEY not in config.stash:
        given = {o.name: config.getoption(o.name) for o in OPTIONS if "pytest" in o.faces}
        try:
            config.stash[OPTIONS_KEY] = resolve(given)
        except BedError as exc:
            raise pytest.UsageError(f"ingressbed: {exc}") from None
    return config.stash[OPTIONS_KEY]


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    if END_KEY not in config.stash:  # closes the bed first when the session ends
        end = SessionEnd(lambda: config.stash.get(BED_KEY, None))
        config.stash[END_KEY] = end
        config.pluginmanager.register(end, "ingressbed-session-end")
    config.addinivalue_line(
        "markers",
        "needs(*capabilities): capabilities the backend must have; the test is skipped, "
        "with the missing ones named, before its fixtures are set up",
    )
    options = options_from(config)  # a bad flag or variable stops the run here, in one line
    # A CI runner stops jobs with SIGTERM: treat it like Ctrl-C so teardown runs.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:  # at start-up, not when the report is written at the end
        artifacts.check_writable(options.artifacts)
    except BedError as exc:
        raise pytest.UsageError(f"ingressbed: {exc}") from None


@pytest.fixture(scope="session")
def bed_options(pytestconfig: pytest.Config) -> BedOptions:
    return options_from(pytestconfig)


@pytest.fixture(scope="session")
def bed(bed_options: BedOptions, request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The started backend for the whole session (closed when the session ends)."""
    config = request.config
    if STARTED_KEY not in config.stash:  # asked for by a test the session start did not see
        backend = _created(config)
        try:
            backend.start()
        except BedError as exc:
            # Said once, here; the session stops (not once per test) pointing at it.
            request.session.shouldstop = "ingressbed: the bed did not start (the error above)"
            _fail(f"ingressbed: {exc}")
        config.stash[STARTED_KEY] = True
    yield config.stash[BED_KEY]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Create and start the backend before the first test, when a selected test needs it.

    Raises:
        pytest.UsageError: the backend cannot be created or started (one line, exit 4).
    """
    config = session.config
    if config.option.collectonly or (
        session.testsfailed and not config.option.continue_on_collection_errors
    ):
        return
    asks = [item for item in session.items if _asks_for_the_bed(item)]
    if not asks:
        return
    try:
        backend = _create(config)
        if any(_will_use(item, backend) for item in asks):
            backend.start()
            config.stash[STARTED_KEY] = True
    except BedError as exc:
        raise pytest.UsageError(f"ingressbed: {exc}") from None


def _asks_for_the_bed(item: pytest.Item) -> bool:
    return _uses_the_bed(item) or item.get_closest_marker("needs") is not None


def _uses_the_bed(item: pytest.Item) -> bool:
    """Whether ``item`` gets this plugin's ``bed`` (not a fixture of that name of its own)."""
    if "bed" not in getattr(item, "fixturenames", ()):
        return False
    info = getattr(item, "_fixtureinfo", None)  # pytest keeps the resolved definitions here
    definitions = getattr(info, "name2fixturedefs", {}).get("bed") if info else None
    if not definitions:
        return True  # cannot tell: assume it does
    return definitions[-1].func is getattr(bed, "__wrapped__", bed)


def _will_use(item: pytest.Item, backend: Backend) -> bool:
    """Whether ``item`` uses the bed and its ``needs`` do not skip it."""
    if not _uses_the_bed(item):
        return False
    try:
        capabilities = needed(item)
    except pytest.fail.Exception:  # an unknown capability: the test fails on its own
        return False
    return not base.skip_reason(backend, capabilities)


def pressed(config: pytest.Config) -> bool:
    """Whether Ctrl-C was pressed once the session began to end (the report stops drawing)."""
    end = config.stash.get(END_KEY, None)
    return end is not None and end.pressed()


@pytest.fixture
def serve(bed: Backend, request: pytest.FixtureRequest) -> Callable[[Setup], Backend]:
    """``serve(setup)``: apply ``setup`` on the bed (skip if it lacks a capability)."""

    def apply(setup: Setup) -> Backend:
        try:
            ingress_keys.check(setup)
        except BedError as exc:
            _fail(f"ingressbed: {exc}")
        reason = base.skip_reason(bed, ingress_keys.required_capabilities(setup))
        if reason:
            pytest.skip(reason)
        request.node.stash[USED_KEY] = True
        bed.apply(setup)
        return bed

    return apply


def _fail(message: str) -> NoReturn:
    """Fail the test with ``message`` alone: no traceback, and no "During handling of the
    above exception" chain when called in an ``except`` block."""
    raise pytest.fail.Exception(message, pytrace=False) from None


def _create(config: pytest.Config) -> Backend:
    """The session's backend, created (not started) on first use.

    Raises:
        BedError: the options name a backend that cannot be made (one line).
    """
    if BED_KEY not in config.stash:
        options = options_from(config)
        steps = Steps(TerminalStream(config), quiet=options.quiet)
        config.stash[BED_KEY] = create(options, steps)
    return config.stash[BED_KEY]


def _created(config: pytest.Config) -> Backend:
    """``_create`` inside a test: an error fails it in one line."""
    try:
        return _create(config)
    except BedError as exc:
        _fail(f"ingressbed: {exc}")


def needed(item: pytest.Item) -> list[Capability]:
    """Every capability the ``needs`` markers of ``item`` name; an unknown name fails it."""
    out: list[Capability] = []
    known = [c.value for c in Capability]
    for mark in item.iter_markers("needs"):
        for name in mark.args:
            if name not in known:
                pytest.fail(
                    f"needs({name!r}): no such capability{suggest(str(name), known)}; "
                    f"known: {', '.join(known)}",
                    pytrace=False,
                )
            out.append(Capability(name))
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test whose ``needs`` marker names a capability the backend lacks."""
    capabilities = needed(item)
    if capabilities:
        reason = base.skip_reason(_created(item.config), capabilities)
        if reason:
            # reported at the test, as pytest's own skip marks are
            raise pytest.skip.Exception(reason, _use_item_location=True)


def _safe(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[:120]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if call.excinfo is not None and call.excinfo.errisinstance(BedError):
        report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
    backend = item.config.stash.get(BED_KEY, None)
    death = _unreported_death(item, backend)
    if death:
        # The test that met the death says what died, once; nothing runs after it. Said
        # on the terminal now too, not only in the summary after cleanup and report.
        TerminalStream(item.config).write(f"ingressbed: {death}; stopping the session\n")
        report.outcome = "failed"
        report.longrepr = f"ingressbed: {death}; the session stops here"
        item.session.shouldstop = f"ingressbed: {death}"
    used = item.stash.get(USED_KEY, False)
    if report.failed and call.when == "call" and used and backend is not None:
        try:
            dest = run_dir(item.config) / "diagnostics" / _safe(item.nodeid)
            paths = backend.diagnostics(dest)
        except Exception as exc:  # diagnostics must never hide the real failure
            report.sections.append(("ingressbed diagnostics", f"could not collect: {exc}"))
        else:
            listing = "\n".join(str(p) for p in paths) or "(none)"
            trimmed = dest / artifacts.TRIM_NOTE
            if trimmed.exists():  # say what was cut to keep the artifacts folder bounded
                listing += "\ntrimmed:\n" + trimmed.read_text().rstrip()
            report.sections.append(("ingressbed diagnostics", f"written to {dest}:\n{listing}"))
            if isinstance(report.longrepr, str):
                report.longrepr += f" (diagnostics: {dest})"
    return report


def _unreported_death(item: pytest.Item, backend: Backend | None) -> str | None:
    """A pod or data plane that died on its own and was not reported yet."""
    check = getattr(backend, "unexpected_exit", None)
    death = check() if callable(check) else None
    if not isinstance(death, str) or item.session.stash.get(DEATH_KEY, None):
        return None
    item.session.stash[DEATH_KEY] = death
    return death
