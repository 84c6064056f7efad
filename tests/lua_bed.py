"""A real local ingress-nginx plane for the self-tests: hellogo pods on a loopback block,
nginx with the bed's Lua balancer in front, and a plain HTTP client that shows every
header (each Set-Cookie line) and never keeps cookies by itself.

Not a test module (no ``test_`` prefix); imported as ``tests.lua_bed``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingressbed.backends.local_addresses import AddressBlock
from ingressbed.backends.local_pods import PodSet
from ingressbed.errors import ToolError
from ingressbed.ingress_nginx_lua import Backend, Server, Tls
from ingressbed.ingress_nginx_lua.modules import find_lua_modules
from ingressbed.ingress_nginx_lua.run import LuaPlane
from ingressbed.planes.base import Listen
from ingressbed.vocabulary import Endpoint


def _lua_missing() -> str | None:
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        return "nginx is not installed"
    try:
        find_lua_modules()
    except ToolError as exc:
        return str(exc)
    return None


#: Skip marker for modules that need nginx's Lua module.
needs_lua = pytest.mark.skipif(_lua_missing() is not None, reason=_lua_missing() or "")


@dataclass
class Answer:
    """One answer: status, the pod that answered, every Set-Cookie line, the JSON body."""

    status: int
    pod: Endpoint | None
    cookies: list[str]
    body: dict[str, object] = field(default_factory=dict)

    def cookie_value(self, index: int = -1) -> str:
        """The ``name=value`` part of a Set-Cookie line."""
        return self.cookies[index].split(";", 1)[0]


@dataclass
class LuaBed:
    """Pods, the plane and what is posted to it."""

    block: AddressBlock
    pods: PodSet
    plane: LuaPlane
    listen: Listen
    tls: Tls | None
    backends: dict[str, Backend] = field(default_factory=dict)

    def endpoints(self, count: int | None = None, port: int = 8080) -> tuple[Endpoint, ...]:
        """The first ``count`` normal (not slow) pods, all by default, as endpoints."""
        pods = [p for p in self.pods.pods if not p.slow_ms]
        return tuple(Endpoint(p.ip, port) for p in pods[:count])

    def slow_endpoints(self, port: int = 8080) -> tuple[Endpoint, ...]:
        """The slow pods as endpoints."""
        return tuple(Endpoint(p.ip, port) for p in self.pods.pods if p.slow_ms)

    def dead(self, number: int = 200) -> Endpoint:
        """An address of the block where no pod listens."""
        return Endpoint(f"{self.block.prefix}.{number}", 8080)

    def apply(self, *backends: Backend, drop: Sequence[str] = ()) -> int:
        """Put ``backends`` into the document (by name), drop ``drop``, post, wait in force."""
        for backend in backends:
            self.backends[backend.name] = backend
        for name in drop:
            self.backends.pop(name, None)
        return self.plane.apply(list(self.backends.values()))

    def get(
        self,
        path: str,
        *,
        host: str = "bed.example",
        client: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookie: str | None = None,
        https: bool = False,
        connection: http.client.HTTPConnection | None = None,
    ) -> Answer:
        """GET ``path`` (a new connection unless one is given)."""
        sent = {"Host": host, "Accept": "application/json", **(headers or {})}
        if client:
            sent["X-Forwarded-For"] = client
        if cookie is not None:
            sent["Cookie"] = cookie
        own = connection is None
        if connection is None:
            connection = self.connection(https)
        try:
            connection.request("GET", path, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
            ip, port = response.getheader("X-Pod-IP"), response.getheader("X-Pod-Port")
            pod = Endpoint(ip, int(port)) if ip and port else None
            body = json.loads(raw) if pod is not None else {}
            return Answer(response.status, pod, cookies, body)
        finally:
            if own:
                connection.close()

    def connection(self, https: bool = False) -> http.client.HTTPConnection:
        """A keep-alive connection to the plane (HTTPS without certificate checks)."""
        if https:
            assert self.tls is not None
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                self.listen.address, self.tls.port, timeout=10, context=context
            )
        return http.client.HTTPConnection(self.listen.address, self.listen.port, timeout=10)


def _certificate(folder: Path) -> tuple[str, str]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=bed.example",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return str(cert), str(key)


@contextlib.contextmanager
def lua_bed(
    servers: Sequence[Server],
    *,
    pods: int = 7,
    slow: int = 0,
    slow_ms: int = 0,
    workers: int = 1,
    tls: bool = False,
) -> Iterator[LuaBed]:
    """Start ``pods`` hellogo pods and the plane with ``servers``; stop both at the end."""
    block = AddressBlock()
    plane: LuaPlane | None = None
    pod_set: PodSet | None = None
    try:
        run_dir = block.make_run_dir()
        (run_dir / "pods").mkdir()
        pod_set = PodSet(block, run_dir / "pods")
        pod_set.ensure(pods, slow, slow_ms)
        port, status_port, tls_port = block.free_ports(3)
        listen = Listen(block.ingress, port, status_port)
        secure = Tls(tls_port, *_certificate(run_dir)) if tls else None
        plane = LuaPlane(run_dir, listen, tls=secure)
        plane.start(servers, workers=workers)
        yield LuaBed(block, pod_set, plane, listen, secure)
    finally:
        if plane is not None:
            plane.stop()
        if pod_set is not None:
            pod_set.close()
        block.remove_run_dir()
        block.release()
