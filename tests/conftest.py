"""The self-tests' one rule about speed: a test that starts a process is marked ``slow``.

``tox -e fast`` (``pytest tests -m "not slow"``) is the inner loop; it stays fast only if
every test that starts a program (nginx, HAProxy, Envoy, hellogo, curl, git, pip, a
pytest of its own ...) says so. ``subprocess.Popen`` is watched for the whole session;
a process started while an unmarked test runs (its fixtures included, module-scoped ones
too) turns that test's teardown into an error naming the program.
"""

from __future__ import annotations

import subprocess
from collections.abc import Generator
from typing import Any

import pytest

_running: list[pytest.Item] = []
_started: dict[str, list[str]] = {}


def _program(args: Any) -> str:
    if isinstance(args, (str, bytes)):
        return str(args).split()[0] if str(args).split() else "?"
    return str(next(iter(args), "?"))


def pytest_configure(config: pytest.Config) -> None:
    original = subprocess.Popen.__init__

    def watched(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        if _running:
            _started.setdefault(_running[-1].nodeid, []).append(_program(args))
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = watched  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if call.when != "teardown" or item.get_closest_marker("slow") is not None:
        return
    programs = _started.pop(item.nodeid, [])
    if programs and report.passed:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} started {programs[0]} ({len(programs)} processes) but is not "
            "marked slow: add @pytest.mark.slow (or pytestmark = pytest.mark.slow to its module)"
        )


def _start_order(item: pytest.Item) -> int:
    if item.nodeid.startswith("tests/test_docs_run.py"):
        return 0  # minutes each: the README's walk-through alone is most of a run
    return 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first, so that ``pytest -n`` does not start them last and wait
    for them alone (a stable sort: the others stay as collected)."""
    items.sort(key=_start_order)
