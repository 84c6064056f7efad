"""The local backend's data planes with real HAProxy (and nginx's other renderings), real
hellogo processes and real traffic: exact picks against the plane's translation, reloads, kills,
the client address, WebSocket, failures and cleanup."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from pathlib import Path

import pytest

from ingressbed import layouts, planes
from ingressbed.backends.local import LocalBackend
from ingressbed.backends.local_addresses import LOCK_DIR
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.clients.ws import WsRequest, ws_probe
from ingressbed.errors import ConfigError, ToolError
from ingressbed.options import BedOptions
from ingressbed.placement import Request
from ingressbed.planes.base import sample_requests
from ingressbed.planes.haproxy_cfg import HARD_STOP_SECONDS
from ingressbed.vocabulary import Address, Setup
from tests.real_processes import find_haproxy, processes_mentioning

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

CLIENTS = 300
HASH_PLANES = ["haproxy", "haproxy:pod-ids", "haproxy:map-based", "nginx:ip-hash", "nginx:hash"]


def backend(plane: str, **options: object) -> LocalBackend:
    return LocalBackend(BedOptions(backend="local", quiet=True, data_plane=plane, **options))


@pytest.fixture
def bed_of(tmp_path):
    started: list[LocalBackend] = []

    def make(plane: str) -> LocalBackend:
        bed = backend(plane, artifacts=tmp_path / "reports")
        started.append(bed)
        bed.start()
        return bed

    yield make
    for bed in started:
        bed.close()


def misses(bed: LocalBackend, setup: Setup, requests: list[HttpRequest]) -> list[str]:
    """Requests whose answering pod is not the one the plane's translation picks (with why)."""
    seen = probe(bed.address(), requests)
    balance = planes.translate(bed.data_plane, setup)
    routes = {r.path: r.service_port for r in setup.ingress.routes}
    upstreams = {p: balance.upstream(bed.endpoints(p)) for p in setup.ingress.ports}
    wrong = []
    for req, got in zip(requests, seen, strict=True):
        port = routes["/" + req.path.split("/")[1]]
        want = (
            upstreams[port]
            .pick(Request(client_ip=req.client, host=req.host, request_uri=req.path))
            .exact
        )
        if got.status != 200 or want is None or got.pod_ip != want.address or got.port != port:
            wrong.append(f"{req.path} from {req.client}: {got.pod_ip}:{got.port}, model {want}")
    return wrong


def client_requests(count: int = CLIENTS) -> list[HttpRequest]:
    out = []
    for i, sample in enumerate(sample_requests(count, seed=5)):
        for prefix in ("/8080", "/9090", "/ws"):
            out.append(HttpRequest(f"{prefix}/k{i}", layouts.DEFAULT_HOST, sample.client_ip))
    return out


@pytest.mark.parametrize("plane", HASH_PLANES)
def test_picks_by_client_address_are_the_models_on_three_ports_through_reload_and_kill(
    bed_of, plane
):
    bed = bed_of(plane)
    setup = layouts.setup("three-ports", {"upstream-hash-by": "$binary_remote_addr"})
    bed.apply(setup)  # converges inside: the same model decided where samples must land
    requests = client_requests()
    assert misses(bed, setup, requests) == []
    bed.scale(7)  # a reload with a new pod
    assert misses(bed, setup, requests) == []
    bed.kill(bed.pods()[2].name)  # a pod in the middle goes, a new one comes last
    assert misses(bed, setup, requests) == []
    assert len(bed.pods()) == 7 and bed.unexpected_exit() is None


@pytest.mark.parametrize(
    ("plane", "key"),
    [
        ("haproxy", "$request_uri"),
        ("haproxy:map-based", "$uri"),
        ("haproxy:pod-ids", "$host"),
        ("nginx:hash", "$host$request_uri"),
    ],
)
def test_picks_by_uri_or_host_are_the_models(bed_of, plane, key):
    bed = bed_of(plane)
    setup = layouts.setup("one-port", {"upstream-hash-by": key}, host=None)
    bed.apply(setup)
    requests = [
        HttpRequest(f"/8080/{s.request_uri.split('/', 2)[2]}", s.host, s.client_ip)
        for s in sample_requests(CLIENTS, seed=9)
    ]
    assert misses(bed, setup, requests) == []


def _json_echo(address: Address, headers: dict[str, str]) -> dict[str, str]:
    conn = http.client.HTTPConnection(address.host, address.port, timeout=5)
    try:
        conn.request(
            "GET",
            "/8080/echo",
            headers={
                "Host": layouts.DEFAULT_HOST,
                "Accept": "application/json",
                "Cache-Control": "no-cache",  # hellogo's page cache would answer the first echo
                **headers,
            },
        )
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("plane", ["nginx", "haproxy"])
def test_the_client_is_the_leftmost_forwarded_address_as_nginx_realip_takes_it(bed_of, plane):
    bed = bed_of(plane)
    bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$remote_addr"}, replicas=2))
    got = _json_echo(bed.address(), {"X-Forwarded-For": "10.1.2.3, 10.9.9.9"})
    assert got["real_ip"] == "10.1.2.3"
    assert got["forwarded_for"] == "10.1.2.3, 10.9.9.9"  # passed upstream as it came
    none = _json_echo(bed.address(), {})
    assert none["real_ip"] == none["forwarded_for"] == "127.0.0.1"  # the runner itself


