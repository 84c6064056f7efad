"""Helpers the self-tests share for real processes: free ports, a real nginx, who-am-I
upstreams, leftovers, waiting on pids and Ctrl-C as in a terminal.

Not a test module (no ``test_`` prefix); imported as ``tests.real_processes``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ingressbed import planes
from ingressbed.backends.local_addresses import LOCK_DIR, run_dirs
from ingressbed.backends.processes import find_program
from ingressbed.vocabulary import Endpoint


def find_nginx(*, only_path: bool = False) -> str:
    """The nginx binary the local backend would use (ToolError: how to install it).
    ``only_path``: search $PATH only, not the program's extra folders (/usr/sbin ...)."""
    return _find("nginx", only_path)


def find_haproxy(*, only_path: bool = False) -> str:
    """The haproxy binary the local backend would use (see ``find_nginx``)."""
    return _find("haproxy", only_path)


def _find(plane: str, only_path: bool) -> str:
    program = planes.plane(plane).program
    assert program is not None
    return find_program(dataclasses.replace(program, search_dirs=()) if only_path else program)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class _WhoAmI(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stall

    def do_GET(self) -> None:
        host, port = self.server.server_address[:2]
        body = f"{host}:{port}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the tests compare answers, not logs."""


class _Listener(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A proxy closing its idle connections at the end is no error; the rest is."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def start_whoami(endpoints: Iterable[Endpoint]) -> list[ThreadingHTTPServer]:
    """One tiny HTTP server per endpoint, each answering its own ``address:port``."""
    servers: list[ThreadingHTTPServer] = []
    try:
        for endpoint in sorted(set(endpoints)):
            server = _Listener((endpoint.address, endpoint.port), _WhoAmI)
            servers.append(server)  # listening from here on: bound in the constructor
            # A short select timeout makes shutdown() return quickly; it is not a wait.
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    except BaseException:
        stop_whoami(servers)
        raise
    return servers


def stop_whoami(servers: list[ThreadingHTTPServer]) -> None:
    """Stop servers ``start_whoami`` started."""
    for server in servers:
        server.shutdown()
        server.server_close()


def nginx_prelude(folder: Path) -> list[str]:
    """The first lines of a test nginx.conf, up to inside ``http {``: one worker, every
    file under ``folder``, no access log. The caller adds its ``http`` content and ``}``."""
    return [
        "worker_processes 1;",
        f"pid {folder}/nginx.pid;",
        f"error_log {folder}/error.log warn;",
        "user root;" if os.geteuid() == 0 else "",
        "events { worker_connections 256; }",
        "http {",
        "  access_log off;",
        *(
            f"  {kind}_temp_path {folder}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
    ]


def wait_until_answering(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until 127.0.0.1:``port`` accepts a connection; fail at once if ``proc`` exits."""
    for _ in range(500):  # at most ~10 s: each round waits on the process or a connect
        if proc.poll() is not None:
            raise RuntimeError(
                f"{_name(proc)} exited with {proc.returncode}: {log.read_text(errors='replace')}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)  # a bounded wait that also notices an early exit
    raise RuntimeError(
        f"{_name(proc)} did not answer on port {port}: {log.read_text(errors='replace')}"
    )


def _name(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args
    first = args[0] if isinstance(args, list | tuple) else args
    return Path(str(first)).name


@contextlib.contextmanager
def running_nginx(binary: str, folder: Path, config: str, port: int) -> Iterator[None]:
    """Run ``binary`` with ``config`` (written to ``folder``) until the block ends.

    Returns once ``port`` answers; the process is stopped (and reaped) on the way out.
    """
    (folder / "nginx.conf").write_text(config)
    log = folder / "error.log"
    conf = folder / "nginx.conf"
    argv = [binary, "-p", str(folder), "-e", str(log), "-c", str(conf), "-g", "daemon off;"]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # everything goes to error.log (-e and error_log)
    )
    try:
        wait_until_answering(proc, port, log)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line.strip())
    return found


#: The local backend's start-up line: its block and its run folder.
BLOCK_LINE = re.compile(r"local backend: block (127\.\d+\.\d+)\.0/24, .* run folder (\S+)")


def wait_gone(pids: Iterable[int], timeout: float = 10.0) -> list[int]:
    """Wait (pidfd) until every pid has exited; return those still alive at the deadline."""
    fds = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    try:
        while fds:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select(list(fds), [], [], left)
            for fd in ready:
                os.close(fd)
                del fds[fd]
        return sorted(fds.values())
    finally:
        for fd in fds:
            os.close(fd)


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    """Re-check ``condition`` until it holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never saw: {what}"
        select.select([], [], [], 0.01)  # re-check interval; the condition decides


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def interruptible() -> None:
    """In the child before exec: Ctrl-C as in a terminal. A shell starts background jobs
    with SIGINT ignored, and Python then never turns SIGINT into KeyboardInterrupt; the
    self-test must not depend on how it was launched."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def assert_nothing_left(prefix: str, output: str) -> None:
    assert processes_mentioning(f"--address {prefix}.") == [], output[-3000:]
    assert processes_mentioning(f"ingressbed-{prefix}-") == [], output[-3000:]
    assert run_dirs(prefix) == [], output[-3000:]
    assert not (LOCK_DIR / f"{prefix}.lock").exists(), output[-3000:]


@dataclass(frozen=True)
class RawAnswer:
    """One answer read off the wire by ``raw_request``."""

    status: int
    headers: list[tuple[str, str]]
    body: str
    source_port: int

    def header(self, name: str) -> list[str]:
        """Every value of a response header (name without case)."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


def raw_request(
    address: str,
    port: int,
    target: str,
    lines: Iterable[tuple[str, str]] = (),
    *,
    source: str | None = None,
    timeout: float = 10.0,
) -> RawAnswer:
    """Send one GET exactly as written (target and header lines untouched) and read the
    answer; ``Connection: close`` is added, so each request has its own connection.

    Args:
        address: the server's IP.
        port: its port.
        target: the request target, sent as is (``//a/./b?x``).
        lines: header lines, in order, repeated names kept; a ``Host`` line belongs here.
        source: the IP to connect from (the TCP peer the server sees).
        timeout: seconds for connect and each read.
    """
    head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines)
    with socket.create_connection(
        (address, port), timeout=timeout, source_address=(source, 0) if source else None
    ) as sock:
        source_port = int(sock.getsockname()[1])
        sock.sendall((head + "Connection: close\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_text, _, body = data.partition(b"\r\n\r\n")
    first, *rest = header_text.decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in rest)]
    return RawAnswer(int(first.split()[1]), headers, body.decode("latin-1"), source_port)
