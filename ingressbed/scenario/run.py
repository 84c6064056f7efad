"""Send a scenario's steps through a backend's ingress, in file order.

Every step becomes rounds of requests, one round per ``repeat``: a round sends each
(client, URL) once, and rounds go one after another, so "the last answer" of a step
is the answer to its last round. http rounds go through the probe engine, websocket
rounds through the WebSocket client, curl steps through real curl (one process per
request). ``{run}`` in a URL is a token unique to this run (so no cache entry of an
earlier run counts), ``{i}`` is 0..count-1. An ``again`` step sends the rounds of the
step it names once more, under its own name, shuffled if asked (seeded).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from ingressbed.backends.base import Backend
from ingressbed.clients.curl import curl
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.clients.ws import WsRequest, ws_probe
from ingressbed.evidence import Evidence
from ingressbed.progress import Steps
from ingressbed.properties import Traffic
from ingressbed.scenario import mix
from ingressbed.scenario.spec import AGAIN, CURL, HTTP, MIX, Scenario, Step
from ingressbed.vocabulary import Address, Observation

SHUFFLE_SEED = 5
CONCURRENCY = 8


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


Request = HttpRequest | WsRequest | CurlCall
Round = list[Request]


#: What a scenario's steps observed (``ingressbed.evidence.Evidence``).
Run = Evidence


def _target(url: str) -> tuple[str, str]:
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


def plan(step: Step, token: str) -> list[Round]:
    """The rounds of a curl, http or websocket step."""
    one: Round = []
    if step.kind == CURL:
        assert step.curl is not None
        cmd = step.curl
        headers = (*cmd.headers, *(f"{k}: {v}" for k, v in step.headers))
        one = [
            CurlCall(cmd.url, c, step.name, cmd.method, headers, cmd.data, cmd.options)
            for c in step.clients
        ]
    elif step.kind == HTTP:
        body = step.data.encode() if step.data is not None else None
        for url in expand(step, token):
            host, path = _target(url)
            one += [
                HttpRequest(path, host, c, dict(step.headers), step.method, body, step.name)
                for c in step.clients
            ]
    else:
        for url in expand(step, token):
            host, path = _target(url)
            one += [WsRequest(path, host, c, step.name) for c in step.clients]
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
        ).observation
        for c in calls
    ]


class _Lines:
    """A progress writer that hands each line to a callback (or drops it)."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip() and self.progress is not None:
                self.progress(line.strip())
        return len(text)

    def flush(self) -> None:
        pass


def execute(
    scenario: Scenario,
    bed: Backend,
    *,
    token: str | None = None,
    progress: Callable[[str], None] | None = None,
    steps: Steps | None = None,
) -> Run:
    """Run every step on ``bed`` (already serving ``scenario.setup``).

    Args:
        token: what ``{run}`` becomes (default: fresh random hex).
        progress: called with one line per step.
        steps: where a mix step's progress lines go (default: to ``progress``).

    Returns:
        The evidence: observations, pods, balancer peers, each mix's traffic.
    """
    token = token or secrets.token_hex(4)
    address = bed.address()
    pods = tuple(p.name for p in bed.pods())
    endpoints = {port: tuple(bed.endpoints(port)) for port in scenario.setup.ingress.ports}
    rounds: dict[str, list[Round]] = {}
    observations: list[Observation] = []
    mixes: dict[str, Traffic] = {}
    for step in scenario.steps:
        if step.kind == MIX:
            lines = steps or Steps(_Lines(progress), quiet=progress is None)
            label = f"{scenario.id}: {step.name}"
            mixes[step.name] = mix.drive(scenario.setup, bed, step.mix, lines, label)
            if progress is not None:
                progress(f"step {step.name}: {mixes[step.name].requests} requests (mix)")
            continue
        if step.kind == AGAIN:
            rounds[step.name] = replay(rounds[step.again], step)
        else:
            rounds[step.name] = plan(step, token)
        before = len(observations)
        for requests in rounds[step.name]:
            observations += send(address, requests)
        if progress is not None:
            sent = len(observations) - before
            progress(f"step {step.name}: {sent} request{'' if sent == 1 else 's'}")
    return Evidence(
        tuple(observations),
        pods,
        token,
        plane=bed.data_plane,
        setup=scenario.setup,
        endpoints=endpoints,
        mixes=mixes,
    )
