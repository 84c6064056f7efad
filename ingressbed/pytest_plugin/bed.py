"""The bed's pytest plugin: options, the ``bed`` and ``serve`` fixtures, failure handling.

- ``bed`` (session): the backend ``--backend`` names, started once, closed at the end
  (also on failure and Ctrl-C; ``--keep`` decides what stays).
- ``serve`` (function): ``serve(setup)`` applies a setup and returns the backend; a
  test whose setup needs a capability the backend lacks is skipped with that reason.
- A ``BedError`` becomes a one-line failure, not a traceback.
- A failing test that used the bed gets the backend's diagnostics written under
  ``<artifacts>/diagnostics/<test>/`` and listed in its report.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType

import pytest

from ingressbed import artifacts, ingress_keys
from ingressbed.backends import base, create
from ingressbed.backends.base import Backend
from ingressbed.errors import BedError
from ingressbed.options import BACKENDS, KEEP, BedOptions
from ingressbed.progress import Steps
from ingressbed.vocabulary import Setup

BED_KEY = pytest.StashKey[Backend]()
USED_KEY = pytest.StashKey[bool]()
RUN_DIR_KEY = pytest.StashKey[Path]()
DEATH_KEY = pytest.StashKey[str]()


def run_dir(config: pytest.Config) -> Path:
    """This run's artifacts folder, ``<--artifacts>/<timestamp>/``, created on first use.

    Diagnostics go to ``diagnostics/`` inside it, the report next to them. Only the newest
    runs are kept (``artifacts.new_run_folder``).
    """
    if RUN_DIR_KEY not in config.stash:
        base_dir = Path(config.getoption("artifacts"))
        config.stash[RUN_DIR_KEY] = artifacts.current_run(base_dir, BedOptions().keep_runs)
    return config.stash[RUN_DIR_KEY]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ingressbed", "ingressbed test bed")
    group.addoption(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("INGRESSBED_BACKEND", "auto"),
        help="where to run: auto (kind if Docker answers, else local), local, kind, cluster",
    )
    group.addoption(
        "--keep",
        choices=KEEP,
        default=os.environ.get("INGRESSBED_KEEP", "never"),
        help="keep what the bed started: never, on-failure, always",
    )
    group.addoption(
        "--artifacts",
        default=os.environ.get("INGRESSBED_ARTIFACTS", "reports"),
        help="base folder of run artifacts: <DIR>/<timestamp>/ gets diagnostics and the report",
    )
    group.addoption("--context", default=None, help="kubeconfig context (cluster backend)")
    group.addoption("--kubeconfig", default=None, help="kubeconfig path (cluster backend)")
    group.addoption("--cluster-name", default=None, help="kind cluster name (default ingressbed)")
    group.addoption("--controller-version", default=None, help="ingress-nginx release to test")
    group.addoption("--node-image", default=None, help="kind node image (pinned by digest)")
    group.addoption(
        "--install-controller",
        action="store_true",
        help="cluster backend: install ingress-nginx if none is there",
    )


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
                continue
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        return len(text)

    def flush(self) -> None:
        pass


def options_from(config: pytest.Config) -> BedOptions:
    """BedOptions from the command line; a bad value is a UsageError naming it."""
    try:
        return BedOptions.from_env(
            backend=config.getoption("backend"),
            keep=config.getoption("keep"),
            artifacts=Path(config.getoption("artifacts")),
            context=config.getoption("context"),
            kubeconfig=config.getoption("kubeconfig"),
            cluster_name=config.getoption("cluster_name"),
            controller_version=config.getoption("controller_version"),
            node_image=config.getoption("node_image"),
            install_controller=config.getoption("install_controller") or None,
        )
    except BedError as exc:
        raise pytest.UsageError(str(exc)) from exc


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A CI runner stops jobs with SIGTERM: treat it like Ctrl-C so teardown runs.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:  # at start-up, not when the report is written at the end
        artifacts.check_writable(Path(config.getoption("artifacts")))
    except BedError as exc:
        raise pytest.UsageError(str(exc)) from exc


@pytest.fixture(scope="session")
def bed_options(pytestconfig: pytest.Config) -> BedOptions:
    return options_from(pytestconfig)


@pytest.fixture(scope="session")
def bed(bed_options: BedOptions, request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The started backend for the whole session."""
    pytestconfig = request.config
    steps = Steps(TerminalStream(pytestconfig), quiet=bed_options.quiet)
    try:
        backend = create(bed_options, steps)
    except BedError as exc:
        pytest.fail(f"ingressbed: {exc}", pytrace=False)
    pytestconfig.stash[BED_KEY] = backend
    try:
        try:
            backend.start()
        except BedError as exc:
            pytest.fail(f"ingressbed: {exc}", pytrace=False)
        yield backend
    finally:
        if request.session.testsfailed:
            backend.mark_failed()
        backend.close()


@pytest.fixture
def serve(bed: Backend, request: pytest.FixtureRequest) -> Callable[[Setup], Backend]:
    """``serve(setup)``: apply ``setup`` on the bed (skip if it lacks a capability)."""

    def apply(setup: Setup) -> Backend:
        try:
            ingress_keys.check(setup)
        except BedError as exc:
            pytest.fail(f"ingressbed: {exc}", pytrace=False)
        reason = base.skip_reason(bed, ingress_keys.required_capabilities(setup))
        if reason:
            pytest.skip(reason)
        request.node.stash[USED_KEY] = True
        bed.apply(setup)
        return bed

    return apply


def needs(bed: Backend, *capabilities: str) -> None:
    """Skip the calling test unless ``bed`` has every capability named."""
    reason = base.skip_reason(bed, capabilities)
    if reason:
        pytest.skip(reason)


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
        # The test that met the death says what died, once; nothing runs after it.
        report.outcome = "failed"
        report.longrepr = f"ingressbed: {death}; the session stops here"
        item.session.shouldstop = f"ingressbed: {death}"
    used = item.stash.get(USED_KEY, False)
    if report.failed and call.when == "call" and used and backend is not None:
        dest = run_dir(item.config) / "diagnostics" / _safe(item.nodeid)
        try:
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
