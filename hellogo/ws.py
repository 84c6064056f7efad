"""The WebSocket side of a connection, sans I/O, over ``websockets``' ServerProtocol.

After an HTTP request asks for an upgrade, the connection hands its raw bytes to an
``EchoSession``: it completes the handshake (adding the ``X-Pod-*`` headers), sends
the hello message, then echoes every text and binary frame. Pings are answered and
closes completed by the protocol itself. Each method returns the bytes to write;
an empty ``bytes`` in that list means "close the TCP connection".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from websockets.exceptions import InvalidState
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import State
from websockets.server import ServerProtocol

CLOSE_SOCKET: Final = b""
"""Marker in the returned writes: close the TCP connection after writing the rest."""


class EchoSession:
    """One WebSocket connection: handshake, hello, echo.

    Args:
        extra_headers: headers added to the handshake response (name, value).
        hello: called once the handshake succeeded; returns the first text message.
        max_size: the largest incoming message, in bytes.
    """

    def __init__(
        self,
        extra_headers: list[tuple[str, str]],
        hello: Callable[[], str],
        max_size: int = 2**20,
    ) -> None:
        self._protocol = ServerProtocol(max_size=max_size)
        self._extra_headers = extra_headers
        self._hello = hello

    @property
    def open(self) -> bool:
        """True while the WebSocket connection is open (handshake done, no close yet)."""
        return self._protocol.state is State.OPEN

    @property
    def close_expected(self) -> bool:
        """True when the peer is expected to close soon (arm a timeout)."""
        return self._protocol.close_expected()

    def receive(self, data: bytes) -> list[bytes]:
        """Process bytes from the peer (the first call gets the handshake request).

        Returns:
            The bytes to write, in order; ``CLOSE_SOCKET`` means close after writing.
        """
        protocol = self._protocol
        try:
            protocol.receive_data(data)
        except EOFError:
            return []
        for event in protocol.events_received():
            if isinstance(event, WsRequest):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._echo(event)
        return protocol.data_to_send()

    def receive_eof(self) -> list[bytes]:
        """Process the end of the peer's stream."""
        self._protocol.receive_eof()
        return self._protocol.data_to_send()

    def going_away(self) -> list[bytes]:
        """Start a clean close with code 1001 (the server is stopping)."""
        protocol = self._protocol
        if protocol.state is State.OPEN:
            protocol.send_close(CloseCode.GOING_AWAY, "server stopping")
        return protocol.data_to_send()

    def _handshake(self, request: WsRequest) -> None:
        protocol = self._protocol
        response = protocol.accept(request)
        for name, value in self._extra_headers:
            response.headers[name] = value
        protocol.send_response(response)
        if response.status_code == 101:
            protocol.send_text(self._hello().encode())

    def _echo(self, frame: Frame) -> None:
        protocol = self._protocol
        if protocol.state is not State.OPEN:
            return
        opcode = frame.opcode
        try:
            if opcode is Opcode.TEXT:
                protocol.send_text(frame.data, fin=frame.fin)
            elif opcode is Opcode.BINARY:
                protocol.send_binary(frame.data, fin=frame.fin)
            elif opcode is Opcode.CONT:
                protocol.send_continuation(frame.data, fin=frame.fin)
        except InvalidState:  # pragma: no cover - guarded by the state check above
            pass
