"""Request parsing edge cases, sans I/O."""

from __future__ import annotations

import pytest

from hellogo.errors import HttpError
from hellogo.http import MAX_HEAD, RequestReader, parse_head


def read_all(*chunks: bytes):
    reader = RequestReader()
    requests = []
    for chunk in chunks:
        reader.feed(chunk)
        while (request := reader.next_request()) is not None:
            requests.append(request)
    return reader, requests


def bytewise(data: bytes):
    return read_all(*(data[i : i + 1] for i in range(len(data))))


def test_simple_get():
    _, [req] = read_all(b"GET /8080?a=1 HTTP/1.1\r\nHost: hellogo.d.xiaomi.net\r\n\r\n")
    assert (req.method, req.target, req.minor) == ("GET", "/8080?a=1", 1)
    assert req.headers == {"host": "hellogo.d.xiaomi.net"}
    assert req.keep_alive and not req.websocket


def test_header_names_lowercased_values_trimmed_repeats_joined():
    head = (
        b"GET / HTTP/1.1\r\nHost: h\r\n"
        b"X-Forwarded-For:  1.1.1.1 \r\nx-forwarded-for:\t2.2.2.2\r\n\r\n"
    )
    req, length = parse_head(head)
    assert req.headers["x-forwarded-for"] == "1.1.1.1, 2.2.2.2"
    assert length == 0


def test_pipelined_requests_in_one_chunk():
    data = b"".join(f"GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n".encode() for i in range(5))
    _, requests = read_all(data)
    assert [r.target for r in requests] == [f"/{i}" for i in range(5)]


def test_request_split_at_every_byte():
    data = (
        b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /g HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    reader, requests = bytewise(data)
    assert [(r.method, r.target) for r in requests] == [("POST", "/p"), ("GET", "/g")]
    assert reader.idle


def test_chunked_body_with_extensions_and_trailers_is_discarded():
    data = (
        b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
        b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    for reader, requests in (read_all(data), bytewise(data)):
        assert [r.target for r in requests] == ["/c", "/after"]
        assert reader.idle


def test_body_not_complete_yet_returns_none():
    reader, requests = read_all(b"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345")
    assert requests == [] and not reader.idle
    reader.feed(b"67890")
    assert reader.next_request().method == "PUT"


def test_expect_continue_is_signalled_once_while_body_awaited():
    reader = RequestReader()
    reader.feed(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert reader.next_request() is None
    assert reader.take_continue() is True
    assert reader.take_continue() is False
    reader.feed(b"abc")
    assert reader.next_request() is not None


def test_blank_lines_between_requests_are_ignored():
    _, requests = read_all(
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    assert [r.target for r in requests] == ["/", "/2"]


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
    ],
)
def test_keep_alive_rules(head, keep_alive):
    assert parse_head(head)[0].keep_alive is keep_alive


@pytest.mark.parametrize(
    ("head", "websocket"),
    [
        (b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", True),
        (
            b"GET /ws HTTP/1.1\r\nHost: h\r\n"
            b"Connection: keep-alive, upgrade\r\nUpgrade: WebSocket\r\n\r\n",
            True,
        ),
        (b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", False),
        (
            b"POST /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            False,
        ),
        (b"GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", False),
        (b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", False),
    ],
)
def test_websocket_upgrade_detection(head, websocket):
    assert parse_head(head)[0].websocket is websocket


def test_upgrade_returns_head_and_leaves_the_rest():
    head = b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    reader, [req] = read_all(head + b"\x81\x85frame")
    assert req.head == head
    assert reader.take_rest() == b"\x81\x85frame"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"GET / FOO/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\n folded: v\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\n"
            b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", 400),
    ],
)
def test_malformed_requests_raise_with_status(data, status):
    with pytest.raises(HttpError) as info:
        read_all(data)
    assert info.value.status == status


def test_repeated_equal_content_length_is_accepted():
    _, [req] = read_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\n\r\nab")
    assert req.method == "POST"


def test_head_too_large_is_431_even_without_terminator():
    reader = RequestReader()
    reader.feed(b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * MAX_HEAD)
    with pytest.raises(HttpError) as info:
        reader.next_request()
    assert info.value.status == 431


def test_large_body_is_streamed_not_kept():
    reader = RequestReader()
    reader.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10000000\r\n\r\n")
    assert reader.next_request() is None
    for _ in range(152):
        reader.feed(b"x" * 65536)
        assert reader.next_request() is None
        assert len(reader._buf) == 0  # consumed as it arrives
    reader.feed(b"x" * (10_000_000 - 152 * 65536))
    assert reader.next_request() is not None and reader.idle
