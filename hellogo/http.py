"""HTTP/1.x request reading, sans I/O: bytes in, complete requests out.

``RequestReader`` is fed whatever the socket delivered and hands back one ``Request``
per complete request, in order (pipelining), after reading and discarding its body
(``Content-Length`` or ``chunked``). Malformed input raises ``HttpError`` with the
status to answer; the connection is then answered and closed.
"""

from __future__ import annotations

from typing import Final

from hellogo.errors import HttpError

MAX_HEAD: Final = 64 * 1024
"""Largest request head (request line and headers) accepted, in bytes."""
MAX_CHUNK_LINE: Final = 4096
"""Largest chunk-size or trailer line accepted, in bytes."""

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_BAD_VALUE_CHARS: Final = ("\r", "\n", "\0")
_BAD_NAME_CHARS: Final = frozenset(' \t"(),/:;<=>?@[\\]{}\x7f')

# Body states of the reader.
_HEAD: Final = 0
_LENGTH: Final = 1
_CHUNK_SIZE: Final = 2
_CHUNK_DATA: Final = 3
_CHUNK_CRLF: Final = 4
_TRAILER: Final = 5


class Request:
    """One parsed request head.

    Attributes:
        method: the method, as sent (case-sensitive).
        target: the request target, as sent (path and query).
        minor: the HTTP minor version (0 or 1).
        headers: header names lowercased; repeated headers joined with ``", "``.
        keep_alive: whether the connection stays open after the answer.
        websocket: whether this is a WebSocket upgrade (GET, HTTP/1.1,
            ``Upgrade: websocket``, ``Connection: upgrade``).
        head: the raw bytes of the head, terminating blank line included.
    """

    __slots__ = ("head", "headers", "keep_alive", "method", "minor", "target", "websocket")

    def __init__(
        self,
        method: str,
        target: str,
        minor: int,
        headers: dict[str, str],
        keep_alive: bool,
        websocket: bool,
        head: bytes,
    ) -> None:
        self.method = method
        self.target = target
        self.minor = minor
        self.headers = headers
        self.keep_alive = keep_alive
        self.websocket = websocket
        self.head = head

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target} HTTP/1.{self.minor}>"


def _tokens(value: str) -> list[str]:
    """Split a comma-separated header value into lowercased tokens."""
    return [token.strip().lower() for token in value.split(",")]


def parse_head(head: bytes) -> tuple[Request, int]:
    """Parse a request head.

    Args:
        head: the bytes of one head, ending with the blank line (``\\r\\n\\r\\n``).

    Returns:
        The request and its body framing: ``-1`` for chunked, else the body length.

    Raises:
        HttpError: the head is malformed or uses an unsupported version or coding.
    """
    lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version == "HTTP/1.1":
        minor = 1
    elif version == "HTTP/1.0":
        minor = 0
    elif version.startswith("HTTP/") and len(version) == 8 and version[6] == ".":
        raise HttpError(505, f"HTTP version not supported: {version}")
    else:
        raise HttpError(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:-2]:  # the head ends with two empty strings
        name, colon, value = line.partition(":")
        if not colon or not name or not _BAD_NAME_CHARS.isdisjoint(name):
            raise HttpError(400, "malformed header line")
        value = value.strip(" \t")
        for bad in _BAD_VALUE_CHARS:
            if bad in value:
                raise HttpError(400, "invalid character in header value")
        name = name.lower()
        previous = headers.get(name)
        if previous is None:
            headers[name] = value
        elif name == "host":
            raise HttpError(400, "more than one Host header")
        else:
            headers[name] = f"{previous}, {value}"
    if minor == 1 and "host" not in headers:
        raise HttpError(400, "missing Host header")
    connection = headers.get("connection")
    tokens = _tokens(connection) if connection else []
    keep_alive = "close" not in tokens if minor == 1 else "keep-alive" in tokens
    websocket = (
        minor == 1
        and method == "GET"
        and "upgrade" in tokens
        and "websocket" in _tokens(headers.get("upgrade", ""))
    )
    return (
        Request(method, target, minor, headers, keep_alive, websocket, head),
        _body_length(headers),
    )


