"""WebSocket client: connect through the ingress, read hellogo's hello, check the echo.

The URI carries the Host the Ingress routes on; the TCP connection goes to the
ingress address (``host``/``port`` given to the event loop), so no DNS is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from ingressbed.clients import answer
from ingressbed.vocabulary import Address, Observation

ECHO_PROBE = "ingressbed-echo"


@dataclass(frozen=True)
class WsRequest:
    """One WebSocket session: connect to ``path`` on ``host`` as ``client``.

    ``cookie`` is sent as the handshake's ``Cookie`` header ("" sends none); ``keep``
    names the handshake answer's headers to keep on the observation (lower-case).
    """

    path: str
    host: str
    client: str = ""
    step: str = ""
    route: str = ""
    cookie: str = ""
    keep: frozenset[str] = frozenset()


async def session(address: Address, req: WsRequest, *, timeout: float = 10.0) -> Observation:
    """Open one session; the observation names the pod from the hello message.

    The echo of a probe message is checked too: a session whose echo is wrong is an
    observation with status 0 and the error.
    """
    headers = {"X-Forwarded-For": req.client} if req.client else {}
    if req.cookie:
        headers["Cookie"] = req.cookie
    start = time.perf_counter()
    base = Observation(
        protocol="ws",
        client=req.client,
        host=req.host,
        key=req.path,
        pod="",
        pod_ip="",
        port=0,
        status=0,
        route=req.route,
        step=req.step,
        cookie=req.cookie,
    )
    lines: list[tuple[str, str]] = []
    try:
        async with connect(
            f"ws://{req.host}{req.path}",
            host=address.host,
            port=address.port,
            additional_headers=headers,
            proxy=None,
            compression=None,
            open_timeout=timeout,
            close_timeout=timeout,
        ) as ws:
            if ws.response is not None:
                lines = list(ws.response.headers.raw_items())
            async with asyncio.timeout(timeout):  # not wait_for: see clients/http.py
                hello = await ws.recv()
                await ws.send(ECHO_PROBE)
                echo = await ws.recv()
    except (OSError, WebSocketException, TimeoutError, ValueError) as exc:
        status = getattr(getattr(exc, "response", None), "status_code", 0) or 0
        return replace(
            base,
            status=int(status),
            elapsed=time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}",
        )
    who = answer.from_hello(hello)
    error = "" if echo == ECHO_PROBE else f"echo was {echo!r}, not {ECHO_PROBE!r}"
    return replace(
        base,
        headers=answer.kept(lines, req.keep),
        pod=who.pod,
        pod_ip=who.pod_ip,
        port=who.port,
        status=0 if error else 101,
        elapsed=time.perf_counter() - start,
        error=error,
    )


async def sessions(
    address: Address, requests: Sequence[WsRequest], *, concurrency: int = 8
) -> list[Observation]:
    """Run sessions with at most ``concurrency`` open at once; results in request order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(req: WsRequest) -> Observation:
        async with gate:
            return await session(address, req)

    return list(await asyncio.gather(*(one(r) for r in requests)))


def ws_probe(
    address: Address, requests: Sequence[WsRequest], *, concurrency: int = 8
) -> list[Observation]:
    """Blocking wrapper of ``sessions``."""
    return asyncio.run(sessions(address, requests, concurrency=concurrency))
