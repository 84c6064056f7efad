"""WebSocket: the sans-I/O session against websockets' client protocol, then a real process."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from hellogo.process import HellogoProcess, free_ports
from hellogo.ws import CLOSE_SOCKET, EchoSession

POD_NAME = "hellogo-699f997454-b5vs4"
HELLO_KEYS = {
    "pod", "pod_ip", "node", "port", "remote_addr", "real_ip", "forwarded_for", "host", "uri",
}  # fmt: skip


# sans I/O


def pump(session: EchoSession, client: ClientProtocol) -> list[bytes]:
    """Send the client's pending bytes to the session; feed its answer back to the client."""
    writes = session.receive(b"".join(client.data_to_send()))
    for chunk in writes:
        if chunk:
            client.receive_data(chunk)
    return writes


def open_session() -> tuple[EchoSession, ClientProtocol, list]:
    session = EchoSession([("X-Pod-Name", POD_NAME)], hello=lambda: '{"pod": "p"}')
    client = ClientProtocol(parse_uri("ws://hellogo.d.xiaomi.net/ws"))
    client.send_request(client.connect())
    pump(session, client)
    return session, client, client.events_received()


def test_handshake_adds_pod_headers_then_hello():
    session, _, events = open_session()
    assert isinstance(events[0], Response)
    assert events[0].status_code == 101 and events[0].headers["X-Pod-Name"] == POD_NAME
    assert isinstance(events[1], Frame) and events[1].data == b'{"pod": "p"}'
    assert session.open


def test_echo_text_binary_fragments_and_ping():
    session, client, _ = open_session()
    client.send_text(b"hello")
    client.send_binary(b"\x00\xff")
    client.send_text(b"frag", fin=False)
    client.send_continuation(b"ment", fin=True)
    client.send_ping(b"p1")
    pump(session, client)
    frames = [(e.opcode, e.data, e.fin) for e in client.events_received()]
    # The protocol answers the ping while parsing, before the echoes of the batch.
    assert sorted(frames, key=lambda f: f[0] is not Opcode.PONG) == [
        (Opcode.PONG, b"p1", True),
        (Opcode.TEXT, b"hello", True),
        (Opcode.BINARY, b"\x00\xff", True),
        (Opcode.TEXT, b"frag", False),
        (Opcode.CONT, b"ment", True),
    ]


def test_close_handshake_then_socket_close():
    session, client, _ = open_session()
    client.send_close(1000, "bye")
    writes = pump(session, client)
    assert writes[-1] == CLOSE_SOCKET
    client.receive_eof()
    assert client.close_code == 1000


def test_going_away_sends_1001():
    session, client, _ = open_session()
    for chunk in session.going_away():
        client.receive_data(chunk)
    assert client.close_rcvd is not None and client.close_rcvd.code == 1001
    assert session.close_expected


def test_bad_handshake_is_rejected_with_400():
    session = EchoSession([], hello=lambda: "")
    writes = session.receive(
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
    assert writes[0].startswith(b"HTTP/1.1 400 ")
    assert writes[-1] == CLOSE_SOCKET


# real process


@pytest.fixture(scope="module")
def pod():
    http1, http2, ws = free_ports(3)
    proc = HellogoProcess("127.0.0.1", [http1, http2], ws, env={"POD_NAME": POD_NAME})
    try:
        proc.start()
        yield proc
    finally:
        proc.close()


async def hello_and_echo(port: int) -> tuple[dict, object, object]:
    uri = f"ws://127.0.0.1:{port}/ws?client=1"
    async with connect(uri, additional_headers={"X-Real-IP": "10.232.41.102"}) as ws:
        assert ws.response.headers["X-Pod-Port"] == str(port)
        hello = json.loads(await ws.recv())
        local = ws.local_address
        await ws.send("ping me")
        assert await ws.recv() == "ping me"
        await ws.send(b"\x01\x02\x03")
        assert await ws.recv() == b"\x01\x02\x03"
        await ws.send(["frag", "mented"])
        assert await ws.recv() == "fragmented"
        await asyncio.wait_for(await ws.ping(b"x"), 5)
        hello["_local"] = f"{local[0]}:{local[1]}"
    return hello, ws.close_code, ws.close_reason


@pytest.mark.slow
@pytest.mark.parametrize("which", ["ws_port", "http_port"])
def test_websocket_hello_then_echo(pod, which):
    port = pod.ws_port if which == "ws_port" else pod.http_ports[0]
    hello, code, _ = asyncio.run(asyncio.wait_for(hello_and_echo(port), 10))
    local = hello.pop("_local")
    assert set(hello) == HELLO_KEYS
    assert hello["pod"] == POD_NAME and hello["pod_ip"] == "127.0.0.1"
    assert hello["port"] == port and hello["remote_addr"] == local
    assert hello["real_ip"] == "10.232.41.102" and hello["host"] == f"127.0.0.1:{port}"
    assert hello["uri"] == "/ws?client=1"
    assert code == 1000


@pytest.mark.slow
def test_http_requests_before_upgrade_on_same_connection(pod):
    port = pod.http_ports[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"GET /first HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        data = b""
        while data.count(b"\r\n\r\n") < 2:
            data += sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"HTTP/1.1 101 Switching Protocols\r\n" in data
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in data


@pytest.mark.slow
def test_many_websockets_at_once(pod):
    async def one() -> str:
        async with connect(f"ws://127.0.0.1:{pod.ws_port}/") as ws:
            await ws.recv()
            await ws.send("x")
            return await ws.recv()

    async def main() -> list[str]:
        return await asyncio.gather(*(one() for _ in range(100)))

    assert asyncio.run(asyncio.wait_for(main(), 20)) == ["x"] * 100
