"""Start ``python -m hellogo`` as a subprocess and wait for its ready line.

Used by the tests and the benchmark; also usable from anything that runs hellogo
replicas as local processes. No sleeps: it waits on the child's stdout.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO

from hellogo.errors import HellogoError

READY_PREFIX = "hellogo ready "


def free_ports(count: int, address: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct TCP ports that were free a moment ago.

    Args:
        count: how many ports.
        address: the address to probe.

    Returns:
        The ports (bound to port 0 together, then released).
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockets = [socket.socket(family, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((address, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class HellogoProcess:
    """One hellogo process.

    Args:
        address: ``--address``.
        http_ports: ``--http-ports``.
        ws_port: ``--ws-port``.
        cache_ttl: ``--cache-ttl`` (None: not given).
        env: extra environment variables (``POD_NAME``...).
        extra_args: more command-line arguments.
    """

    def __init__(
        self,
        address: str,
        http_ports: Sequence[int],
        ws_port: int,
        cache_ttl: float | None = None,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.address = address
        self.http_ports = list(http_ports)
        self.ws_port = ws_port
        self.args = [
            sys.executable,
            "-m",
            "hellogo",
            "--address",
            address,
            "--http-ports",
            ",".join(map(str, http_ports)),
            "--ws-port",
            str(ws_port),
        ]
        if cache_ttl is not None:
            self.args += ["--cache-ttl", str(cache_ttl)]
        self.args += list(extra_args)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.environ.get("PYTHONPATH")
        self.env = {
            **os.environ,
            "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root,
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_line = ""
        self._stderr: IO[bytes] | None = None

    @property
    def ports(self) -> list[int]:
        """All listener ports: HTTP ports, then the WebSocket port."""
        return [*self.http_ports, self.ws_port]

    def start(self, timeout: float = 10.0) -> str:
        """Start the process and wait for its ready line.

        Args:
            timeout: seconds to wait for the ready line.

        Returns:
            The ready line.

        Raises:
            HellogoError: the process exited or stayed silent; the message has its stderr.
        """
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self.env,
        )
        assert self.proc.stdout is not None
        line = self._read_line(self.proc.stdout.fileno(), timeout)
        if not line.startswith(READY_PREFIX):
            status = self.stop()
            raise HellogoError(
                f"hellogo did not become ready (exit {status}): "
                f"{line or self.stderr_text().strip() or 'no output'}"
            )
        self.ready_line = line
        return line

    def stderr_text(self) -> str:
        """What the process wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    @staticmethod
    def _read_line(fd: int, timeout: float) -> str:
        """Read one line from ``fd`` within ``timeout`` seconds ('' on EOF or timeout)."""
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace").rstrip("\n")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send a signal to the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit and return its status."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 7.0) -> int | None:
        """Stop the process (SIGTERM, then SIGKILL) and close its pipes.

        Returns:
            The exit status, or None when it was never started.
        """
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def close(self) -> None:
        """Stop the process and release the stderr file."""
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> HellogoProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
