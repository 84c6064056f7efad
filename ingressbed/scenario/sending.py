"""A traffic step's requests, and how they are sent: in rounds, through a jar if asked.

Every step becomes rounds of requests, one round per ``repeat``: a round sends each
(client, URL) once, and rounds go one after another, so "the last answer" of a step
is the answer to its last round. http rounds go through the probe engine, websocket
rounds through the WebSocket client, curl steps through real curl (one process per
request). ``{run}`` in a URL is a token unique to this run (so no cache entry of an
earlier run counts), ``{i}`` is 0..count-1. An ``again`` step sends the rounds of the
step it names once more, under its own name, shuffled if asked (seeded).

With ``cookies: keep`` each client has a browser's jar (``clients.cookies.Jar``, kept by
the caller across steps): a client's requests of a round go one after another, each with
the cookies its jar sends for that host and path (after the ones the step gives itself),
and every answer's ``Set-Cookie`` goes into the jar before the client's next request.
Different clients still go side by side.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from ingressbed.clients.cookies import Jar
from ingressbed.clients.curl import curl
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.clients.ws import WsRequest, ws_probe
from ingressbed.scenario.spec import CURL, HTTP, Step
from ingressbed.vocabulary import Address, Observation

SHUFFLE_SEED = 5
CONCURRENCY = 8
#: Answer headers every scenario step keeps (a jar reads Set-Cookie; Expires is measured
#: from Date).
ALWAYS_KEPT = frozenset({"set-cookie", "date"})


@dataclass(frozen=True)
class CurlCall:
    """One curl run of a curl step."""

    url: str
    client: str
    step: str
    method: str | None
    headers: tuple[str, ...]
    data: str | None
    options: tuple[str, ...]
    cookie: str = ""
    keep: frozenset[str] = frozenset()


Request = HttpRequest | WsRequest | CurlCall
Round = list[Request]


def target(url: str) -> tuple[str, str]:
    """(host, path and query) of a URL."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname or "", path


def expand(step: Step, token: str) -> list[str]:
    """The step's URLs with ``{run}`` and ``{i}`` filled in."""
    urls = [u.replace("{run}", token) for u in step.urls]
    if not step.count:
        return urls
    return [u.replace("{i}", str(i)) for i in range(step.count) for u in urls]


def plan(step: Step, token: str, keep: frozenset[str] = frozenset()) -> list[Round]:
    """The rounds of a curl, http or websocket step; answers keep the ``keep`` headers."""
    one: Round = []
    if step.kind == CURL:
        assert step.curl is not None
        cmd = step.curl
        headers = (*cmd.headers, *(f"{k}: {v}" for k, v in step.headers))
        cookie = "; ".join(cmd.cookies)
        one = [
            CurlCall(
                cmd.url, c, step.name, cmd.method, headers, cmd.data, cmd.options, cookie, keep
            )
            for c in step.clients
        ]
    elif step.kind == HTTP:
        body = step.data.encode() if step.data is not None else None
        for url in expand(step, token):
            host, path = target(url)
            one += [
                HttpRequest(
                    path, host, c, dict(step.headers), step.method, body, step.name, keep=keep
                )
                for c in step.clients
            ]
    else:
        for url in expand(step, token):
            host, path = target(url)
            one += [WsRequest(path, host, c, step.name, keep=keep) for c in step.clients]
    return [list(one) for _ in range(step.repeat)]


def replay(rounds: list[Round], step: Step) -> list[Round]:
    """An ``again`` step: the same rounds under ``step``'s name, shuffled if asked."""
    rng = random.Random(SHUFFLE_SEED)
    out: list[Round] = []
    for requests in rounds:
        renamed: Round = [replace(r, step=step.name) for r in requests]
        if step.shuffle:
            rng.shuffle(renamed)
        out.append(renamed)
    return out


def send(address: Address, requests: Round) -> list[Observation]:
    """Send one round (all requests of one kind); observations in request order."""
    if not requests:
        return []
    first = requests[0]
    if isinstance(first, HttpRequest):
        http = [r for r in requests if isinstance(r, HttpRequest)]
        return probe(address, http, concurrency=CONCURRENCY)
    if isinstance(first, WsRequest):
        ws = [r for r in requests if isinstance(r, WsRequest)]
        return ws_probe(address, ws, concurrency=CONCURRENCY)
    calls = [r for r in requests if isinstance(r, CurlCall)]
    return [
        curl(
            c.url,
            address,
            client=c.client,
            method=c.method,
            headers=c.headers,
            data=c.data,
            options=c.options,
            step=c.step,
            cookie=c.cookie,
            keep=c.keep,
        ).observation
        for c in calls
    ]


def _host_path(request: Request) -> tuple[str, str]:
    if isinstance(request, CurlCall):
        return target(request.url)
    return request.host, request.path


def _given(request: Request) -> str:
    """The cookies a request carries of its own (the step's, before any jar's)."""
    if isinstance(request, HttpRequest):
        return next((v for k, v in request.headers.items() if k.lower() == "cookie"), "")
    return request.cookie


def _with_cookie(request: Request, cookie: str) -> Request:
    if isinstance(request, HttpRequest):
        headers = {k: v for k, v in request.headers.items() if k.lower() != "cookie"}
        return replace(request, headers={**headers, "Cookie": cookie} if cookie else headers)
    return replace(request, cookie=cookie)


def send_with_jars(
    address: Address,
    requests: Round,
    jars: MutableMapping[str, Jar],
    refused: Callable[[Iterable[str]], None],
) -> list[Observation]:
    """Send one round as browsers would (see the module docstring).

    Args:
        jars: the jar of each client address ("" for requests without one), kept by the
            caller; a client without one gets a new jar.
        refused: called with the lines of cookies a jar did not store.

    Returns:
        The observations, wave by wave (each client's first request, then its second...).
    """
    queues: dict[str, list[Request]] = {}
    for request in requests:
        queues.setdefault(request.client, []).append(request)
    out: list[Observation] = []
    depth = max((len(q) for q in queues.values()), default=0)
    for wave in range(depth):
        batch: Round = []
        for client, queue in queues.items():
            if wave < len(queue):
                request = queue[wave]
                host, path = _host_path(request)
                jar = jars.setdefault(client, Jar())
                cookie = "; ".join(c for c in (_given(request), jar.header(host, path)) if c)
                batch.append(_with_cookie(request, cookie))
        seen = send(address, batch)
        for request, observation in zip(batch, seen, strict=True):
            host, path = _host_path(request)
            got = observation.header("set-cookie")
            if got:
                refused(jars[request.client].receive(host, path, got))
        out += seen
    return out