def _body_length(headers: dict[str, str]) -> int:
    """Return ``-1`` for a chunked body, else the body length (0 when none)."""
    coding = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if coding is not None:
        if length is not None:
            raise HttpError(400, "both Transfer-Encoding and Content-Length")
        if _tokens(coding)[-1] != "chunked":
            raise HttpError(501, f"unsupported Transfer-Encoding: {coding}")
        return -1
    if length is None:
        return 0
    values = set(_tokens(length))
    if len(values) != 1:
        raise HttpError(400, "conflicting Content-Length values")
    value = values.pop()
    if not value.isdigit() or not value.isascii() or len(value) > 18:
        raise HttpError(400, "invalid Content-Length")
    return int(value)


class RequestReader:
    """Incremental request reader for one connection.

    Feed it with ``feed()``; call ``next_request()`` until it returns ``None``.
    """

    __slots__ = (
        "_buf",
        "_continue",
        "_pending",
        "_pos",
        "_remaining",
        "_state",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._state = _HEAD
        self._remaining = 0
        self._pending: Request | None = None
        self._continue = False

    @property
    def idle(self) -> bool:
        """True between requests with nothing buffered (safe to close the connection)."""
        return self._state == _HEAD and self._pos >= len(self._buf)

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._buf += data

    def take_rest(self) -> bytes:
        """Remove and return the bytes not consumed yet (after an upgrade)."""
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest

    def take_continue(self) -> bool:
        """Return True once when a request asked for ``100 Continue`` and its body is awaited."""
        wanted, self._continue = self._continue, False
        return wanted

    def next_request(self) -> Request | None:
        """Return the next complete request, or None when more bytes are needed.

        Raises:
            HttpError: the input is malformed; answer with its status and close.
        """
        buf = self._buf
        while True:
            state = self._state
            if state == _HEAD:
                pos = self._pos
                while buf.startswith(b"\r\n", pos):  # tolerate blank lines between requests
                    pos += 2
                self._pos = pos
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    if len(buf) - pos > MAX_HEAD:
                        raise HttpError(431, "request head too large")
                    self._compact()
                    return None
                end += 4
                if end - pos > MAX_HEAD:
                    raise HttpError(431, "request head too large")
                request, length = parse_head(bytes(buf[pos:end]))
                self._pos = end
                if length == 0 or request.websocket:
                    return request
                self._pending = request
                if length > 0:
                    self._state = _LENGTH
                    self._remaining = length
                else:
                    self._state = _CHUNK_SIZE
                expect = request.headers.get("expect")
                if expect is not None and expect.lower() == "100-continue" and request.minor:
                    self._continue = True
            elif not self._skip_body():
                self._compact()
                return None
            else:
                done, self._pending = self._pending, None
                self._state = _HEAD
                self._continue = False
                assert done is not None
                return done

    def _compact(self) -> None:
        """Drop the consumed bytes from the buffer."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0

    def _line(self) -> str | None:
        """Consume one CRLF-terminated line of a chunked body, or return None."""
        buf = self._buf
        end = buf.find(b"\r\n", self._pos)
        if end < 0:
            if len(buf) - self._pos > MAX_CHUNK_LINE:
                raise HttpError(400, "chunk line too long")
            return None
        if end - self._pos > MAX_CHUNK_LINE:
            raise HttpError(400, "chunk line too long")
        line = bytes(buf[self._pos : end]).decode("latin-1")
        self._pos = end + 2
        return line

    def _skip_body(self) -> bool:
        """Discard body bytes; return True once the body is complete."""
        buf = self._buf
        while True:
            state = self._state
            if state in (_LENGTH, _CHUNK_DATA):
                available = len(buf) - self._pos
                step = min(available, self._remaining)
                self._pos += step
                self._remaining -= step
                if self._remaining:
                    return False
                if state == _LENGTH:
                    return True
                self._state = _CHUNK_CRLF
            elif state == _CHUNK_CRLF:
                if len(buf) - self._pos < 2:
                    return False
                if not buf.startswith(b"\r\n", self._pos):
                    raise HttpError(400, "malformed chunked body")
                self._pos += 2
                self._state = _CHUNK_SIZE
            elif state == _CHUNK_SIZE:
                line = self._line()
                if line is None:
                    return False
                size = line.partition(";")[0].strip(" \t")
                if not size or len(size) > 15 or not _HEX.issuperset(size):
                    raise HttpError(400, "malformed chunk size")
                self._remaining = int(size, 16)
                self._state = _CHUNK_DATA if self._remaining else _TRAILER
            else:  # _TRAILER: lines until an empty one
                line = self._line()
                if line is None:
                    return False
                if not line:
                    return True
