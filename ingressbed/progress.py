"""Status lines for long steps, in the manner of kind.

``with steps.step("Starting nginx"):`` prints ``• Starting nginx ...`` when it starts and
``✓ Starting nginx (0.4s)`` or ``✗ Starting nginx (0.4s)`` when it ends. Plain lines
only (no spinner), so CI logs and terminals read the same. Output goes to stderr so
that command output on stdout stays machine-readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from ingressbed.errors import BedError


class Writer(Protocol):
    """Where status lines go: a text stream or anything with ``write``/``flush``."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class Steps:
    """Prints one line per step with its elapsed time; ``quiet`` silences it."""

    def __init__(self, stream: Writer | None = None, *, quiet: bool = False) -> None:
        self._stream = stream
        self.quiet = quiet

    def _print(self, line: str) -> None:
        if not self.quiet:
            stream = self._stream or sys.stderr
            print(line, file=stream, flush=True)

    def note(self, line: str) -> None:
        """Print a free-form line (e.g. the backend `auto` chose)."""
        self._print(line)

    def warn(self, line: str) -> None:
        """Print a line the user must see even when quiet (an option that is ignored)."""
        print(line, file=self._stream or sys.stderr, flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Run a step; on failure the ``BedError`` is prefixed with the step's title."""
        start = time.monotonic()
        self._print(f"• {title} ...")
        try:
            yield
        except BedError as exc:
            self._print(f"✗ {title} ({time.monotonic() - start:.1f}s)")
            if not str(exc).startswith(title):
                exc.args = (f"{title}: {exc}",)
            raise
        except BaseException:
            self._print(f"✗ {title} ({time.monotonic() - start:.1f}s)")
            raise
        self._print(f"✓ {title} ({time.monotonic() - start:.1f}s)")


#: Shared default, writing to stderr.
STEPS = Steps()
