"""The ``mix`` step: the traffic every property is measured on, sent to a backend.

The backend must already serve the setup. Traffic, in order, all on fresh URLs so that
no earlier cache entry counts:

1. client visits: each client visits /8080 and /9090 ``visits`` times, each time another
   page, in passes of different order, and opens one WebSocket on /ws. Under cookie
   affinity the first visit takes the cookie and later visits send it back.
2. page passes: page URLs on many hosts, each visited once by one client, then again,
   in another order, by another client (URL stickiness, spread, cache hits).
3. one pod more (``scale``, when the backend can): the first page pass (under cookie
   affinity: one /8080 visit per session, with its cookie) is replayed after scaling up
   by one pod (keys moved).

``drive(...)`` returns the ``ingressbed.properties.Traffic`` the properties are computed from.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import random
import secrets
import time
from collections.abc import Sequence
from urllib.request import Request as UrlRequest

import httpx

from ingressbed import layouts, traffic
from ingressbed.backends.base import Backend
from ingressbed.balancing import Balancing
from ingressbed.clients import answer
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.clients.ws import WsRequest, ws_probe
from ingressbed.progress import STEPS, Steps
from ingressbed.properties import SCALED, WITH_COOKIE, Traffic
from ingressbed.traffic import HTTP_ROUTES, PAGE_ROUTE, WS_ROUTE
from ingressbed.traffic import MixPlan as Plan
from ingressbed.vocabulary import Capability, Observation, Setup

HOST = layouts.DEFAULT_HOST


class _NoJar(http.cookiejar.DefaultCookiePolicy):
    """Keeps httpx from storing cookies: each simulated client carries its own."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: UrlRequest) -> bool:
        return False


def cookie_value(set_cookie: Sequence[str], name: str) -> str | None:
    """The value the ``Set-Cookie`` headers give cookie ``name``, if any."""
    for header in set_cookie:
        key, sep, value = header.split(";", 1)[0].partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


async def _cookie_visits(
    base_url: str,
    requests: Sequence[HttpRequest],
    cookie_name: str,
    concurrency: int,
    transport: httpx.AsyncBaseTransport | None,
) -> list[tuple[Observation, str | None]]:
    gate = asyncio.Semaphore(concurrency)
    jar = http.cookiejar.CookieJar(policy=_NoJar())
    async with httpx.AsyncClient(
        base_url=base_url, cookies=jar, trust_env=False, timeout=10.0, transport=transport
    ) as client:

        async def one(req: HttpRequest) -> tuple[Observation, str | None]:
            start = time.perf_counter()
            cookie, error = None, ""
            async with gate:
                try:
                    response = await client.get(
                        req.path, headers={"Host": req.host, **req.header_map()}
                    )
                except httpx.HTTPError as exc:
                    status, headers, error = 0, httpx.Headers(), f"{type(exc).__name__}: {exc}"
                else:
                    status, headers = response.status_code, response.headers
                    cookie = cookie_value(headers.get_list("set-cookie"), cookie_name)
            who = answer.from_headers(headers)
            observation = Observation(
                "http", req.client, req.host, req.path, who.pod, who.pod_ip, who.port, status,
                who.cache_status, time.perf_counter() - start, req.route, req.step, error,
            )  # fmt: skip
            return observation, cookie

        return list(await asyncio.gather(*(one(r) for r in requests)))


