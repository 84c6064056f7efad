"""A real hellogo process on loopback, spoken to with httpx, curl and raw sockets."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time

import httpx
import pytest

from hellogo.process import HellogoProcess, free_ports

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

POD_NAME = "hellogo-699f997454-qdrwn"


@pytest.fixture(scope="module")
def pod():
    http1, http2, ws = free_ports(3)
    proc = HellogoProcess(
        "127.0.0.1", [http1, http2], ws, env={"POD_NAME": POD_NAME, "NODE_NAME": "node-a"}
    )
    try:
        proc.start()
        yield proc
    finally:
        proc.close()


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


def url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


def test_ready_line_names_pod_address_and_ports(pod):
    ports = ",".join(map(str, pod.ports))
    assert pod.ready_line == f"hellogo ready pod={POD_NAME} address=127.0.0.1 ports={ports}"


@pytest.mark.parametrize("index", [0, 1, 2])
def test_text_answer_on_every_listener(pod, client, index):
    port = pod.ports[index]
    r = client.get(url(port, "/text-answer"), headers={"X-Real-IP": "10.232.41.102"})
    local = r.extensions["network_stream"].get_extra_info("client_addr")
    assert r.status_code == 200
    assert r.headers["x-pod-name"] == POD_NAME
    assert r.headers["x-pod-ip"] == "127.0.0.1"
    assert r.headers["x-pod-port"] == str(port)
    assert r.headers["x-cache-status"] == "MISS"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.text.splitlines() == [
        f"hello {port}!",
        f"host 127.0.0.1:{port}",
        f"remoteaddr 127.0.0.1:{local[1]}",
        "realip 10.232.41.102",
        f"hostname {POD_NAME}",
    ]


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/json-accept", {"Accept": "application/json"}), ("/json-query?format=json", {})],
)
def test_json_answer(pod, client, path, headers):
    port = pod.http_ports[1]
    headers = {**headers, "X-Forwarded-For": "10.232.41.102", "Host": "hellogo.d.xiaomi.net"}
    r = client.get(url(port, path), headers=headers)
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {
        "pod", "pod_ip", "node", "port", "remote_addr", "real_ip", "forwarded_for",
        "host", "method", "uri", "headers", "cache_status",
    }  # fmt: skip
    assert (body["pod"], body["pod_ip"], body["node"], body["port"]) == (
        POD_NAME, "127.0.0.1", "node-a", port,
    )  # fmt: skip
    assert body["host"] == "hellogo.d.xiaomi.net"
    assert (body["method"], body["uri"]) == ("GET", path)
    assert body["forwarded_for"] == "10.232.41.102" and body["real_ip"] == ""
    assert body["headers"]["x-forwarded-for"] == "10.232.41.102"
    assert body["cache_status"] == r.headers["x-cache-status"] == "MISS"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", body["remote_addr"])


def test_keep_alive_many_requests_on_one_connection(pod, client):
    port = pod.http_ports[0]
    addresses = set()
    for i in range(200):
        r = client.get(url(port, f"/keep?i={i}&format=json"), headers={"Cache-Control": "no-cache"})
        assert r.headers["x-cache-status"] == "BYPASS"
        addresses.add(r.json()["remote_addr"])
    assert len(addresses) == 1


def test_cache_miss_then_hit_per_url(pod, client):
    port = pod.http_ports[0]
    for path in ("/page-a", "/page-b", "/page-a?x=1"):
        statuses = [client.get(url(port, path)).headers["x-cache-status"] for _ in range(3)]
        assert statuses == ["MISS", "HIT", "HIT"]
    assert client.head(url(port, "/page-b")).headers["x-cache-status"] == "HIT"
    assert client.post(url(port, "/page-b"), content=b"x").headers["x-cache-status"] == "BYPASS"
    assert client.get(url(port, "/page-b")).headers["x-cache-status"] == "HIT"
    json_status = client.get(url(port, "/page-b"), headers={"Accept": "application/json"})
    assert json_status.headers["x-cache-status"] == "MISS"


def test_hit_serves_the_stored_page_to_another_client(pod):
    port = pod.http_ports[0]
    with httpx.Client() as first, httpx.Client() as second:
        a = first.get(url(port, "/stored"))
        b = second.get(url(port, "/stored"), headers={"X-Real-IP": "1.2.3.4"})
    assert (a.headers["x-cache-status"], b.headers["x-cache-status"]) == ("MISS", "HIT")
    assert b.text == a.text


def test_cache_is_per_host(pod, client):
    port = pod.http_ports[0]
    a = client.get(url(port, "/hosted"), headers={"Host": "a.example"})
    b = client.get(url(port, "/hosted"), headers={"Host": "b.example"})
    assert (a.headers["x-cache-status"], b.headers["x-cache-status"]) == ("MISS", "MISS")


def test_expired_with_zero_ttl():
    http1, http2, ws = free_ports(3)
    with HellogoProcess("127.0.0.1", [http1, http2], ws, cache_ttl=0) as proc, httpx.Client() as c:
        statuses = [
            c.get(url(proc.http_ports[0], "/x")).headers["x-cache-status"] for _ in range(3)
        ]
    assert statuses == ["MISS", "EXPIRED", "EXPIRED"]


def test_healthz(pod, client):
    r = client.get(url(pod.ws_port, "/healthz"))
    assert (r.status_code, r.text) == (200, "ok")
    assert "x-cache-status" not in r.headers
    assert r.headers["x-pod-name"] == POD_NAME


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_output_has_the_incident_shape(pod):
    port = pod.http_ports[0]
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "5", "-H", "X-Real-IP: 10.232.41.102", url(port, "/8080")],
        capture_output=True, check=True, text=True, timeout=10,
    ).stdout  # fmt: skip
    assert re.fullmatch(
        rf"hello {port}!\n"
        rf"host 127\.0\.0\.1:{port}\n"
        r"remoteaddr 127\.0\.0\.1:\d+\n"
        r"realip 10\.232\.41\.102\n"
        rf"hostname {POD_NAME}\n",
        out,
    )


# raw sockets: framing the clients above never exercise


def read_response(sock: socket.socket, buf: bytearray) -> tuple[str, dict[str, str], bytes]:
    """Read one response (Content-Length framed) from sock; leftovers stay in buf."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {bytes(buf)!r}"
        buf += chunk
    head, _, _ = bytes(buf).partition(b"\r\n\r\n")
    del buf[: len(head) + 4]
    status, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        assert chunk
        buf += chunk
    body = bytes(buf[:length])
    del buf[:length]
    return status, headers, body


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def test_pipelined_requests_are_answered_in_order(pod):
    port = pod.http_ports[0]
    with connect(port) as sock:
        sock.sendall(
            b"".join(
                f"GET /pipe/{i}?format=json HTTP/1.1\r\nHost: h\r\n\r\n".encode() for i in range(20)
            )
        )
        buf = bytearray()
        uris = [json.loads(read_response(sock, buf)[2])["uri"] for _ in range(20)]
    assert uris == [f"/pipe/{i}?format=json" for i in range(20)]


