"""Reading identities out of hellogo's answers."""

from __future__ import annotations

import pytest

from ingressbed.clients import answer
from ingressbed.clients.curl import _parse_headers, find_curl
from ingressbed.errors import ToolError

INCIDENT_BODY = """hello 8080!
host hellogo.d.xiaomi.net
remoteaddr 10.46.23.1:15340
realip 10.232.41.102
hostname hellogo-699f997454-qdrwn
"""


def test_text_body_of_the_incident():
    who = answer.from_text(INCIDENT_BODY)
    assert who.pod == "hellogo-699f997454-qdrwn"
    assert who.port == 8080


def test_headers_any_case_and_merge():
    who = answer.from_headers({"x-pod-name": "p", "X-Pod-IP": "127.0.0.10", "X-POD-PORT": "9090"})
    assert (who.pod, who.pod_ip, who.port, who.cache_status) == ("p", "127.0.0.10", 9090, None)
    merged = answer.merge(answer.Identity(pod_ip="1.2.3.4"), answer.from_text(INCIDENT_BODY))
    assert merged.pod == "hellogo-699f997454-qdrwn" and merged.pod_ip == "1.2.3.4"


def test_websocket_hello():
    who = answer.from_hello('{"pod": "p", "pod_ip": "127.0.0.10", "port": 8081}')
    assert (who.pod, who.port) == ("p", 8081)


def test_curl_header_dump_keeps_the_last_response():
    raw = (
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nX-Cache-Status: HIT\r\nX-Pod-Name: p\r\n\r\n"
    )
    assert _parse_headers(raw) == {"x-cache-status": "HIT", "x-pod-name": "p"}


def test_curl_missing_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolError, match=r"curl not found on PATH.*apt-get install curl"):
        find_curl()
