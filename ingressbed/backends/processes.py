"""Child processes the bed starts (nginx, hellogo pods), how they end, and who notices.

- Every child runs in its own session, so a terminal's Ctrl-C reaches only the bed, which
  then stops its children in order.
- On Linux the kernel sends the child SIGTERM when the bed dies (``PR_SET_PDEATHSIG``), so
  even ``kill -9`` of the test runner leaves nothing behind. A child whose parent died
  before that was set up exits at once.
- One watcher thread holds a pidfd per child and notices every exit at once. A child that
  exits while nobody asked it to is recorded (``Child.death``: what it was and how it
  ended) and reported through ``on_exit``. A child started with ``kill_group`` (the nginx
  master) takes its process group with it: its workers are SIGKILLed before the master
  is reaped, so no orphaned worker keeps listening.
- ``signals_deferred()`` holds Ctrl-C and SIGTERM for a block (a start and the line that
  records it, a whole teardown) and delivers them when the block ends.

Waiting reads the child's output or its pidfd; nothing here sleeps.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import select
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from ingressbed.errors import SetupError, ToolError
from ingressbed.planes.base import Program

_PR_SET_PDEATHSIG = 1
_DEFERRED = (signal.SIGINT, signal.SIGTERM)


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _child_setup_for(parent: int) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the bed died before the kernel could be told
            os._exit(1)

    return setup


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then deliver them.

    Python runs signal handlers in the main thread only, so a handler that just records
    the signal holds it whichever thread the kernel picked; blocking the signal in one
    thread would not. Wrap the start of a child *and* the line that records it, or a
    whole teardown: an interrupt there would otherwise leave something nobody stops.
    Blocks nest; outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in _DEFERRED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for held in dict.fromkeys(pending):
            signal.raise_signal(held)


def run_tool(argv: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a short command (a version query, a config check) to its end, output captured.

    Ctrl-C is held while it runs: ``subprocess.run`` kills an interrupted child but does
    not wait for it, and a still-running check could write into a folder being removed.

    Args:
        argv: the command.
        timeout: seconds it may take; then it is killed (and reaped).

    Returns:
        The finished process (any exit status).

    Raises:
        ToolError: it could not start, or did not finish within ``timeout``.
    """
    shown = " ".join([Path(argv[0]).name, *argv[1:2]])
    with signals_deferred():
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own group: a hung one goes with what it started
            )
        except OSError as exc:
            raise ToolError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ToolError(
                f"{argv[0]} hangs: `{shown}` did not finish within {timeout:.0f}s (it was "
                "killed); check that it is the program it should be"
            ) from None
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def describe_exit(returncode: int) -> str:
    """How a process ended, in words: ``exited with status 3`` or ``was killed by SIGKILL``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name} (signal {-returncode})"
    return f"exited with status {returncode}"


class _Watcher:
    """One daemon thread waiting on every child's pidfd (epoll)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._poll = select.epoll()
        self._children: dict[int, Child] = {}
        self._thread: threading.Thread | None = None

    def add(self, child: Child) -> None:
        with self._lock:
            self._children[child.pidfd] = child
            self._poll.register(child.pidfd, select.EPOLLIN)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bed-watcher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                events = self._poll.poll()
            except InterruptedError:
                continue
            for fd, _ in events:
                with self._lock:
                    child = self._children.pop(fd, None)
                    if child is None:
                        continue
                    self._poll.unregister(fd)
                child._exited()


_WATCHER = _Watcher()
_LIVE: set[Child] = set()


def live_children() -> list[str]:
    """Names of the children this process started that have not ended yet."""
    return sorted(child.name for child in list(_LIVE) if child.alive())


