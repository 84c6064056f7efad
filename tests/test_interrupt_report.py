"""pytest's report of a Ctrl-C survives a frame that Python left without a line number."""

from __future__ import annotations

import sys
import types

import pytest

from ingressbed.pytest_plugin.interrupts import drop_lineless_entries


def _interrupt_with_a_lineless_frame() -> pytest.ExceptionInfo[BaseException]:
    here = sys._getframe()
    # An instruction offset past the end of the code belongs to no line: tb_lineno is None,
    # as when a signal lands between two instructions of no line (seen on Python 3.11).
    lineless = types.TracebackType(None, here, 10**6, -1)
    assert lineless.tb_lineno is None
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        assert exc.__traceback__ is not None
        exc.__traceback__.tb_next = lineless
        return pytest.ExceptionInfo.from_exception(exc)


def test_pytests_report_fails_on_the_lineless_frame_as_it_came():
    with pytest.raises(TypeError):
        _interrupt_with_a_lineless_frame().getrepr(funcargs=True)


def test_without_that_frame_the_report_is_drawn_and_keeps_the_others():
    excinfo = _interrupt_with_a_lineless_frame()
    before = len(excinfo.traceback)
    drop_lineless_entries(excinfo)
    assert len(excinfo.traceback) == before - 1
    assert "KeyboardInterrupt" in str(excinfo.getrepr(funcargs=True))
