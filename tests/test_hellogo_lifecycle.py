"""Starting and stopping a real hellogo process: bind errors, bad options, signals, drain."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hellogo.process import HellogoProcess, free_ports

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]


def run_hellogo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hellogo", *args],
        capture_output=True, text=True, timeout=10, cwd=ROOT, env={**os.environ, **(env or {})},
    )  # fmt: skip


def can_bind(port: int) -> bool:
    """Whether a server could listen on the port now (TIME_WAIT does not count, as for hellogo)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def refused(port: int) -> bool:
    """Whether a connection to the port is refused (nobody listens any more)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # the listener closed during our handshake
        return False
    return False


@pytest.fixture
def proc():
    http1, http2, ws = free_ports(3)
    p = HellogoProcess("127.0.0.1", [http1, http2], ws)
    try:
        p.start()
        yield p
    finally:
        p.close()


def test_port_in_use_is_one_line_and_exit_2():
    http1, http2, ws = free_ports(3)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", http2))
        busy.listen()
        result = run_hellogo("--address", "127.0.0.1", "--http-ports", f"{http1},{http2}",
                             "--ws-port", str(ws))  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"hellogo: cannot listen on 127.0.0.1:{http2}: address already in use\n"
    assert can_bind(http1)


def test_address_that_is_not_ours_is_one_line_and_exit_2():
    result = run_hellogo("--address", "192.0.2.1", "--http-ports", "8080", "--ws-port", "8081")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "hellogo: cannot listen on 192.0.2.1:8080: cannot assign requested address"
    ]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--http-ports", "80,eighty"], {}),
        (["--ws-port", "-3"], {}),
        (["--cache-ttl", "soon"], {}),
        (["--unknown"], {}),
        ([], {"CACHE_TTL": "-5"}),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args, env):
    result = run_hellogo(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hellogo: ")
    assert "Traceback" not in result.stderr


def test_sigterm_exits_0_promptly_and_frees_the_ports(proc):
    idle = socket.create_connection(("127.0.0.1", proc.http_ports[0]), timeout=5)
    with idle:
        idle.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200 OK")
        started = time.monotonic()
        proc.signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
        assert idle.recv(10) == b""  # the idle keep-alive connection was closed
    assert all(can_bind(port) for port in proc.ports)


def test_sigint_exits_0(proc):
    proc.signal(signal.SIGINT)
    assert proc.wait(timeout=5) == 0


def test_request_in_flight_finishes_after_sigterm(proc):
    with socket.create_connection(("127.0.0.1", proc.http_ports[1]), timeout=5) as sock:
        sock.sendall(b"POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab")
        # a full round trip on another connection: the partial request has arrived too
        ping = socket.create_connection(("127.0.0.1", proc.http_ports[0]), timeout=5)
        with ping:
            ping.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
            assert ping.recv(65536).startswith(b"HTTP/1.1 200 OK")
        proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + 3
        while not refused(proc.http_ports[0]):  # listeners close without waiting for the drain
            assert time.monotonic() < deadline
        sock.sendall(b"cd")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in data
    assert proc.wait(timeout=5) == 0


def test_websocket_gets_going_away_on_sigterm(proc):
    async def scenario() -> int | None:
        async with connect(f"ws://127.0.0.1:{proc.ws_port}/") as ws:
            await ws.recv()
            proc.signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == 1001
    assert proc.wait(timeout=5) == 0
