"""Child processes the bed starts (nginx, hellogo pods), and how they end.

Every child runs in its own session (so a terminal's Ctrl-C reaches only the bed, which
then stops its children in order) and, on Linux, is told by the kernel to terminate
when the bed dies, so even ``kill -9`` of the test runner leaves nothing behind.
Waiting for readiness reads the child's output; nothing here sleeps.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from ingressbed.errors import SetupError

_PR_SET_PDEATHSIG = 1


_DEFERRED = {signal.SIGINT, signal.SIGTERM}


def _child_setup() -> None:  # runs in the child between fork and exec
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends.

    Wrap the start of a child *and* the line that records it: an interrupt between
    fork and exec would otherwise leave a child nobody knows to stop.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Child:
    """One started process with its log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        capture_stdout: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        self._log_file: IO[bytes] = open(log, "ab")  # noqa: SIM115 (closed in stop)
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture_stdout else self._log_file,
                stderr=self._log_file,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_child_setup,
            )
        except OSError as exc:
            self._log_file.close()
            raise SetupError(f"cannot start {name} ({argv[0]}): {exc.strerror}") from exc
        self._drain: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def last_error_line(self) -> str:
        """The last non-empty line the child wrote to its log (for one-line errors)."""
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines[-1].strip()
        return "no output"

    def wait_line(self, prefix: str, deadline: float) -> str:
        """Read stdout until a line starting with ``prefix``; then drain the rest to the log.

        Raises SetupError if the child exits or ``deadline`` (time.monotonic) passes first.
        """
        assert self.proc.stdout is not None, "started without capture_stdout"
        stream = self.proc.stdout
        selector = selectors.DefaultSelector()
        selector.register(stream, selectors.EVENT_READ)
        buffer = b""
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SetupError(
                        f"{self.name} did not report ready in time; last output: "
                        f"{self.last_error_line()} (log: {self.log})"
                    )
                if not selector.select(remaining):
                    continue
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    self.proc.wait()
                    raise SetupError(
                        f"{self.name} exited with status {self.proc.returncode}: "
                        f"{self.last_error_line()}"
                    )
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._log_file.write(line + b"\n")
                    text = line.decode(errors="replace").strip()
                    if text.startswith(prefix):
                        self._log_file.write(buffer)
                        self._log_file.flush()
                        self._start_drain()
                        return text
        finally:
            selector.close()

    def _start_drain(self) -> None:
        stream = self.proc.stdout
        assert stream is not None

        def drain() -> None:
            with contextlib.suppress(OSError, ValueError):
                for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
                    self._log_file.write(chunk)

        self._drain = threading.Thread(target=drain, name=f"drain-{self.name}", daemon=True)
        self._drain.start()

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def stop(self, timeout: float = 5.0, *, force: bool = False) -> None:
        """SIGTERM (or SIGKILL when ``force``), wait, SIGKILL if still alive; close the log."""
        self.signal(signal.SIGKILL if force else signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait()
        if self._drain is not None:
            self._drain.join(1.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log_file.close()
