"""Hash-key expressions: variables, grammars per flavor and release, errors."""

from __future__ import annotations

import pytest

from ingressbed.errors import ConfigError
from ingressbed.placement import (
    PINNED_CONTROLLER_VERSION,
    KeyExpr,
    Request,
    Ring,
    hash_key,
    is_legacy,
    parse_version,
    predict,
)
from ingressbed.vocabulary import Endpoint

REQ = Request(
    client_ip="10.232.41.102",
    host="Hellogo.D.Example.NET:8080",
    request_uri="/a%20b/../c//d?id=7&ID=8&x=",
    headers={"X-User": "alice", "X_Tenant": "dropped", "Accept": "text/plain"},
    cookies={"sid": "s-1", "theme": "dark"},
)


def key(expr: str, request: Request = REQ, **kw: str) -> bytes:
    return hash_key(expr, request, **kw)


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("$remote_addr", b"10.232.41.102"),
        ("$binary_remote_addr", bytes([10, 232, 41, 102])),
        ("$host", b"hellogo.d.example.net"),  # lowercased, port stripped
        ("$http_host", b"Hellogo.D.Example.NET:8080"),  # the raw header
        ("$request_uri", b"/a%20b/../c//d?id=7&ID=8&x="),
        ("$uri", b"/c/d"),  # decoded, ".." resolved, slashes merged, no args
        ("$args", b"id=7&ID=8&x="),
        ("$is_args", b"?"),
        ("$arg_id", b"7"),  # first match, name compared without case
        ("$arg_X", b""),  # present and empty
        ("$http_x_user", b"alice"),  # "_" in the variable matches "-" in the header
        ("$HTTP_X_USER", b"alice"),  # variable names are case-insensitive
        ("$http_x_tenant", b""),  # header names with "_" are dropped by nginx
        ("$cookie_sid", b"s-1"),
        ("$http_cookie", b"sid=s-1; theme=dark"),
        ("$scheme", b"http"),
        ("${host}-x", b"hellogo.d.example.net-x"),
        ("$host$request_uri", b"hellogo.d.example.net/a%20b/../c//d?id=7&ID=8&x="),
        ("$http_missing-$arg_nope|$remote_addr", b"-|10.232.41.102"),  # missing adds nothing
        ("static", b"static"),
    ],
)
def test_variables(expr: str, value: bytes) -> None:
    assert key(expr) == value


@pytest.mark.parametrize(
    ("client", "text", "size"),
    [
        ("fd00::1", b"fd00::1", 16),
        ("2001:db8:0:0:1:0:0:1", b"2001:db8::1:0:0:1", 16),  # first longest zero run
        ("1:0:0:0:0:0:0:0", b"1::", 16),
        ("::ffff:1.2.3.4", b"::ffff:1.2.3.4", 16),  # nginx prints mapped IPv4 dotted
        ("0:0:0:0:0:0:0:1", b"::1", 16),
        ("2001:db8:1:1:1:1:0:1", b"2001:db8:1:1:1:1:0:1", 16),  # a single zero group stays
    ],
)
def test_ipv6_clients(client: str, text: str, size: int) -> None:
    request = Request(client_ip=client)
    assert key("$remote_addr", request) == text
    assert len(key("$binary_remote_addr", request)) == size


@pytest.mark.parametrize(
    ("host", "value"),
    [("Example.COM.", b"example.com"), ("[::1]:80", b"[::1]"), ("", b""), ("a.b:", b"a.b")],
)
def test_host_rules(host: str, value: bytes) -> None:
    assert key("$host", Request(host=host)) == value


def test_host_from_headers_and_bad_hosts() -> None:
    assert key("$host", Request(headers={"host": "X.Y"})) == b"x.y"
    for bad in ("a..b", "a/b", "a b", ":80"):
        with pytest.raises(ConfigError, match="400"):
            key("$host", Request(host=bad))


@pytest.mark.parametrize(
    ("uri", "value"),
    [
        ("/", b"/"),
        ("/a/./b/", b"/a/b/"),
        ("/a/%2e%2e/b", b"/b"),  # decoded dots are resolved too
        ("/a/%2Fb", b"/a/b"),  # a decoded slash merges like a plain one
        ("/a/b/..", b"/a/"),
        ("/x%3Fy?z", b"/x?y"),  # a decoded "?" does not start the arguments
    ],
)
def test_uri_normalization(uri: str, value: bytes) -> None:
    assert key("$uri", Request(request_uri=uri)) == value


def test_bad_paths() -> None:
    for uri in ("/..", "/a/../..", "/%zz", "/%00", "x"):
        with pytest.raises(ConfigError):
            key("$uri", Request(request_uri=uri))


