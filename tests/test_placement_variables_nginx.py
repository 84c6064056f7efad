"""Every variable the model evaluates, against REAL nginx on loopback, edge case by edge case.

One nginx answers each request with the values of all supported variables (raw bytes,
separated by a byte no case uses). Requests are written by hand on a socket, so the
request target is exactly what each case says: an empty query, a bare ``?``, a fragment,
encoded characters, absolute-form targets, IPv6 clients (by ``X-Forwarded-For`` through
realip, and by a real connection over ``::1`` when the machine has IPv6 loopback). The
model must give the same bytes for every variable.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingressbed.placement.keys import KeyExpr
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Flavor
from tests.real_processes import nginx_prelude, wait_until_answering

NGINX_BIN = shutil.which("nginx") or (
    "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
)
pytestmark = pytest.mark.skipif(NGINX_BIN is None, reason="nginx is not installed")

SEP = b"\x1e"
VARIABLES = (
    "is_args", "args", "query_string", "uri", "document_uri", "request_uri", "host",
    "remote_addr", "scheme", "arg_a", "arg_id", "http_x_user", "http_host", "cookie_sid",
    "binary_remote_addr",
)  # fmt: skip


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6 = _ipv6_loopback()


@dataclass(frozen=True)
class Case:
    target: str
    host: str | None = "h.test"
    xff: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    over_ipv6: bool = False


CASES = {
    "no-query": Case("/x"),
    "bare-question-mark": Case("/x?"),
    "query": Case("/x?a=1&id=7"),
    "question-mark-then-fragment": Case("/x?#frag"),
    "fragment-in-query": Case("/x?a=1#frag"),
    "encoded-query": Case("/x?%41=%20&a=b%2F"),
    "encoded-slash": Case("/a/%2Fb"),
    "encoded-dot-segments": Case("/a%2F..%2Fb"),
    "encoded-question-mark": Case("/x%3Fy?z"),
    "encoded-tilde": Case("/%7e?a=%7e"),
    "merged-slashes": Case("//a//b/"),
    "dot-segments": Case("/a/./b/../c"),
    "arg-without-value": Case("/p?a&a=2"),
    "arg-name-case": Case("/p?A=up&a=low"),
    "absolute-form": Case("http://Example.COM:8080/p?q", host="other.test"),
    "absolute-form-no-path": Case("http://example.com"),
    "absolute-form-query-only": Case("http://ex.com?a=5"),
    "absolute-form-upper-scheme": Case("HTTP://ex.com/a/../b?x"),
    "host-with-port-and-dot": Case("/x", host="Sub.Example.org.:8443"),
    "ipv6-client-by-xff": Case("/x", xff="fd00::1"),
    "ipv6-client-long-form": Case("/x", xff="fd00:0:0:0:0:0:0:1"),
    "ipv4-mapped-client": Case("/x", xff="::ffff:1.2.3.4"),
    "xff-list-leftmost": Case("/x", xff="10.1.2.3, 10.9.9.9"),
    "headers-and-cookie": Case(
        "/x", headers={"X-User": " alice ", "Cookie": "a=1; SID=s1; sid=s2"}
    ),
    "ipv6-connection": Case("/x?a=9", over_ipv6=True),
}


def _free_port() -> int:
    """A port free on 127.0.0.1 and, where there is one, on ::1 (nginx listens on both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET) as v4:
            v4.bind(("127.0.0.1", 0))
            port = int(v4.getsockname()[1])
            if not IPV6:
                return port
            with socket.socket(socket.AF_INET6) as v6:
                try:
                    v6.bind(("::1", port))
                except OSError:
                    continue  # taken on ::1: draw another
                return port
    raise RuntimeError("no port free on both 127.0.0.1 and ::1 in 100 draws")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("nginx-vars")
    tmp.chmod(0o755)
    port = _free_port()
    body = SEP.decode().join(f"${name}" for name in VARIABLES)
    listen6 = f"    listen [::1]:{port};" if IPV6 else ""
    conf = "\n".join([
        *nginx_prelude(tmp),
        "  real_ip_header X-Forwarded-For;",
        "  set_real_ip_from 0.0.0.0/0;",
        "  real_ip_recursive on;",
        "  server {",
        f"    listen 127.0.0.1:{port};",
        listen6,
        f'    location / {{ return 200 "{body}"; }}',
        "  }",
        "}",
    ])  # fmt: skip
    (tmp / "nginx.conf").write_text(conf)
    assert NGINX_BIN is not None
    proc = subprocess.Popen(
        [NGINX_BIN, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answering(proc, port, tmp / "error.log")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def ask(port: int, case: Case) -> list[bytes]:
    lines = [f"GET {case.target} HTTP/1.1"]
    if case.host is not None:
        lines.append(f"Host: {case.host}")
    if case.xff:
        lines.append(f"X-Forwarded-For: {case.xff}")
    lines += [f"{k}: {v}" for k, v in case.headers.items()]
    lines += ["Connection: close", "", ""]
    family, address = (socket.AF_INET6, "::1") if case.over_ipv6 else (socket.AF_INET, "127.0.0.1")
    with socket.socket(family) as sock:
        sock.settimeout(5)
        sock.connect((address, port))
        sock.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body.split(SEP)


def model(case: Case, name: str) -> bytes:
    if case.xff:
        client = case.xff.split(",")[0].strip()
    else:
        client = "::1" if case.over_ipv6 else "127.0.0.1"
    headers = dict(case.headers)
    request = Request(
        client_ip=client, host=case.host or "", request_uri=case.target, headers=headers
    )
    return KeyExpr(f"${name}", flavor=Flavor.NGINX).evaluate(request)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_every_variable_matches_real_nginx(server: int, name: str) -> None:
    case = CASES[name]
    if case.over_ipv6 and not IPV6:
        pytest.fail("this machine has no IPv6 loopback; the IPv6 connection case cannot run")
    real = ask(server, case)
    assert len(real) == len(VARIABLES)
    wrong = {
        var: (model(case, var), got)
        for var, got in zip(VARIABLES, real, strict=True)
        if model(case, var) != got
    }
    assert wrong == {}, f"model vs nginx for {case.target!r}: {wrong}"


def test_is_args_is_empty_for_a_bare_question_mark_in_both_flavors() -> None:
    bare = Request(request_uri="/x?")
    for flavor in (Flavor.NGINX, Flavor.INGRESS_NGINX):
        assert KeyExpr("$is_args", flavor=flavor).evaluate(bare) == b""
        assert KeyExpr("$request_uri$is_args$args", flavor=flavor).evaluate(bare) == b"/x?"
        full = Request(request_uri="/x?a")
        assert KeyExpr("$is_args$args", flavor=flavor).evaluate(full) == b"?a"