def test_bodies_are_read_and_discarded(pod):
    port = pod.http_ports[0]
    with connect(port) as sock:
        buf = bytearray()
        sock.sendall(b"POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234")
        sock.sendall(b"56789")
        assert read_response(sock, buf)[1]["x-cache-status"] == "BYPASS"
        sock.sendall(
            b"PUT /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n"
            b"GET /after-body?format=json HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        assert read_response(sock, buf)[0] == "HTTP/1.1 200 OK"
        assert json.loads(read_response(sock, buf)[2])["uri"] == "/after-body?format=json"


def test_large_upload_on_keep_alive(pod, client):
    port = pod.http_ports[1]
    body = b"z" * 3_000_000
    for _ in range(2):
        r = client.post(url(port, "/upload"), content=body)
        assert r.status_code == 200
    chunks = iter([b"a" * 100_000] * 10)
    assert client.post(url(port, "/upload"), content=chunks).status_code == 200


def test_expect_100_continue(pod):
    with connect(pod.http_ports[0]) as sock:
        sock.sendall(
            b"POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert read_response(sock, bytearray())[0] == "HTTP/1.1 200 OK"


def test_http10_closes_unless_keep_alive_asked(pod):
    port = pod.http_ports[0]
    with connect(port) as sock:
        sock.sendall(b"GET /ten HTTP/1.0\r\n\r\n")
        buf = bytearray()
        status, headers, _ = read_response(sock, buf)
        assert status == "HTTP/1.1 200 OK" and headers["connection"] == "close"
        assert sock.recv(10) == b""
    with connect(port) as sock:
        buf = bytearray()
        for _ in range(3):
            sock.sendall(b"GET /ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert read_response(sock, buf)[1]["connection"] == "keep-alive"


def test_connection_close_is_honoured(pod):
    with connect(pod.http_ports[0]) as sock:
        sock.sendall(
            b"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n"
        )
        assert read_response(sock, bytearray())[1]["connection"] == "close"
        assert sock.recv(10) == b""


def test_malformed_request_gets_400_and_close(pod):
    with connect(pod.http_ports[0]) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        status, headers, _ = read_response(sock, bytearray())
        assert status == "HTTP/1.1 400 Bad Request"
        assert headers["connection"] == "close" and headers["x-pod-name"] == POD_NAME
        assert sock.recv(10) == b""


def test_many_concurrent_connections(pod):
    port = pod.http_ports[0]

    async def one(i: int) -> list[str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        statuses = []
        for _ in range(5):
            writer.write(f"GET /many/{i % 10} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:-2])
            await reader.readexactly(int(headers["Content-Length"]))
            statuses.append(headers["X-Cache-Status"])
        writer.close()
        await writer.wait_closed()
        return statuses

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(one(i) for i in range(300)))

    results = asyncio.run(asyncio.wait_for(main(), 20))
    flat = [s for statuses in results for s in statuses]
    assert len(flat) == 1500
    assert flat.count("MISS") == 10 and flat.count("HIT") == 1490


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_wildcard_v6_address_serves_ipv4_and_ipv6():
    http1, http2, ws = free_ports(3, "::")
    with HellogoProcess("::", [http1, http2], ws) as proc, httpx.Client() as c:
        v6 = c.get(f"http://[::1]:{http1}/dual?format=json").json()
        v4 = c.get(f"http://127.0.0.1:{http1}/dual?format=json").json()
    assert proc.ready_line.endswith(f"address=:: ports={http1},{http2},{ws}")
    assert v6["remote_addr"].startswith("[::1]:") and v6["pod_ip"] == "127.0.0.1"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", v4["remote_addr"])


# a slow pod (--delay-ms / DELAY_MS)

DELAY_MS = 300


@pytest.fixture(scope="module")
def slow_pod():
    http1, http2, ws = free_ports(3)
    proc = HellogoProcess(
        "127.0.0.1", [http1, http2], ws, env={"POD_NAME": "slow-pod", "DELAY_MS": str(DELAY_MS)}
    )
    try:
        proc.start()
        yield proc
    finally:
        proc.close()


def test_a_slow_pod_holds_every_http_answer_back_by_its_delay(slow_pod, client):
    port = slow_pod.http_ports[0]
    start = time.perf_counter()
    response = client.get(url(port, "/8080/slow"))
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and response.headers["x-pod-name"] == "slow-pod"
    assert response.text.startswith(f"hello {port}!")
    assert elapsed >= DELAY_MS / 1000, f"answered after {elapsed:.3f}s"


def test_a_slow_pod_keeps_pipelined_answers_in_order_and_closes_after_them(slow_pod):
    port = slow_pod.http_ports[0]
    requests = (
        b"GET /one?format=json HTTP/1.1\r\nHost: h\r\n\r\n"
        b"GET /two?format=json HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(requests)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 2
    assert data.index(b"/one") < data.index(b"/two")