def test_haproxy_without_forwarded_headers_ignores_x_forwarded_for(bed_of):
    bed = bed_of("haproxy")
    bed.apply(layouts.setup("one-port", controller={"use-forwarded-headers": "false"}))
    got = _json_echo(bed.address(), {"X-Forwarded-For": "10.1.2.3"})
    assert got["real_ip"] == "127.0.0.1" and got["forwarded_for"] == "10.1.2.3"


def test_haproxy_serves_websocket_404_503_and_cors(bed_of):
    bed = bed_of("haproxy")
    bed.apply(layouts.setup("three-ports", {"enable-cors": "true"}, replicas=2))
    (ws,) = ws_probe(bed.address(), [WsRequest("/ws", layouts.DEFAULT_HOST, "10.0.0.7")])
    assert ws.status == 101 and ws.port == 8081 and ws.pod, ws.error
    (lost,) = probe(bed.address(), [HttpRequest("/nowhere", layouts.DEFAULT_HOST)])
    assert lost.status == 404
    conn = http.client.HTTPConnection(bed.address().host, bed.address().port, timeout=5)
    conn.request("GET", "/9090/x", headers={"Host": layouts.DEFAULT_HOST})
    response = conn.getresponse()
    response.read()
    assert response.getheader("Access-Control-Allow-Origin") == "*"
    conn.close()
    bed.scale(0)
    (empty,) = probe(bed.address(), [HttpRequest("/8080/x", layouts.DEFAULT_HOST)])
    assert empty.status == 503


def test_a_reload_closes_idle_keep_alive_connections_so_the_old_worker_leaves(bed_of):
    bed = bed_of("haproxy")
    bed.apply(layouts.setup("one-port", replicas=2))
    idle = socket.create_connection((bed.address().host, bed.address().port), timeout=5)
    try:
        idle.sendall(f"GET /8080/a HTTP/1.1\r\nHost: {layouts.DEFAULT_HOST}\r\n\r\n".encode())
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        bed.scale(3)  # returns once the old worker is gone
        assert time.monotonic() - start < HARD_STOP_SECONDS, "the old worker was not made to wait"
        assert idle.recv(65536) == b"", "the idle connection was closed by the old worker"
    finally:
        idle.close()


def test_haproxy_rejecting_the_config_is_one_line_with_kept_evidence(bed_of, tmp_path):
    bed = bed_of("haproxy")
    with pytest.raises(ConfigError) as caught:
        bed.apply(layouts.setup("one-port", {"proxy-read-timeout": "3000000"}, replicas=1))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("haproxy rejected the generated config: [ALERT] parsing [")
    assert "timer overflow" in message
    kept = Path(re.search(r"\(kept in (\S+)\)$", message).group(1))
    assert kept.is_relative_to(tmp_path / "reports")
    assert (kept / "haproxy.cfg").exists() and (kept / "haproxy-c.out").exists()
    bed.apply(layouts.setup("one-port", replicas=1))  # the bed keeps working
    assert bed.unexpected_exit() is None


def test_versions_diagnostics_and_close_leave_nothing_behind(tmp_path):
    bed = backend("haproxy:pod-ids", artifacts=tmp_path)
    bed.start()
    run_dir = bed._run_dir
    prefix = bed.address().host.rsplit(".", 1)[0]
    try:
        bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}, replicas=2))
        assert re.fullmatch(r"2\.\d+\.\d+.*", bed.versions()["haproxy"])
        names = {p.name for p in bed.diagnostics(tmp_path / "diag")}
        assert {"haproxy-haproxy.cfg", "haproxy-haproxy.log", "backends.json"} <= names
        log = (tmp_path / "diag" / "haproxy-haproxy.log").read_text()
        assert "backend=hellogo-8080" in log, "the access log is in the diagnostics"
        state = json.loads((tmp_path / "diag" / "backends.json").read_text())
        assert state["data_plane"] == "haproxy:pod-ids"
        assert processes_mentioning(str(run_dir))
    finally:
        bed.close()
    assert not run_dir.exists()
    assert processes_mentioning(str(run_dir)) == []
    assert processes_mentioning(f"--address {prefix}.") == []
    assert not (LOCK_DIR / f"{prefix}.lock").exists()


def test_haproxy_missing_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("INGRESSBED_HAPROXY", "/nonexistent/haproxy")
    with pytest.raises(ToolError, match="INGRESSBED_HAPROXY=/nonexistent/haproxy is not an exec"):
        find_haproxy(only_path=True)
    bed = backend("haproxy", artifacts=tmp_path)
    with pytest.raises(ToolError, match="INGRESSBED_HAPROXY"):
        bed.start()
    assert bed._block is None, "nothing was reserved"
    monkeypatch.delenv("INGRESSBED_HAPROXY")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolError, match=r"apt-get install haproxy\) or set INGRESSBED_HAPROXY"):
        find_haproxy(only_path=True)


def test_the_dry_run_steps_name_haproxy():
    steps = backend("haproxy:map-based").bring_up()
    titles = [s.title for s in steps]
    assert "Finding haproxy" in titles and "Starting haproxy" in titles
    start = next(s for s in steps if s.title == "Starting haproxy")
    assert "haproxy -W -db" in start.detail and "haproxy -c" in start.detail
