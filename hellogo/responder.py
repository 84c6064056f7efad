"""What one listener answers to one HTTP request, with the per-pod page cache.

``Responder.respond`` turns a parsed request into the complete response bytes. It
decides the cache state (MISS, HIT, EXPIRED, BYPASS), renders fresh pages and stores
them. No I/O: the connection writes the bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from hellogo import answer
from hellogo.cache import BYPASS, HIT, PageCache
from hellogo.http import Request
from hellogo.identity import Identity

CACHEABLE_METHODS: Final = frozenset({"GET", "HEAD"})
HEALTH_PATH: Final = "/healthz"
HEALTH_BODY: Final = b"ok"


class Page:
    """A cached answer: header lines of a HIT answer and its body.

    Attributes:
        tail: ``X-Cache-Status: HIT``, ``Content-Type`` and ``Content-Length`` lines.
        body: the body served on a HIT.
    """

    __slots__ = ("body", "tail")

    def __init__(self, tail: bytes, body: bytes) -> None:
        self.tail = tail
        self.body = body


PageKey = tuple[str, str, bool]
"""(host, request target, JSON representation)."""


def _bypass(request: Request) -> bool:
    """True when the request must not use the cache."""
    if request.method not in CACHEABLE_METHODS:
        return True
    headers = request.headers
    control = headers.get("cache-control")
    if control is not None and "no-cache" in control.lower():
        return True
    pragma = headers.get("pragma")
    return pragma is not None and "no-cache" in pragma.lower()


def _is_health(target: str) -> bool:
    """True for ``/healthz`` with or without a query."""
    return target.startswith(HEALTH_PATH) and (
        len(target) == len(HEALTH_PATH) or target[len(HEALTH_PATH)] == "?"
    )


class Responder:
    """The answers of one listener.

    Args:
        port: the listener port, reported in ``X-Pod-Port`` and the bodies.
        identity: the pod's identity.
        cache: the process's page cache, shared by all listeners of the process.
        wall_clock: POSIX time for the ``Date`` header; ``time.time`` by default.
    """

    def __init__(
        self,
        port: int,
        identity: Identity,
        cache: PageCache[Page],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.port = port
        self.identity = identity
        self.cache = cache
        self._wall_clock = wall_clock
        self._ok_prefix = answer.status_line(200) + answer.identity_headers(port, identity)
        self._health_tail = answer.entity_headers(answer.TEXT_TYPE, len(HEALTH_BODY))
        self._date_second = -1
        self._date = b""

    def _date_line(self) -> bytes:
        """The ``Date`` header line, formatted at most once per second."""
        now = self._wall_clock()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date = answer.date_header(now)
        return self._date

    def respond(self, request: Request, remote_addr: str, keep_alive: bool) -> bytes:
        """Answer one request.

        Args:
            request: the parsed request.
            remote_addr: the peer as ``ip:port``.
            keep_alive: whether the connection stays open after this answer.

        Returns:
            The full response: status line, headers, body (none for HEAD).
        """
        conn = answer.connection_header(request.minor, keep_alive)
        head_only = request.method == "HEAD"
        target = request.target
        if _is_health(target):
            body = b"" if head_only else HEALTH_BODY
            return b"".join(
                (self._ok_prefix, self._health_tail, self._date_line(), conn, b"\r\n", body)
            )
        as_json = answer.wants_json(request)
        key: PageKey | None = None
        if _bypass(request):
            status = BYPASS
        else:
            key = (request.headers.get("host", "").lower(), target, as_json)
            status, page = self.cache.lookup(key)
            if page is not None:
                body = b"" if head_only else page.body
                return b"".join(
                    (self._ok_prefix, page.tail, self._date_line(), conn, b"\r\n", body)
                )
        identity = self.identity
        if as_json:
            content_type = answer.JSON_TYPE
            body = answer.json_body(self.port, request, remote_addr, identity, status)
        else:
            content_type = answer.TEXT_TYPE
            body = answer.text_body(self.port, request, remote_addr, identity)
        if key is not None:
            # A HIT serves this page; in JSON only cache_status changes, to say HIT.
            hit_body = (
                answer.json_body(self.port, request, remote_addr, identity, HIT)
                if as_json
                else body
            )
            tail = b"X-Cache-Status: HIT\r\n" + answer.entity_headers(content_type, len(hit_body))
            self.cache.store(key, Page(tail, hit_body))
        return b"".join(
            (
                self._ok_prefix,
                b"X-Cache-Status: ",
                status.encode(),
                b"\r\n",
                answer.entity_headers(content_type, len(body)),
                self._date_line(),
                conn,
                b"\r\n",
                b"" if head_only else body,
            )
        )

    def error(self, status: int, reason: str) -> bytes:
        """Answer a request that could not be parsed; the connection closes after it.

        Args:
            status: the HTTP status.
            reason: one line of explanation, sent as the body.

        Returns:
            The full response.
        """
        body = reason.encode("utf-8", "replace") + b"\n"
        return b"".join(
            (
                answer.status_line(status),
                answer.identity_headers(self.port, self.identity),
                answer.entity_headers(answer.TEXT_TYPE, len(body)),
                self._date_line(),
                b"Connection: close\r\n\r\n",
                body,
            )
        )

    def hello(self, request: Request, remote_addr: str) -> str:
        """The first WebSocket message for a connection opened by ``request``."""
        return answer.hello_message(self.port, request, remote_addr, self.identity)
