"""How a session ends: the bed closed first, Ctrl-C held from then on, one last line.

``SessionEnd`` is registered per session by the bed plugin (``pytest_configure``):

- when the first Ctrl-C reaches pytest (``pytest_keyboard_interrupt``), or when the
  session ends anyway (``pytest_sessionfinish``), SIGINT and SIGTERM start to be held:
  a press only counts. The bed's cleanup cannot be cut short, and no
  ``KeyboardInterrupt`` escapes pytest's last hooks as a traceback;
- ``pytest_sessionfinish`` (first of all) closes the bed, before the report is drawn;
  the report asks ``pressed()`` between drawings and stops drawing (its results are
  written first);
- ``pytest_unconfigure``: an interrupted session (a Ctrl-C before or during its end)
  ends with one line saying what was cleaned up and whether anything is left, and
  pytest's status for an interrupted run (2).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from ingressbed.backends.base import Backend
from ingressbed.backends.leftovers import what_is_left
from ingressbed.errors import BedError

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Hold:
    """Holds SIGINT and SIGTERM from ``start()`` to ``stop()``; ``presses`` counts them."""

    def __init__(self) -> None:
        self.presses = 0
        self._previous: dict[int, Any] = {}

    def start(self) -> None:
        """Hold from now on (main thread only; again is a no-op)."""
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._press)

    def _press(self, signum: int, frame: FrameType | None) -> None:
        self.presses += 1

    def stop(self) -> None:
        """Give the signals back to whoever had them before ``start()``."""
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupted_line(cleaned: list[str], failure: str | None, left: str) -> str:
    """The one line an interrupted session ends with.

    Args:
        cleaned: what the backend's close did, in words (``stopped nginx``, ...).
        failure: what its close could not do, if anything.
        left: what is still left (``what_is_left()``).

    Returns:
        ``ingressbed: interrupted; stopped nginx, stopped 6 pods, ...; nothing it started
        is left running``.
    """
    parts = [", ".join(cleaned)] if cleaned else []
    if failure:
        parts.append(f"could not finish the cleanup: {failure}")
    parts.append(left)
    return "ingressbed: interrupted; " + "; ".join(parts)


def _has_line(entry: Any) -> bool:
    try:
        entry.lineno  # noqa: B018 (raises TypeError when the entry has no line)
    except TypeError:
        return False
    return True


def drop_lineless_entries(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Leave out of ``excinfo``'s traceback the frames without a line number.

    Python 3.11 can stop a frame between two instructions that belong to no line (a
    signal lands there); pytest's own report of the interrupt then fails on that frame
    with a ``TypeError`` and prints its own traceback instead of the short one.
    """
    excinfo.traceback = excinfo.traceback.filter(_has_line)


class SessionEnd:
    """The end of one session (a pytest plugin object; see the module docstring).

    Args:
        backend: the session's backend once it was created, else None.
    """

    def __init__(self, backend: Callable[[], Backend | None]) -> None:
        self._backend = backend
        self._hold = Hold()
        self._session: pytest.Session | None = None
        self._close_failed: str | None = None
        self._stopped = False

    def pressed(self) -> bool:
        """Whether Ctrl-C (or SIGTERM) came once the session began to end."""
        return self._hold.presses > 0

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self._hold.start()  # the first Ctrl-C is in: the next ones only count
        # A session stopped on purpose (a pod died, -x) is not a Ctrl-C.
        self._stopped = excinfo.errisinstance(pytest.Session.Interrupted)
        drop_lineless_entries(excinfo)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._hold.start()
        backend = self._backend()
        if backend is None:
            return
        if session.testsfailed:
            backend.mark_failed()
        try:
            backend.close()
        except BedError as exc:
            self._close_failed = str(exc)
            print(f"ingressbed: {exc}", file=sys.stderr, flush=True)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        self._hold.stop()
        session = self._session
        interrupted = self.pressed() or (
            session is not None and session.exitstatus == pytest.ExitCode.INTERRUPTED
        )
        backend = self._backend()
        if not interrupted or backend is None:  # no bed, nothing of ours to speak of
            return
        if session is not None and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.TESTS_FAILED,
        ):
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        cleaned = list(getattr(backend, "cleaned", None) or [])
        line = interrupted_line(cleaned, self._close_failed, what_is_left())
        if self._stopped and not self.pressed():
            line = line.replace("ingressbed: interrupted;", "ingressbed: session stopped;", 1)
        # pytest's summary went to stdout, which is block-buffered into a pipe or a file
        # (a nightly job's log): out with it first, so this line stays the last one.
        sys.stdout.flush()
        print(line, file=sys.stderr, flush=True)