class Child:
    """One started process with its log file, watched from start to end.

    Args:
        name: what the process is, for messages (``pod hellogo-x (127.1.2.10)``).
        argv: the command.
        log: file that gets its stderr (and stdout unless ``capture_stdout``).
        env: its environment (None: the bed's).
        capture_stdout: read stdout with ``wait_line`` (then drained to ``log``).
        kill_group: SIGKILL its process group when it exits (nginx: the workers).
        on_exit: called from the watcher thread when it exits after it was ready
            (``wait_line`` saw the line, or ``mark_ready``) without being asked to.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        capture_stdout: bool = False,
        kill_group: bool = False,
        on_exit: Callable[[Child], None] | None = None,
    ) -> None:
        self.name = name
        self.log = log
        self.kill_group = kill_group
        self.death: str | None = None
        self._on_exit = on_exit
        self._stopping = False
        self._ready = False
        self._closed = False
        self._handled = threading.Event()
        self._log_file: IO[bytes] = open(log, "ab")  # noqa: SIM115 (closed in stop)
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture_stdout else self._log_file,
                stderr=self._log_file,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_child_setup_for(os.getpid()),
            )
        except OSError as exc:
            self._log_file.close()
            raise SetupError(f"cannot start {name} ({argv[0]}): {exc.strerror}") from exc
        try:
            self.pidfd = os.pidfd_open(self.proc.pid)
        except OSError as exc:  # Linux before 5.3: nothing could watch this child
            self.proc.kill()
            self.proc.wait()
            self._log_file.close()
            raise SetupError(
                f"cannot watch {name}: pidfd_open failed ({exc.strerror}); "
                "the local backend needs Linux 5.3 or later"
            ) from exc
        self._drain: threading.Thread | None = None
        _LIVE.add(self)
        _WATCHER.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return not self._handled.is_set() and self.proc.poll() is None

    def _exited(self) -> None:
        """Watcher thread: the process has exited (not yet reaped)."""
        try:
            if self.kill_group:
                # The exited leader still holds its pid, so the group id cannot be reused yet.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            returncode = self.proc.wait()
            if self._ready and not self._stopping:
                self.death = f"{self.name} {describe_exit(returncode)}"
        finally:
            self._handled.set()
        if self.death is not None and self._on_exit is not None:
            self._on_exit(self)

    def wait_exit(self, timeout: float) -> bool:
        """Wait until the watcher has seen the exit (and killed the group); True if so."""
        return self._handled.wait(timeout)

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
                        f"{self.last_error_line()}"
                    )
                if not selector.select(remaining):
                    continue
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    self.proc.wait()
                    self._log_file.write(buffer)
                    self._log_file.flush()
                    raise SetupError(
                        f"{self.name} {describe_exit(self.proc.returncode)}: "
                        f"{self.last_error_line()}"
                    )
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._log_file.write(line + b"\n")
                    text = line.decode(errors="replace").strip()
                    if text.startswith(prefix):
                        self._ready = True
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
                    self._log_file.flush()

        self._drain = threading.Thread(target=drain, name=f"drain-{self.name}", daemon=True)
        self._drain.start()

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def mark_ready(self) -> None:
        """It serves: from now on an exit nobody asked for is a death."""
        self._ready = True

    def expect_exit(self) -> None:
        """From now on an exit is on purpose: not a death to report."""
        self._stopping = True

    def kill_now(self) -> None:
        """SIGKILL it (and its group with ``kill_group``) without waiting: safe from the
        watcher thread, which then reaps it. The exit is on purpose, not a death."""
        self._stopping = True
        if self._closed or self._handled.is_set():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.kill_group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(signal.SIGKILL)

    def stop(self, timeout: float = 5.0, *, force: bool = False) -> None:
        """SIGTERM (or SIGKILL when ``force``), wait, SIGKILL if still alive; close the log.

        Returns once the process is reaped (and with ``kill_group`` its group killed).
        """
        self._stopping = True
        if self._closed:
            return
        self.signal(signal.SIGKILL if force else signal.SIGTERM)
        if not self._handled.wait(timeout):
            self.signal(signal.SIGKILL)
            if not self._handled.wait(timeout):  # the watcher is gone: reap here
                self.proc.wait()
        if self._drain is not None:
            self._drain.join(1.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log_file.close()
        with contextlib.suppress(OSError):
            os.close(self.pidfd)
        self._closed = True
        _LIVE.discard(self)


def child_pids(pid: int) -> list[int]:
    """Pids of the live children of ``pid`` (nginx's or HAProxy's workers); [] if gone."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def find_program(program: Program) -> str:
    """Path of ``program``'s binary, or a ToolError saying how to install it.

    ``$VARIABLE`` first, then the Python package that ships it (``Program.python_binary``),
    then PATH and the program's own folders.
    """
    override = os.environ.get(program.variable)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise ToolError(f"{program.variable}={override} is not an executable file")
        return override
    shipped = _python_binary(program.python_binary)
    if shipped:
        return shipped
    search = os.pathsep.join([os.environ.get("PATH", ""), *program.search_dirs])
    found = shutil.which(program.name, path=search)
    if not found:
        where = f" (nor {', '.join(program.search_dirs)})" if program.search_dirs else ""
        raise ToolError(
            f"{program.name} not found on PATH{where}: install it "
            f"({program.package}) or set {program.variable}"
        )
    return found


def _python_binary(spec: str) -> str | None:
    """The binary an installed Python package ships (``module:function`` returns its
    path), or None: no such package, or no executable file there."""
    if not spec:
        return None
    module, _, function = spec.partition(":")
    try:
        found = str(getattr(importlib.import_module(module), function)())
    except (ImportError, AttributeError, OSError):
        return None
    return found if os.path.isfile(found) and os.access(found, os.X_OK) else None
