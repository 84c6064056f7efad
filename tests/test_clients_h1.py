"""The sans-I/O HTTP/1.1 client core: bytes in, responses out."""

from __future__ import annotations

import pytest

from ingressbed.clients.h1 import ProtocolError, ResponseParser, request_bytes


def test_request_bytes():
    raw = request_bytes("POST", "/a?b=1", "h.test", {"X-Forwarded-For": "1.2.3.4"}, b"hi")
    assert raw == (
        b"POST /a?b=1 HTTP/1.1\r\nHost: h.test\r\nX-Forwarded-For: 1.2.3.4\r\n"
        b"Content-Length: 2\r\n\r\nhi"
    )


def test_content_length_fed_byte_by_byte_then_keep_alive():
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pod-Name: p\r\n\r\nhello"
    parser = ResponseParser()
    got = []
    for i in range(len(raw)):
        got += parser.feed(raw[i : i + 1])
    assert len(got) == 1
    assert (got[0].status, got[0].body, got[0].headers["x-pod-name"]) == (200, b"hello", "p")
    assert got[0].keep_alive


def test_two_responses_in_one_read_and_an_interim_one():
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    first, second = ResponseParser().feed(raw)
    assert (first.status, first.body) == (200, b"a")
    assert (second.status, second.keep_alive) == (404, False)


def test_chunked_with_trailers():
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    parser = ResponseParser()
    assert parser.feed(raw[:40]) == []
    (response,) = parser.feed(raw[40:])
    assert response.body == b"abcde"


def test_close_delimited_body_ends_at_eof():
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.0 200 OK\r\n\r\npartial ") == []
    assert parser.feed(b"body") == []
    response = parser.feed_eof()
    assert response is not None and response.body == b"partial body"
    assert not response.keep_alive


def test_head_and_no_content_have_no_body():
    parser = ResponseParser(head_request=True)
    (response,) = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
    assert response.body == b""
    (empty,) = ResponseParser().feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert empty.body == b""


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_garbage_is_a_protocol_error(raw):
    with pytest.raises(ProtocolError):
        ResponseParser().feed(raw)


def test_eof_inside_a_framed_body_is_an_error():
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(ProtocolError):
        parser.feed_eof()
