"""Rendering, the responder's cache policy, options and identity: pure, no sockets."""

from __future__ import annotations

import json
import socket

import pytest

from hellogo.answer import format_peer, text_body, wants_json
from hellogo.cache import PageCache
from hellogo.config import Config, parse_config
from hellogo.errors import UsageError
from hellogo.http import parse_head
from hellogo.identity import Identity, identity_from_env
from hellogo.responder import Page, Responder

POD = Identity(pod="hellogo-699f997454-qdrwn", pod_ip="10.46.12.107", node="node-1")
REMOTE = "10.46.23.1:15340"


def request(target="/8080", method="GET", headers=None, version="1.1"):
    lines = [f"{method} {target} HTTP/{version}", "Host: hellogo.d.xiaomi.net"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return parse_head(("\r\n".join(lines) + "\r\n\r\n").encode())[0]


def split_response(data: bytes):
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    return status_line, headers, body


class FakeClock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def responder(clock):
    cache: PageCache[Page] = PageCache(ttl=100, clock=clock)
    return Responder(8080, POD, cache, wall_clock=lambda: 1_700_000_000.0)


def test_text_body_has_the_incident_shape():
    req = request(headers={"X-Real-IP": "10.232.41.102"})
    assert text_body(8080, req, REMOTE, POD).decode() == (
        "hello 8080!\n"
        "host hellogo.d.xiaomi.net\n"
        "remoteaddr 10.46.23.1:15340\n"
        "realip 10.232.41.102\n"
        "hostname hellogo-699f997454-qdrwn\n"
    )


def test_text_body_without_real_ip_keeps_the_line():
    lines = text_body(9090, request(), REMOTE, POD).decode().splitlines()
    assert lines[0] == "hello 9090!"
    assert lines[3] == "realip "


@pytest.mark.parametrize(
    ("target", "accept", "expected"),
    [
        ("/", "", False),
        ("/", "application/json", True),
        ("/", "text/html, application/json;q=0.9", True),
        ("/?format=json", "", True),
        ("/?a=1&format=json", "", True),
        ("/?format=text", "application/json", False),
        ("/?xformat=json", "", False),
    ],
)
def test_representation_choice(target, accept, expected):
    headers = {"Accept": accept} if accept else {}
    assert wants_json(request(target, headers=headers)) is expected


@pytest.mark.parametrize(
    ("peer", "text"),
    [
        (("10.0.0.1", 80), "10.0.0.1:80"),
        (("::1", 80, 0, 0), "[::1]:80"),
        (("::ffff:10.0.0.1", 80, 0, 0), "10.0.0.1:80"),
        (None, ""),
    ],
)
def test_format_peer(peer, text):
    assert format_peer(peer) == text


def test_miss_then_hit_serves_the_stored_body(responder):
    first = split_response(responder.respond(request(), REMOTE, True))
    second = split_response(responder.respond(request(), "10.9.9.9:1", True))
    assert first[0] == second[0] == "HTTP/1.1 200 OK"
    assert first[1]["x-cache-status"] == "MISS"
    assert second[1]["x-cache-status"] == "HIT"
    assert second[2] == first[2]  # the stored page, with the first client's address
    for name in ("x-pod-name", "x-pod-ip", "x-pod-port", "content-type", "content-length", "date"):
        assert second[1][name] == first[1][name]
    assert first[1]["x-pod-port"] == "8080"
    assert int(first[1]["content-length"]) == len(first[2])


def test_expired_then_hit_again(responder, clock):
    responder.respond(request(), REMOTE, True)
    clock.now += 100
    assert split_response(responder.respond(request(), REMOTE, True))[1]["x-cache-status"] == (
        "EXPIRED"
    )
    clock.now += 1
    assert split_response(responder.respond(request(), REMOTE, True))[1]["x-cache-status"] == "HIT"


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"Cache-Control": "no-cache"}),
        ("GET", {"Cache-Control": "max-age=0, No-Cache"}),
        ("GET", {"Pragma": "no-cache"}),
        ("POST", {}),
        ("DELETE", {}),
    ],
)
def test_bypass_leaves_the_cache_untouched(responder, method, headers):
    for _ in range(2):
        answer = split_response(
            responder.respond(request(method=method, headers=headers), REMOTE, True)
        )
        assert answer[1]["x-cache-status"] == "BYPASS"
    assert len(responder.cache) == 0
    assert split_response(responder.respond(request(), REMOTE, True))[1]["x-cache-status"] == "MISS"


def test_json_and_text_are_cached_apart_and_json_says_its_status(responder):
    text = split_response(responder.respond(request(), REMOTE, True))
    miss = split_response(responder.respond(request("/8080?format=json"), REMOTE, True))
    hit = split_response(responder.respond(request("/8080?format=json"), "1.2.3.4:5", True))
    assert text[1]["content-type"] == "text/plain; charset=utf-8"
    assert miss[1]["content-type"] == "application/json"
    assert (miss[1]["x-cache-status"], hit[1]["x-cache-status"]) == ("MISS", "HIT")
    first, second = json.loads(miss[2]), json.loads(hit[2])
    assert first["cache_status"] == "MISS" and second["cache_status"] == "HIT"
    assert second["remote_addr"] == first["remote_addr"] == REMOTE
    assert int(hit[1]["content-length"]) == len(hit[2])


