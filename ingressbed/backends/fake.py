"""A fake backend for testing what sits above a backend, as httpx ships ``MockTransport``.

``FakeBackend`` implements the whole ``Backend`` interface without processes, nginx or a
cluster: one in-process HTTP/1.1 server (a thread, on 127.0.0.1 and a free port) plays
both the data plane and every pod. The clients, measurements, judge and report run on
it unchanged, so checks of your own can be tested in milliseconds::

    from ingressbed.backends.fake import FakeBackend
    from ingressbed import layouts

    with FakeBackend() as bed:
        bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}))
        ...  # probe(bed.address(), requests) -> observations, as on any backend

How it places requests: the placement model of its ``data_plane`` flavor, on the setup's
``upstream-hash-by`` key, for the endpoints in force; round robin without a key. Pass
``pick=`` to make it misbehave on purpose (a check that should fail, must fail on it).
Every pod answers as hellogo does: ``X-Pod-Name``, ``X-Pod-IP``, ``X-Pod-Port`` and
``X-Cache-Status`` from its own page cache (GET only; ``Cache-Control: no-cache`` is a
BYPASS). It has no WebSocket listener and no cookie, subset, ewma or service-upstream
balancing: those capabilities are absent, so tests needing them skip by name.

A fake is never evidence about a real data plane: tests of a backend run that backend.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from hellogo.cache import PageCache
from ingressbed.backends.bringup import BringUpStep, run_all
from ingressbed.errors import ConfigError, SetupError
from ingressbed.placement import Request, Ring, hash_key
from ingressbed.progress import Steps
from ingressbed.vocabulary import (
    ALL_CAPABILITIES,
    Address,
    Capability,
    Endpoint,
    Flavor,
    Pod,
    Setup,
)

#: What the fake can do; the rest skip by name.
FAKE_CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.HASH, Capability.HASH_KEY, Capability.SCALE, Capability.KILL}
)
#: ``pick(request, port, endpoints) -> endpoint``: how the fake balances, if not the model.
Pick = Callable[[Request, int, Sequence[Endpoint]], Endpoint]


class FakeBackend:
    """An in-process stand-in for a backend (see the module docstring)."""

    name = "fake"

    def __init__(
        self,
        data_plane: Flavor = Flavor.INGRESS_NGINX,
        *,
        pick: Pick | None = None,
        cache_ttl: float = 100.0,
        steps: Steps | None = None,
    ) -> None:
        self.data_plane = data_plane
        self.capabilities = FAKE_CAPABILITIES
        self.steps = steps or Steps(quiet=True)
        self._pick = pick
        self._ttl = cache_ttl
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._pods: list[Pod] = []
        self._caches: dict[str, PageCache[bytes]] = {}
        self._setup: Setup | None = None
        self._rings: dict[int, Ring[Endpoint]] = {}
        self._round_robin = itertools.count()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.failed = False

    # ----------------------------------------------------------------- lifecycle
    def versions(self) -> dict[str, str]:
        return {"fake": "1"}

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
        if self._server is None:
            raise SetupError("the fake backend is not started: call start() first")
        lacking = _needed(setup) - self.capabilities
        if lacking:
            names = ", ".join(sorted(lacking))
            raise ConfigError(f"the fake backend cannot serve this setup: it lacks {names}")
        with self._lock:
            self._setup = setup
            self._resize(setup.replicas)

    def scale(self, replicas: int) -> None:
        with self._lock:
            self._resize(replicas)

    def kill(self, pod: str) -> None:
        """Remove ``pod`` and start a replacement with a new name and address."""
        with self._lock:
            if pod not in {p.name for p in self._pods}:
                raise ConfigError(f"no pod named {pod!r}")
            self._pods = [p for p in self._pods if p.name != pod]
            self._caches.pop(pod, None)
            self._add_pod()
            self._rebuild()

    def _resize(self, replicas: int) -> None:
        while len(self._pods) > replicas:
            gone = self._pods.pop()
            self._caches.pop(gone.name, None)
        while len(self._pods) < replicas:
            self._add_pod()
        self._rebuild()

    def _add_pod(self) -> None:
        serial = next(self._serial)
        pod = Pod(f"hellogo-fake-{serial}", f"10.244.{serial // 250}.{serial % 250 + 1}", "fake")
        self._pods.append(pod)
        self._caches[pod.name] = PageCache(self._ttl)

    def _rebuild(self) -> None:
        ports = self._setup.ingress.ports if self._setup else ()
        self._rings = {
            port: Ring.build(self.data_plane, self._endpoints(port)) for port in ports if self._pods
        }

    # ------------------------------------------------------------------- queries
    def pods(self) -> list[Pod]:
        with self._lock:
            return list(self._pods)

    def endpoints(self, port: int) -> list[Endpoint]:
        with self._lock:
            return self._endpoints(port)

    def _endpoints(self, port: int) -> list[Endpoint]:
        return [Endpoint(p.ip, port) for p in self._pods]

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
    def answer(self, method: str, host: str, target: str, headers: dict[str, str]) -> _Answer:
        """Route and place one request; the pod's answer (used by the HTTP handler)."""
        with self._lock:
            setup = self._setup
            if setup is None or not self._pods:
                return _Answer(503, b"no backend\n")
            route = _route(setup, target)
            if route is None:
                return _Answer(404, b"no route\n")
            client = headers.get("x-forwarded-for", "127.0.0.1").split(",")[0].strip()
            request = Request(client_ip=client, host=host, request_uri=target, headers=headers)
            endpoints = self._endpoints(route)
            chosen = self._choose(setup, request, route, endpoints)
            pod = next(p for p in self._pods if p.ip == chosen.address)
            cache_status = None
            if method == "GET":
                if "no-cache" in headers.get("cache-control", ""):
                    cache_status = "BYPASS"
                else:
                    cache = self._caches[pod.name]
                    cache_status, _ = cache.lookup((host, target))
                    if cache_status != "HIT":
                        cache.store((host, target), b"")
        body = f"hello {route}!\nhost {host}\nremoteaddr -\nrealip {client}\nhostname {pod.name}\n"
        return _Answer(200, body.encode(), pod, route, cache_status)

    def _choose(
        self, setup: Setup, request: Request, port: int, endpoints: Sequence[Endpoint]
    ) -> Endpoint:
        if self._pick is not None:
            return self._pick(request, port, endpoints)
        hash_by = setup.ingress.annotation("upstream-hash-by")
        if hash_by:
            key = hash_key(hash_by, request, flavor=self.data_plane)
            if key or self.data_plane != Flavor.NGINX:
                return self._rings[port].lookup(key)
        return endpoints[next(self._round_robin) % len(endpoints)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs of a 16-connection probe: 1 s stalls


class _Answer:
    __slots__ = ("body", "cache_status", "pod", "port", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        pod: Pod | None = None,
        port: int = 0,
        cache_status: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.pod = pod
        self.port = port
        self.cache_status = cache_status


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
            answer = bed.answer(self.command, host, self.path, headers)
            self.send_response(answer.status)
            if answer.pod is not None:
                self.send_header("X-Pod-Name", answer.pod.name)
                self.send_header("X-Pod-IP", answer.pod.ip)
                self.send_header("X-Pod-Port", str(answer.port))
            if answer.cache_status is not None:
                self.send_header("X-Cache-Status", answer.cache_status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _reply

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the fake's answers are the observations

    return Handler
