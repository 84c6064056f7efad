"""The asyncio side: listeners, connections, graceful stop.

Every listener runs the same ``Connection`` protocol: HTTP/1.1 with keep-alive and
pipelining, switching to WebSocket when a request asks for the upgrade. ``serve``
binds every listener before accepting on any, prints the ready line, and on SIGTERM
or SIGINT stops accepting, lets requests in flight finish (at most
``DRAIN_SECONDS``) and returns 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from typing import Final, TextIO

from hellogo.answer import format_peer
from hellogo.cache import PageCache
from hellogo.config import Config
from hellogo.errors import HttpError, ListenError
from hellogo.http import Request, RequestReader
from hellogo.identity import Identity
from hellogo.responder import Page, Responder
from hellogo.ws import CLOSE_SOCKET, EchoSession

DRAIN_SECONDS: Final = 5.0
"""Longest wait for requests in flight after SIGTERM."""
IDLE_SECONDS: Final = 75.0
"""Idle keep-alive HTTP connections are closed after this long (above nginx's 60 s)."""
SWEEP_SECONDS: Final = 15.0
"""How often idle connections are looked for."""
WS_CLOSE_SECONDS: Final = 3.0
"""Longest wait for the peer to finish a WebSocket closing handshake."""
BACKLOG: Final = 1024

_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class Hub:
    """What the connections of one process share: the set of them and the stop state."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.draining = False
        self._empty = asyncio.Event()

    def add(self, conn: Connection) -> None:
        """Register a new connection."""
        self.connections.add(conn)

    def remove(self, conn: Connection) -> None:
        """Forget a closed connection."""
        self.connections.discard(conn)
        if self.draining and not self.connections:
            self._empty.set()

    def drain(self) -> None:
        """Ask every connection to finish what it is doing and close."""
        self.draining = True
        for conn in list(self.connections):
            conn.stop()
        if not self.connections:
            self._empty.set()

    async def wait_empty(self) -> None:
        """Return once every connection is closed (after ``drain``)."""
        await self._empty.wait()

    def abort_all(self) -> None:
        """Close every remaining connection at once."""
        for conn in list(self.connections):
            conn.abort()

    def sweep(self, now: float) -> None:
        """Close HTTP connections that received nothing for more than ``IDLE_SECONDS``."""
        for conn in list(self.connections):
            if conn.quiet_for(now) > IDLE_SECONDS:
                conn.close()


class Connection(asyncio.Protocol):
    """One accepted TCP connection of one listener.

    Args:
        responder: the listener's answers.
        hub: the process's shared connection state.
        delay: seconds every HTTP answer is held back (``--delay-ms``); answers keep
            their order, and the connection closes only after a held answer is written.
    """

    def __init__(self, responder: Responder, hub: Hub, delay: float = 0.0) -> None:
        self._responder = responder
        self._hub = hub
        self._delay = delay
        self._held = 0  # answers scheduled but not yet written
        self._reader = RequestReader()
        self._transport: asyncio.Transport | None = None
        self._remote_addr = ""
        self._session: EchoSession | None = None
        self._closing = False
        self._last_active = time.monotonic()
        self._close_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._remote_addr = format_peer(transport.get_extra_info("peername"))
        self._hub.add(self)
        if self._hub.draining:
            self.stop()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._session is not None:
            self._session.receive_eof()
        self._hub.remove(self)

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._last_active = time.monotonic()
        if self._session is not None:
            self._ws_write(self._session.receive(data))
            return
        transport = self._transport
        assert transport is not None
        reader = self._reader
        responder = self._responder
        reader.feed(data)
        out: list[bytes] = []
        while True:
            try:
                request = reader.next_request()
            except HttpError as exc:
                out.append(responder.error(exc.status, exc.reason))
                self._closing = True
                break
            if request is None:
                if reader.take_continue():
                    out.append(_CONTINUE)
                break
            if request.websocket:
                if out:
                    transport.writelines(out)
                self._upgrade(request.head + reader.take_rest(), request)
                return
            keep_alive = request.keep_alive and not self._hub.draining
            out.append(responder.respond(request, self._remote_addr, keep_alive))
            if not keep_alive:
                self._closing = True
                break
        payload = out[0] if len(out) == 1 else b"".join(out)
        if self._delay > 0 and payload and payload != _CONTINUE:
            self._held += 1
            loop = asyncio.get_running_loop()
            loop.call_later(self._delay, self._write_held, payload, self._closing)
            return
        if payload:
            transport.write(payload)
        if self._closing:
            transport.close()

    def _write_held(self, payload: bytes, close: bool) -> None:
        """Write an answer held back by ``delay``; close afterwards when it said so."""
        self._held -= 1
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(payload)
        if close or (self._hub.draining and not self._held and self._reader.idle):
            transport.close()

    # WebSocket

    def _upgrade(self, raw: bytes, request: Request) -> None:
        responder = self._responder
        identity = responder.identity
        remote_addr = self._remote_addr
        self._session = EchoSession(
            extra_headers=[
                ("X-Pod-Name", identity.pod),
                ("X-Pod-IP", identity.pod_ip),
                ("X-Pod-Port", str(responder.port)),
            ],
            hello=lambda: responder.hello(request, remote_addr),
        )
        self._ws_write(self._session.receive(raw))
        if self._hub.draining:
            self.stop()

    def _ws_write(self, writes: list[bytes]) -> None:
        transport = self._transport
        assert transport is not None and self._session is not None
        for chunk in writes:
            if chunk is CLOSE_SOCKET or not chunk:
                self._closing = True
                transport.close()
                return
            transport.write(chunk)
        if self._session.close_expected and self._close_timer is None:
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(WS_CLOSE_SECONDS, self.abort)

    # Called by the hub

    def quiet_for(self, now: float) -> float:
        """Seconds since this HTTP connection last received bytes (0 for a WebSocket)."""
        if self._session is not None:
            return 0.0
        return now - self._last_active

    def close(self) -> None:
        """Close after writing what is buffered."""
        if self._transport is not None:
            self._closing = True
            self._transport.close()

    def stop(self) -> None:
        """Finish gracefully: close now if idle, after the request in flight otherwise."""
        transport = self._transport
        if transport is None or self._closing:
            return
        if self._session is not None:
            self._ws_write(self._session.going_away())
        elif self._reader.idle and not self._held:
            self._closing = True
            transport.close()
        # else: the request in flight is answered with "Connection: close".

    def abort(self) -> None:
        """Drop the connection now."""
        if self._transport is not None:
            self._transport.abort()


def _where(address: str, port: int) -> str:
    """Format ``address:port`` (brackets around IPv6)."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _dual_stack_socket(port: int) -> socket.socket:
    """A listening socket on ``[::]:port`` that accepts IPv4 too (asyncio would not)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def _bind(
    loop: asyncio.AbstractEventLoop,
    config: Config,
    responders: dict[int, Responder],
    hub: Hub,
) -> list[tuple[int, asyncio.Server]]:
    """Bind every listener without accepting yet; return (listener index, server)."""
    bound: list[tuple[int, asyncio.Server]] = []
    try:
        for index, port in enumerate(config.ports):

            def factory(index: int = index) -> Connection:
                return Connection(responders[index], hub, config.delay_ms / 1000)

            try:
                if config.address == "::":
                    server = await loop.create_server(
                        factory, sock=_dual_stack_socket(port), start_serving=False
                    )
                else:
                    server = await loop.create_server(
                        factory,
                        host=config.address,
                        port=port,
                        backlog=BACKLOG,
                        start_serving=False,
                    )
            except OSError as exc:
                if isinstance(exc, socket.gaierror) or not exc.errno:
                    why = str(exc.strerror or exc).lower()
                else:
                    why = os.strerror(exc.errno).lower()
                raise ListenError(
                    f"cannot listen on {_where(config.address, port)}: {why}"
                ) from exc
            bound.append((index, server))
    except BaseException:
        for _, server in bound:
            server.close()
        raise
    return bound


async def serve(config: Config, identity: Identity, out: TextIO | None = None) -> int:
    """Run hellogo until SIGTERM or SIGINT.

    Args:
        config: what to listen on.
        identity: who this pod is.
        out: where the ready line goes (stdout by default).

    Returns:
        The exit status (0 after a graceful stop).

    Raises:
        ListenError: a listener could not be bound; nothing is left listening.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    hub = Hub()
    cache: PageCache[Page] = PageCache(config.cache_ttl)
    responders: dict[int, Responder] = {}
    bound = await _bind(loop, config, responders, hub)
    ports: list[int] = []
    for index, server in bound:
        port = server.sockets[0].getsockname()[1]
        responders[index] = Responder(port, identity, cache)
        ports.append(port)
    for _, server in bound:
        await server.start_serving()
    line = (
        f"hellogo ready pod={identity.pod} address={config.address} "
        f"ports={','.join(map(str, ports))}"
    )
    stream = out if out is not None else sys.stdout
    with contextlib.suppress(OSError):  # nobody reads stdout: keep serving
        print(line, file=stream, flush=True)
    sweeper = loop.create_task(_sweep(hub))
    await stop.wait()
    sweeper.cancel()
    for _, server in bound:
        server.close()
    hub.drain()
    try:
        await asyncio.wait_for(hub.wait_empty(), DRAIN_SECONDS)
    except TimeoutError:
        hub.abort_all()
    return 0


async def _sweep(hub: Hub) -> None:
    """Close idle keep-alive connections now and then."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        hub.sweep(time.monotonic())
