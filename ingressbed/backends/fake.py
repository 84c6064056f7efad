"""A fake backend for testing what sits above a backend, as httpx ships ``MockTransport``.

``FakeBackend`` implements the whole ``Backend`` interface without processes, nginx or a
cluster: one in-process HTTP/1.1 server (a thread, on 127.0.0.1 and a free port) plays
both the data plane and every pod. The clients, measurements, judge and report run on
it unchanged, so checks of your own can be tested in milliseconds::

    from ingressbed.backends.fake import FakeBackend
    from ingressbed import layouts

    with FakeBackend("haproxy") as bed:
        bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}))
        ...  # probe(bed.address(), requests) -> observations, as on any backend

It is also a backend of the pytest plugin and the CLI: ``--backend fake --data-plane P``.

How it places requests: exactly as the placement model of its data plane says, through
the plane registry (``ingressbed.planes``): the plane's translation of the setup, its
upstream for the endpoints in force, and that upstream's ``Pick``: one endpoint; a group,
whose member it draws at random; or no fixed endpoint, where it goes round robin. Under
cookie affinity a visitor without a cookie gets the session the plane would set
(``Set-Cookie``), placed as the plane places new visitors (the upstream's
``new_visitors``: in turn on HAProxy, at random on ingress-nginx, by connection on
Envoy). Pass ``pick=`` to make it misbehave on purpose (a check that should fail, must
fail on it). On the ``ingress-nginx`` plane a setup goes through the controller model
instead (``fake_routes``): locations as nginx matches them (regex paths included), each
Service of several with pods of its own, canaries and cookies as the Lua balancer handles
them.
Every pod answers as hellogo does: ``X-Pod-Name``, ``X-Pod-IP``, ``X-Pod-Port`` and
``X-Cache-Status`` from its own page cache (GET only; ``Cache-Control: no-cache`` is a
BYPASS), and a WebSocket upgrade gets hellogo's hello and echo. Its
capabilities are what the plane's model places (``Plane.model_capabilities``) plus scale,
kill and WebSocket (and on ``ingress-nginx`` canaries, several objects and ``raw-apply``:
a live change keeps what the controller's balancers keep); the rest (ewma,
service-upstream, CORS ...) skip by name.

A fake is never evidence about a real data plane: it checks the layers above the data
plane (clients, measurements, the judge, the report), and tests of a backend run that
backend.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

from hellogo.cache import PageCache
from hellogo.ws import CLOSE_SOCKET, EchoSession
from ingressbed import controller, planes
from ingressbed.backends import fake_routes
from ingressbed.backends.bringup import BringUpStep, run_all
from ingressbed.controller import MODEL_VERSION
from ingressbed.errors import ConfigError, SetupError
from ingressbed.placement import Request
from ingressbed.placement.upstream import BY_CONNECTION, IN_TURN, Upstream
from ingressbed.progress import Steps
from ingressbed.vocabulary import (
    ALL_CAPABILITIES,
    SERVICE_NAME,
    Address,
    Capability,
    DataPlane,
    Endpoint,
    Pod,
    Setup,
)

#: What the fake can do on every plane, besides what the plane's model places.
FAKE_CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.SCALE, Capability.KILL, Capability.WEBSOCKET, Capability.CORS}
)
#: ``pick(request, port, endpoints) -> endpoint``: how the fake balances, if not the model.
Pick = Callable[[Request, int, Sequence[Endpoint]], Endpoint]


@runtime_checkable
class _Sessions(Protocol):
    """An upstream that pins visitors with a cookie (ingress-nginx's ``affinity: cookie``)."""

    cookie_name: str
    #: How a visitor without a cookie is placed: ``in turn`` (the round-robin cycle every
    #: request shares), ``at random``, or ``by connection`` (every cookie-less request on
    #: one connection gets the same session).
    new_visitors: str

    def new_session(
        self, token: str, draw: Callable[[Sequence[Endpoint]], Endpoint]
    ) -> _Session: ...


class _Session(Protocol):
    name: str
    value: str
    endpoint: Endpoint


class FakeBackend:
    """An in-process stand-in for a backend (see the module docstring)."""

    name = "fake"

    def __init__(
        self,
        data_plane: str = "ingress-nginx",
        *,
        pick: Pick | None = None,
        cache_ttl: float = 100.0,
        steps: Steps | None = None,
        seed: int | None = None,
    ) -> None:
        self.plane = planes.plane(data_plane)
        self.data_plane: DataPlane = self.plane.name
        self.capabilities = FAKE_CAPABILITIES | self.plane.model_capabilities
        if fake_routes.modelled(self.data_plane):
            modelled = {Capability.CANARY, Capability.SEVERAL_OBJECTS, Capability.RAW_APPLY}
            self.capabilities |= modelled
        self.steps = steps or Steps(quiet=True)
        self._rng = random.Random(seed)
        self._pick = pick
        self._ttl = cache_ttl
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._pods: list[Pod] = []
        self._caches: dict[str, PageCache[bytes]] = {}
        self._setup: Setup | None = None
        self._upstreams: dict[int, Upstream] = {}
        self._routes: fake_routes.Routes | None = None
        self._round_robin = itertools.count()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.failed = False

    # ----------------------------------------------------------------- lifecycle
    def versions(self) -> dict[str, str]:
        return {"fake": "1", "data plane": f"{self.data_plane} (model only)"}

    def controller_version(self) -> str | None:
        """The modelled ingress-nginx release on that plane, else None."""
        return MODEL_VERSION if fake_routes.modelled(self.data_plane) else None

    def bring_up(self) -> list[BringUpStep]:
        return [
            BringUpStep(
                "Starting the fake data plane",
                self._serve,
                "an in-process HTTP/1.1 server on 127.0.0.1 (a thread; no processes)",
            )
        ]

    def start(self) -> None:
        if self._server is None:
            run_all(self.bring_up(), self.steps)

    def _serve(self) -> None:
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-bed", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def mark_failed(self) -> None:
        self.failed = True

    def __enter__(self) -> FakeBackend:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------- setups
    def apply(self, setup: Setup) -> None:
        self._apply(setup, fresh=True)

    def apply_keeping_balancers(self, setup: Setup) -> None:
        """Serve ``setup`` as a running controller takes a change: on ingress-nginx the
        balancers keep what they keep (a hash key alone stays old; ``controller.apply``);
        elsewhere the same as ``apply``."""
        self._apply(setup, fresh=False)

    def _apply(self, setup: Setup, *, fresh: bool) -> None:
        if self._server is None:
            raise SetupError("the fake backend is not started: call start() first")
        lacking = _needed(setup) - self.capabilities
        if lacking:
            names = ", ".join(sorted(lacking))
            raise ConfigError(f"the fake backend cannot serve this setup: it lacks {names}")
        self.plane.translate(setup)  # a setup the plane cannot express: its ConfigError
        with self._lock:
            self._setup = setup
            services = setup.service_names
            for pod in [p for p in self._pods if p.service not in services]:
                self._drop(pod)
            for service in services:
                self._resize(setup.replicas_of(service), service)
            self._rebuild(fresh=fresh)

    def scale(self, replicas: int, service: str = SERVICE_NAME) -> None:
        with self._lock:
            self._resize(replicas, service)
            self._rebuild()

    def kill(self, pod: str) -> None:
        """Remove ``pod`` and start a replacement with a new name and address."""
        with self._lock:
            found = [p for p in self._pods if p.name == pod]
            if not found:
                raise ConfigError(f"no pod named {pod!r}")
            self._drop(found[0])
            self._add_pod(found[0].service)
            self._rebuild()

    def _drop(self, pod: Pod) -> None:
        self._pods.remove(pod)
        self._caches.pop(pod.name, None)

    def _resize(self, replicas: int, service: str = SERVICE_NAME) -> None:
        mine = [p for p in self._pods if p.service == service]
        while len(mine) > replicas:
            self._drop(mine.pop())
        for _ in range(replicas - len(mine)):
            self._add_pod(service)

    def _add_pod(self, service: str = SERVICE_NAME) -> None:
        serial = next(self._serial)
        pod = Pod(
            f"{service}-fake-{serial}",
            f"10.244.{serial // 250}.{serial % 250 + 1}",
            "fake",
            service=service,
        )
        self._pods.append(pod)
        self._caches[pod.name] = PageCache(self._ttl)

    def _rebuild(self, *, fresh: bool = False) -> None:
        """Place requests for the setup and pods in force. On ingress-nginx the running
        balancers are made anew (``fresh``, the bed's apply) or synced as the controller
        syncs them (a live change, a scale, a kill)."""
        before = self._routes
        self._routes = None
        if self._setup is None or not self._pods:
            self._upstreams = {}
            return
        if fake_routes.serves(self._setup, self.data_plane):
            _, services = fake_routes.objects(self._setup)
            endpoints = {
                (service.name, port.port): self._endpoints(port.port, service.name)
                for service in services
                for port in service.ports
            }
            config = fake_routes.build(self._setup, endpoints)
            held = None
            if before is not None and not fresh:
                held = controller.apply(before.config, config, before.held).balancers
            self._routes = fake_routes.Routes(config, self.data_plane, self._rng, held)
            return
        balance = self.plane.translate(self._setup)
        self._upstreams = {
            port: balance.upstream(self._view_endpoints(port)) for port in self._setup.ingress.ports
        }

    # ------------------------------------------------------------------- queries
    def pods(self) -> list[Pod]:
        with self._lock:
            return list(self._pods)

    def endpoints(self, port: int, service: str = SERVICE_NAME) -> list[Endpoint]:
        with self._lock:
            return self._endpoints(port, service)

    def _view_endpoints(self, pod_port: int) -> list[Endpoint]:
        """The pods behind ``pod_port`` of the one-Ingress view (``Setup.ingress``): the
        pods of its one Service (hellogo, or the one a report pasted)."""
        service = self._setup.service_names[0] if self._setup is not None else SERVICE_NAME
        return [Endpoint(p.ip, pod_port) for p in self._pods if p.service == service]

    def _endpoints(self, port: int, service: str = SERVICE_NAME) -> list[Endpoint]:
        """Pods of ``service`` on the pod port behind its Service ``port``."""
        target = port
        if self._setup is not None:
            for found in self._setup.services:
                if found.name == service:
                    listed = found.port(port)
                    target = listed.target if listed and isinstance(listed.target, int) else 0
        if not target:
            return []
        return [Endpoint(p.ip, target) for p in self._pods if p.service == service]

    def address(self) -> Address:
        if self._server is None:
            raise SetupError("the fake backend is not started: call start() first")
        host, port = self._server.server_address[:2]
        return Address(str(host), int(port))

    def diagnostics(self, dest: Path) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        path = dest / "fake-pods.txt"
        path.write_text("".join(f"{p.name} {p.ip}\n" for p in self.pods()))
        return [path]

    # ------------------------------------------------------------------ serving
    def answer(
        self, method: str, host: str, target: str, headers: dict[str, str], connection: str = ""
    ) -> _Answer:
        """Route and place one request; the pod's answer (used by the HTTP handler).

        ``connection`` names the client's connection (its ``ip:port``).
        """
        with self._lock:
            setup = self._setup
            if setup is None or not self._pods:
                return _Answer(503, b"no backend\n")
            client = headers.get("x-forwarded-for", "127.0.0.1").split(",")[0].strip()
            cookies: tuple[str, ...] = ()
            if self._routes is not None and self._pick is None:
                placed = self._routes.place(host, target, headers)
                if placed.endpoint is None:
                    return _Answer(placed.status, f"{placed.status} {placed.backend}\n".encode())
                chosen, route, cookies = placed.endpoint, placed.endpoint.port, placed.cookies
            else:
                found = _route(setup, target)
                if found is None:
                    return _Answer(404, b"no route\n")
                route = found
                request = Request(client_ip=client, host=host, request_uri=target, headers=headers)
                chosen, cookie = self._choose(request, route, connection)
                cookies = (cookie,) if cookie else ()
            pod = next(p for p in self._pods if p.ip == chosen.address)
            cache_status = None
            if method == "GET" and "upgrade" not in headers:
                if "no-cache" in headers.get("cache-control", ""):
                    cache_status = "BYPASS"
                else:
                    cache = self._caches[pod.name]
                    cache_status, _ = cache.lookup((host, target))
                    if cache_status != "HIT":
                        cache.store((host, target), b"")
        body = f"hello {route}!\nhost {host}\nremoteaddr -\nrealip {client}\nhostname {pod.name}\n"
        answer = _Answer(200, body.encode(), pod, route, cache_status, cookies)
        answer.cors = _cors(setup)
        return answer

    def _choose(
        self, request: Request, port: int, connection: str = ""
    ) -> tuple[Endpoint, str | None]:
        """The endpoint for ``request`` and the ``Set-Cookie`` value to send, if any."""
        endpoints = self._view_endpoints(port)
        if self._pick is not None:
            return self._pick(request, port, endpoints), None
        upstream = self._upstreams[port]
        pick = upstream.pick(request)
        if pick.fixed:
            return self._rng.choice(pick.endpoints), None
        if isinstance(upstream, _Sessions):
            draw = self._in_turn if upstream.new_visitors == IN_TURN else self._rng.choice
            token = connection if upstream.new_visitors == BY_CONNECTION else secrets.token_hex(8)
            session = upstream.new_session(token, draw)
            return session.endpoint, f"{session.name}={session.value}; Path=/; HttpOnly"
        return self._in_turn(endpoints), None

    def _in_turn(self, endpoints: Sequence[Endpoint]) -> Endpoint:
        """The next endpoint of the one cycle every round-robin pick shares."""
        return endpoints[next(self._round_robin) % len(endpoints)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs of a 16-connection probe: 1 s stalls


class _Answer:
    __slots__ = ("body", "cache_status", "cookies", "cors", "pod", "port", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        pod: Pod | None = None,
        port: int = 0,
        cache_status: str | None = None,
        cookies: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        self.body = body
        self.pod = pod
        self.port = port
        self.cache_status = cache_status
        self.cookies = cookies
        self.cors: list[tuple[str, str]] = []


def _needed(setup: Setup) -> set[Capability]:
    from ingressbed.ingress_keys import required_capabilities

    return {Capability(c) for c in required_capabilities(setup)} & set(ALL_CAPABILITIES)


def _route(setup: Setup, target: str) -> int | None:
    """The Service port of the longest route prefix matching ``target``'s path."""
    path = target.split("?", 1)[0]
    best: tuple[int, int] | None = None
    for route in setup.ingress.routes:
        prefix = route.path.rstrip("/") or "/"
        matches = path == prefix or path.startswith(prefix.rstrip("/") + "/") or prefix == "/"
        if matches and (best is None or len(prefix) > best[0]):
            best = (len(prefix), route.service_port)
    return None if best is None else best[1]


def _cors(setup: Setup) -> list[tuple[str, str]]:
    """The CORS headers ``enable-cors`` adds to every answer (origin and methods)."""
    if (setup.ingress.annotation("enable-cors") or "").lower() != "true":
        return []
    methods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
    return [
        ("Access-Control-Allow-Origin", setup.ingress.annotation("cors-allow-origin") or "*"),
        ("Access-Control-Allow-Methods", setup.ingress.annotation("cors-allow-methods") or methods),
    ]


def _hello(pod: Pod, port: int) -> str:
    """The first WebSocket message, as hellogo sends it (the fields the clients read)."""
    return json.dumps({"pod": pod.name, "pod_ip": pod.ip, "port": port})


def _handler_for(bed: FakeBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes

        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            host = headers.get("host", "").rsplit(":", 1)[0]
            try:
                peer = f"{self.client_address[0]}:{self.client_address[1]}"
                answer = bed.answer(self.command, host, self.path, headers, peer)
            except Exception as exc:  # a pick= hook that raised: answer, do not hang
                answer = _Answer(500, f"fake backend: {type(exc).__name__}: {exc}\n".encode())
            if answer.pod is not None and headers.get("upgrade", "").lower() == "websocket":
                self._websocket(answer.pod, answer.port)
                return
            self.send_response(answer.status)
            if answer.pod is not None:
                self.send_header("X-Pod-Name", answer.pod.name)
                self.send_header("X-Pod-IP", answer.pod.ip)
                self.send_header("X-Pod-Port", str(answer.port))
            if answer.cache_status is not None:
                self.send_header("X-Cache-Status", answer.cache_status)
            for cookie in answer.cookies:
                self.send_header("Set-Cookie", cookie)
            for name, value in answer.cors:
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        def _websocket(self, pod: Pod, port: int) -> None:
            """hellogo's WebSocket side: handshake, hello, echo until either side closes."""
            session = EchoSession(
                [("X-Pod-Name", pod.name), ("X-Pod-IP", pod.ip), ("X-Pod-Port", str(port))],
                hello=lambda: _hello(pod, port),
            )
            lines = [self.requestline, *(f"{k}: {v}" for k, v in self.headers.items())]
            writes = session.receive(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            self.close_connection = True
            while True:
                for data in writes:
                    if data == CLOSE_SOCKET:
                        return
                    self.wfile.write(data)
                self.wfile.flush()
                chunk = self.connection.recv(65536)
                writes = session.receive(chunk) if chunk else session.receive_eof()
                if not chunk:
                    for data in writes:
                        if data != CLOSE_SOCKET:
                            self.wfile.write(data)
                    return

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _reply

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the fake's answers are the observations

    return Handler