def test_json_body_fields(responder):
    req = request(
        "/9090?format=json",
        method="PATCH",
        headers={"X-Real-IP": "10.232.41.102", "X-Forwarded-For": "10.232.41.102, 10.0.0.1"},
    )
    body = json.loads(split_response(responder.respond(req, REMOTE, True))[2])
    assert body == {
        "pod": POD.pod,
        "pod_ip": POD.pod_ip,
        "node": POD.node,
        "port": 8080,
        "remote_addr": REMOTE,
        "real_ip": "10.232.41.102",
        "forwarded_for": "10.232.41.102, 10.0.0.1",
        "host": "hellogo.d.xiaomi.net",
        "method": "PATCH",
        "uri": "/9090?format=json",
        "headers": {
            "host": "hellogo.d.xiaomi.net",
            "x-real-ip": "10.232.41.102",
            "x-forwarded-for": "10.232.41.102, 10.0.0.1",
        },
        "cache_status": "BYPASS",
    }


def test_head_has_length_but_no_body_and_shares_the_cache(responder):
    head = split_response(responder.respond(request(method="HEAD"), REMOTE, True))
    get = split_response(responder.respond(request(), REMOTE, True))
    assert head[2] == b"" and int(head[1]["content-length"]) == len(get[2])
    assert (head[1]["x-cache-status"], get[1]["x-cache-status"]) == ("MISS", "HIT")


def test_healthz_is_not_cached(responder):
    for target in ("/healthz", "/healthz?probe=1"):
        status, headers, body = split_response(responder.respond(request(target), REMOTE, True))
        assert (status, body) == ("HTTP/1.1 200 OK", b"ok")
        assert "x-cache-status" not in headers
    assert len(responder.cache) == 0


@pytest.mark.parametrize(
    ("version", "keep_alive", "expected"),
    [
        ("1.1", True, None),
        ("1.1", False, "close"),
        ("1.0", True, "keep-alive"),
        ("1.0", False, "close"),
    ],
)
def test_connection_header(responder, version, keep_alive, expected):
    headers = split_response(responder.respond(request(version=version), REMOTE, keep_alive))[1]
    assert headers.get("connection") == expected


def test_error_answer_closes_and_names_the_pod(responder):
    status, headers, body = split_response(responder.error(400, "malformed request line"))
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["connection"] == "close" and headers["x-pod-name"] == POD.pod
    assert body == b"malformed request line\n"


def test_pod_name_cannot_split_headers():
    evil = Identity(pod="a\r\nX-Evil: 1", pod_ip="1.1.1.1", node="n")
    headers = split_response(Responder(1, evil, PageCache(1)).respond(request(), REMOTE, True))[1]
    assert "x-evil" not in headers


# options and identity


def test_defaults():
    assert parse_config([], {}) == Config("0.0.0.0", (8080, 9090), 8081, 100.0)
    assert Config().ports == (8080, 9090, 8081)


def test_options_beat_env():
    env = {"LISTEN_ADDRESS": "127.0.0.9", "CACHE_TTL": "5"}
    assert parse_config([], env) == Config("127.0.0.9", (8080, 9090), 8081, 5.0)
    config = parse_config(
        ["--address", "127.0.0.5", "--http-ports", "1,2,3", "--ws-port", "4", "--cache-ttl", "0.5"],
        env,
    )
    assert config == Config("127.0.0.5", (1, 2, 3), 4, 0.5)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--http-ports", "80x"], {}, "not a port number"),
        (["--http-ports", ","], {}, "at least one port"),
        (["--ws-port", "70000"], {}, "out of range"),
        (["--http-ports", "8080", "--ws-port", "8080"], {}, "more than one listener"),
        (["--cache-ttl", "-1"], {}, ">= 0"),
        (["--cache-ttl", "nan"], {}, ">= 0"),
        ([], {"CACHE_TTL": "soon"}, "CACHE_TTL"),
        (["--bogus"], {}, "unrecognized arguments"),
    ],
)
def test_bad_options(argv, env, message):
    with pytest.raises(UsageError, match=message):
        parse_config(argv, env)


def test_identity_defaults():
    host = socket.gethostname()
    assert identity_from_env({}, "0.0.0.0") == Identity(host, "127.0.0.1", host)
    assert identity_from_env({}, "::").pod_ip == "127.0.0.1"
    assert identity_from_env({}, "127.0.0.5").pod_ip == "127.0.0.5"
    env = {"POD_NAME": "p", "POD_IP": "10.1.1.1", "NODE_NAME": "n"}
    assert identity_from_env(env, "127.0.0.5") == Identity("p", "10.1.1.1", "n")


def test_delay_option_and_variable():
    assert parse_config([], {}).delay_ms == 0
    assert parse_config([], {"DELAY_MS": "250"}).delay_ms == 250
    assert parse_config(["--delay-ms", "40"], {"DELAY_MS": "250"}).delay_ms == 40
    for argv, env, words in (
        (["--delay-ms", "0.5"], {}, "--delay-ms is not a whole number of milliseconds"),
        (["--delay-ms", "-1"], {}, "--delay-ms must be 0..60000"),
        ([], {"DELAY_MS": "soon"}, "DELAY_MS is not a whole number"),
    ):
        with pytest.raises(UsageError, match=words):
            parse_config(argv, env)
