"""The probe engine: many simulated clients over real HTTP/1.1 keep-alive connections.

Every request goes to the ingress address with the request's Host header;
``X-Forwarded-For`` makes it come from its simulated client (the controller trusts it
with ``use-forwarded-headers``). Results come back in request order, one
``Observation`` each; a transport failure is an observation with status 0 and the
error, never an exception mid-batch.

Two engines give the same observations:

- ``fast`` (default): asyncio protocols over the sans-I/O core in ``h1.py``; one
  connection per worker, requests in sequence on it. It exists because httpx costs
  1-3 ms of CPU per request on a small machine, which would make a 10,000-client
  measurement take longer than the data plane does.
- ``httpx``: one ``httpx.AsyncClient`` with a bounded pool; the reference the fast
  engine is checked against in the self-tests, and the one to use for anything
  beyond plain requests.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import cast

import httpx

from ingressbed.clients import answer
from ingressbed.clients.h1 import ProtocolError, Response, ResponseParser, request_bytes
from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Address, Observation

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
ENGINES = ("fast", "httpx")
USER_AGENT = "ingressbed-probe"


@dataclass(frozen=True)
class HttpRequest:
    """One request to send through the ingress.

    path    request target (path and query), e.g. ``/8080/page?id=3``
    host    Host header (routed to the ingress whatever its name)
    client  simulated client address sent as X-Forwarded-For ("" sends none)
    route   the Ingress path this request is meant to take (for grouping)
    keep    response headers to keep on the observation (lower-case names; none by
            default, so bulk traffic carries no headers)
    """

    path: str
    host: str
    client: str = ""
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)
    method: str = "GET"
    body: bytes | None = None
    step: str = ""
    route: str = ""
    keep: frozenset[str] = frozenset()

    def header_map(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, **self.headers}
        if self.client:
            headers["X-Forwarded-For"] = self.client
        return headers


def _observation(
    req: HttpRequest,
    status: int,
    headers: Mapping[str, str],
    elapsed: float,
    error: str = "",
    *,
    lower: bool = False,
    lines: Sequence[tuple[str, str]] = (),
) -> Observation:
    who = answer.from_headers(headers, lower=lower)
    return Observation(
        protocol="http",
        client=req.client,
        host=req.host,
        key=req.path,
        pod=who.pod,
        pod_ip=who.pod_ip,
        port=who.port,
        status=status,
        cache_status=who.cache_status,
        elapsed=elapsed,
        route=req.route,
        step=req.step,
        error=error,
        headers=answer.kept(lines, req.keep),
        cookie=answer.request_cookie(req.headers),
    )


class _Connection(asyncio.Protocol):
    """One keep-alive connection of the fast engine: one request in flight at a time."""

    def __init__(self) -> None:
        self.parser = ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            responses = self.parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        for response in responses:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        try:
            last = self.parser.feed_eof()
        except ProtocolError as error:
            self._fail(error)
            return
        if last is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(last)
        else:
            self._fail(exc or ConnectionError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, data: bytes, head: bool, timeout: float) -> Response:
        assert self.transport is not None
        self.parser.head_request = head
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation (Ctrl-C).
        async with asyncio.timeout(timeout):
            return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Prober:
    """Sends batches of requests with at most ``concurrency`` connections."""

    def __init__(
        self,
        address: Address,
        *,
        concurrency: int = 16,
        timeout: float = 10.0,
        engine: str = "fast",
    ) -> None:
        if engine not in ENGINES:
            raise ConfigError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        self.address = address
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.engine = engine

    async def run(self, requests: Sequence[HttpRequest]) -> list[Observation]:
        """Send every request; return observations in the same order."""
        results: list[Observation | None] = [None] * len(requests)
        queue = iter(range(len(requests)))
        workers = min(self.concurrency, len(requests))
        if self.engine == "httpx":
            limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
            async with httpx.AsyncClient(
                base_url=self.address.base_url,
                limits=limits,
                timeout=self.timeout,
                trust_env=False,  # never through a proxy from the environment
            ) as client:

                async def httpx_worker() -> None:
                    for index in queue:
                        results[index] = await self._httpx_one(client, requests[index])

                await asyncio.gather(*(httpx_worker() for _ in range(workers)))
        else:

            async def fast_worker() -> None:
                conn: _Connection | None = None
                try:
                    for index in queue:
                        results[index], conn = await self._fast_one(conn, requests[index])
                finally:
                    if conn is not None:
                        conn.close()

            await asyncio.gather(*(fast_worker() for _ in range(workers)))
        return [r for r in results if r is not None]

    async def _fast_one(
        self, conn: _Connection | None, req: HttpRequest
    ) -> tuple[Observation, _Connection | None]:
        start = time.perf_counter()
        data = request_bytes(req.method, req.path, req.host, req.header_map(), req.body)
        try:
            if conn is None or conn.closed:
                loop = asyncio.get_running_loop()
                async with asyncio.timeout(self.timeout):
                    _, conn = await loop.create_connection(
                        _Connection, self.address.host, self.address.port
                    )
            response = await conn.exchange(data, req.method == "HEAD", self.timeout)
        except (OSError, ProtocolError, TimeoutError) as exc:
            if conn is not None:
                conn.close()
            error = f"{type(exc).__name__}: {exc}"
            return _observation(req, 0, {}, time.perf_counter() - start, error), None
        if not response.keep_alive:
            conn.close()
            conn = None
        elapsed = time.perf_counter() - start
        seen = _observation(
            req, response.status, response.headers, elapsed, lower=True, lines=response.lines
        )
        return seen, conn

    async def _httpx_one(self, client: httpx.AsyncClient, req: HttpRequest) -> Observation:
        start = time.perf_counter()
        try:
            response = await client.request(
                req.method,
                req.path,
                headers={"Host": req.host, **req.header_map()},
                content=req.body,
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            return _observation(req, 0, {}, time.perf_counter() - start, error)
        return _observation(
            req,
            response.status_code,
            response.headers,
            time.perf_counter() - start,
            lines=response.headers.multi_items() if req.keep else (),
        )


def probe(
    address: Address,
    requests: Sequence[HttpRequest],
    *,
    concurrency: int = 16,
    timeout: float = 10.0,
    engine: str = "fast",
) -> list[Observation]:
    """Blocking wrapper of ``Prober.run`` for tests and the CLI."""
    prober = Prober(address, concurrency=concurrency, timeout=timeout, engine=engine)
    return asyncio.run(prober.run(requests))