def first_visits(
    base_url: str,
    requests: Sequence[HttpRequest],
    cookie_name: str,
    *,
    concurrency: int = 8,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[tuple[Observation, str | None]]:
    """Visits without a cookie; each gives its observation and the cookie it was handed.

    Args:
        base_url: the ingress base URL.
        requests: the visits.
        cookie_name: the affinity cookie's name.
        concurrency: requests in flight at once.
        transport: an httpx transport (tests pass a mock).

    Returns:
        ``(observation, cookie value or None)`` per request, in order.
    """
    return asyncio.run(_cookie_visits(base_url, requests, cookie_name, concurrency, transport))


class Driver:
    """Sends one mix to a backend that serves the setup."""

    def __init__(
        self, setup: Setup, bed: Backend, plan: Plan, steps: Steps, label: str = "mix"
    ) -> None:
        self.setup = setup
        self.balancing = Balancing.of(setup)
        self.label = label
        self.bed = bed
        self.plan = plan
        self.steps = steps
        self.token = secrets.token_hex(4)
        self.cookies: dict[tuple[str, str], str] = {}
        self.requests = 0
        self.uses_cookie = self.balancing.uses_cookie

    def send(self, what: str, requests: Sequence[HttpRequest]) -> list[Observation]:
        """Probe ``requests`` under one progress line; observations in request order."""
        with self.steps.step(f"{self.label}: {what} ({len(requests):,} requests)"):
            self.requests += len(requests)
            return probe(self.bed.address(), requests, concurrency=self.plan.concurrency)

    def _cookie_header(self, client: str, route: str) -> dict[str, str]:
        value = self.cookies.get((client, route))
        return {"Cookie": f"{self.balancing.cookie_name}={value}"} if value else {}

    def _paths(self, prefix: str, count: int, seed: int) -> list[str]:
        # Random ids, not counters: CRC-32 is affine in its input, so paths differing in one
        # character would hash to values a fixed XOR apart, not to independent picks.
        return traffic.urls(count, prefix, token=f"{self.token}-{seed}", seed=self.plan.seed + seed)

    def client_visits(self, clients: Sequence[str]) -> list[Observation]:
        """``plan.visits`` visits per client and HTTP route (a new page each), one WebSocket."""
        out: list[Observation] = []
        for visit in range(self.plan.visits):
            again = visit > 0 and self.uses_cookie
            paths = {
                r: self._paths(r, len(clients), 10 * visit + i) for i, r in enumerate(HTTP_ROUTES)
            }
            batch = [
                HttpRequest(
                    paths[route][index],
                    HOST,
                    client,
                    headers=self._cookie_header(client, route) if again else {},
                    step=WITH_COOKIE if again else "visit",
                    route=route,
                )
                for index, client in enumerate(clients)
                for route in HTTP_ROUTES
            ]
            random.Random(self.plan.seed + visit).shuffle(batch)
            if visit == 0 and self.uses_cookie:
                out += self._take_cookies(batch)
            else:
                out += self.send(f"client visit {visit + 1}", batch)
        ws_paths = self._paths(WS_ROUTE, len(clients), 99)
        sessions = [
            WsRequest(ws_paths[i], HOST, c, route=WS_ROUTE, step="ws")
            for i, c in enumerate(clients)
        ]
        with self.steps.step(f"{self.label}: WebSockets ({len(sessions):,} sessions)"):
            self.requests += len(sessions)
            out += ws_probe(self.bed.address(), sessions, concurrency=self.plan.concurrency)
        return out

    def _take_cookies(self, batch: Sequence[HttpRequest]) -> list[Observation]:
        title = f"{self.label}: client visit 1, taking cookies ({len(batch):,} requests)"
        with self.steps.step(title):
            self.requests += len(batch)
            pairs = first_visits(
                self.bed.address().base_url,
                batch,
                self.balancing.cookie_name,
                concurrency=self.plan.concurrency,
            )
        for observation, value in pairs:
            if value:
                self.cookies[(observation.client, observation.route)] = value
        return [observation for observation, _ in pairs]

    def pages(self) -> tuple[list[HttpRequest], list[HttpRequest]]:
        """Fresh page URLs on ``plan.hosts`` hosts: a first visitor each, then another."""
        per_host = max(1, self.plan.pages // self.plan.hosts)
        urls = [
            (f"site{h}.example.test", url)
            for h in range(self.plan.hosts)
            for url in traffic.urls(per_host, PAGE_ROUTE, token=self.token, seed=h)
        ]
        visitors = traffic.clients(2 * len(urls), seed=self.plan.seed + 101)
        first = [
            HttpRequest(url, host, visitors[i], route=PAGE_ROUTE, step="page")
            for i, (host, url) in enumerate(urls)
        ]
        second = [
            HttpRequest(url, host, visitors[len(urls) + i], route=PAGE_ROUTE, step="page-again")
            for i, (host, url) in enumerate(urls)
        ]
        random.Random(self.plan.seed + 7).shuffle(second)
        return first, second

    def scale_up(self, pages: Sequence[HttpRequest]) -> tuple[list[Observation], list[str]]:
        """Add one pod and replay the keys; returns the replay and the added pods' names."""
        before = {p.name for p in self.bed.pods()}
        with self.steps.step(f"{self.label}: one pod more ({self.setup.replicas + 1})"):
            self.bed.scale(self.setup.replicas + 1)
        added = sorted({p.name for p in self.bed.pods()} - before)
        if self.uses_cookie:
            replay = [
                HttpRequest(
                    f"{route}/{self.token}/scaled?id={index}",
                    HOST,
                    client,
                    headers=self._cookie_header(client, route),
                    step=SCALED,
                    route=route,
                )
                for index, (client, route) in enumerate(self.cookies)
                if route == PAGE_ROUTE
            ]
        else:
            replay = [
                HttpRequest(p.path, p.host, p.client, route=p.route, step=SCALED) for p in pages
            ]
        return self.send("replay after one pod more", replay), added


def routes_of(setup: Setup) -> dict[str, int]:
    """Ingress path -> Service port of the setup's routes."""
    return {r.path: r.service_port for r in setup.ingress.routes}


def drive(
    setup: Setup, bed: Backend, plan: Plan | None = None, steps: Steps = STEPS, label: str = "mix"
) -> Traffic:
    """Send every part of the mix on ``bed`` (already serving ``setup``).

    Args:
        setup: what the bed serves (its routes must include /8080, /9090 and /ws).
        bed: the backend.
        plan: traffic sizes (default ``Plan()``).
        steps: where progress lines go.
        label: the name progress lines start with (the step's or candidate's).

    Returns:
        The observations of each part, with the endpoints and pods as they were.
    """
    plan = plan or Plan()
    start = time.monotonic()
    driver = Driver(setup, bed, plan, steps, label)
    routes = routes_of(setup)
    endpoints = {port: bed.endpoints(port) for port in sorted(set(routes.values()))}
    pods = tuple(bed.pods())
    pod_ips = {p.name: p.ip for p in pods}
    visits = driver.client_visits(traffic.clients(plan.clients, seed=plan.seed))
    first_pages, second_pages = driver.pages()
    first = driver.send("page pass 1", first_pages)
    second = driver.send("page pass 2, other visitors", second_pages)
    scaled: list[Observation] = []
    added: list[str] = []
    scaled_endpoints = None
    if plan.scale and Capability.SCALE in bed.capabilities:
        scaled, added = driver.scale_up(first_pages)
        scaled_endpoints = bed.endpoints(routes[PAGE_ROUTE])
    seconds = time.monotonic() - start
    steps.note(f"  {label}: {driver.requests:,} requests in {seconds:.1f}s")
    return Traffic(
        endpoints,
        pod_ips,
        visits,
        first,
        second,
        scaled,
        added,
        scaled_endpoints,
        driver.cookies,
        pods=pods,
        visits_per_route=plan.visits,
        requests=driver.requests,
        seconds=round(seconds, 2),
    )