def test_args_presence() -> None:
    assert key("$args", Request(request_uri="/p")) == b""
    assert key("$is_args", Request(request_uri="/p")) == b""
    assert key("$arg_a", Request(request_uri="/p?ab=1&a=2")) == b"2"
    assert key("$arg_a", Request(request_uri="/p?a")) == b""  # no "=": not found


def test_cookie_parsing_like_nginx() -> None:
    raw = Request(headers={"Cookie": "a=1, sid = x y ;SID=2"})
    assert key("$cookie_sid", raw) == b"x y "  # spaces around "=" skipped, value to ";"
    assert key("$cookie_a", raw) == b"1, sid = x y "
    both = Request(headers={"cookie": "a=1"}, cookies={"b": "2"})
    assert both.cookie_header() == "a=1; b=2"
    assert key("$cookie_sidx", raw) == b""


def test_lua_grammar_details() -> None:
    # ingress-nginx 0.33+: "\$name" stays literal with its backslash, a bare "$" is text,
    # and a lone backslash vanishes.
    assert key(r"\$host-$scheme") == rb"\$host-http"
    assert key("$-$scheme") == b"$-http"
    assert key("a\\b") == b"ab"


def test_nginx_grammar_is_stricter() -> None:
    assert key(r"\$host", flavor="nginx") == b"\\hellogo.d.example.net"
    for bad, message in [
        ("$", "invalid variable"),
        ("${host", "closing bracket"),
        ("a$-", "invalid"),
    ]:
        with pytest.raises(ConfigError, match=message):
            KeyExpr(bad, flavor="nginx")


def test_unsupported_variables_are_named() -> None:
    with pytest.raises(ConfigError, match=r"\$server_addr"):
        key("$host$server_addr")
    with pytest.raises(ConfigError, match="capture"):
        key("$1")
    with pytest.raises(ConfigError, match="capture"):
        KeyExpr("$1", flavor="nginx")
    with pytest.raises(ConfigError, match="empty"):
        KeyExpr("")
    with pytest.raises(ConfigError, match="client_ip"):
        key("$remote_addr", Request())
    with pytest.raises(ConfigError, match="not an IPv4"):
        key("$remote_addr", Request(client_ip="nope"))


def test_versions() -> None:
    assert parse_version(None) == parse_version(PINNED_CONTROLLER_VERSION) == (1, 15, 1)
    assert parse_version("controller-v1.15.1") == (1, 15, 1)
    assert parse_version("v1.11.3") == (1, 11, 3)
    assert parse_version("nginx-0.25.0") == (0, 25, 0)
    assert parse_version("0.33") == (0, 33, 0)
    assert is_legacy("0.25.0") and is_legacy("0.32.0")
    assert not is_legacy("0.33.0") and not is_legacy(None)
    with pytest.raises(ConfigError, match="controller version"):
        parse_version("latest")


def test_legacy_one_variable() -> None:
    old = {"controller_version": "0.25.0"}
    assert key("$request_uri", **old) == REQ.request_uri.encode()
    assert key("$http_x_user", **old) == b"alice"
    # Not found -> Lua's tostring(nil): "nil", where 0.33+ hashes the empty string.
    assert key("$http_missing", **old) == b"nil"
    assert key("$http_missing") == b""
    # The incident: the whole text names one variable "host$request_uri" that does not exist.
    assert key("$host$request_uri", **old) == b"nil"
    assert key("${host}", **old) == b"nil"
    with pytest.raises(ConfigError, match="legacy"):
        key("$server_name", **old)


def test_legacy_sends_every_request_to_one_endpoint() -> None:
    endpoints = [Endpoint(f"10.244.0.{i}", 8080) for i in range(2, 8)]
    picks = {
        predict(
            "ingress-nginx",
            endpoints,
            "$host$request_uri",
            Request(host=f"h{i}.example", request_uri=f"/p/{i}"),
            controller_version="0.25.0",
        )
        for i in range(60)
    }
    # crc32(b"nil") decides the single endpoint; the current grammar spreads the same keys.
    assert picks == {Ring.build("ingress-nginx", endpoints).lookup(b"nil")}
    current = {
        predict(
            "ingress-nginx",
            endpoints,
            "$host$request_uri",
            Request(host=f"h{i}.example", request_uri=f"/p/{i}"),
        )
        for i in range(60)
    }
    assert len(current) > 3


def test_nginx_empty_key_is_round_robin() -> None:
    endpoints = [Endpoint("10.0.0.1", 80), Endpoint("10.0.0.2", 80)]
    assert predict("nginx", endpoints, "$arg_x", Request()) is None
    assert predict("nginx", endpoints[:1], "$arg_x", Request()) == endpoints[0]
    # ingress-nginx hashes the empty key (crc 0): the first point's endpoint.
    ring = Ring.build("ingress-nginx", endpoints)
    assert predict("ingress-nginx", endpoints, "$arg_x", Request()) == ring.lookup_hash(0)
