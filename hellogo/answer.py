"""Rendering of answers: echo bodies (text, JSON), the WebSocket hello, response heads.

Pure functions of their arguments; nothing here knows about sockets or the cache.
"""

from __future__ import annotations

import json
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Final

from hellogo.http import Request
from hellogo.identity import Identity

TEXT_TYPE: Final = b"text/plain; charset=utf-8"
JSON_TYPE: Final = b"application/json"


def format_peer(peer: Any) -> str:
    """Format a socket peer name as ``ip:port`` (``[ip]:port`` for IPv6, IPv4-mapped unwrapped).

    Args:
        peer: what ``transport.get_extra_info("peername")`` returned.

    Returns:
        The address, or ``""`` when unknown.
    """
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        if host.startswith("::ffff:") and "." in host:  # IPv4 on a dual-stack socket
            host = host[7:]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ""


def wants_json(request: Request) -> bool:
    """Tell whether the JSON representation was asked for.

    ``?format=json`` or ``?format=text`` decide; otherwise an ``Accept`` header
    naming ``application/json`` does.
    """
    target = request.target
    if "format=" in target:
        query = target.partition("?")[2]
        for pair in query.split("&"):
            if pair == "format=json":
                return True
            if pair == "format=text":
                return False
    return "application/json" in request.headers.get("accept", "")


def text_body(port: int, request: Request, remote_addr: str, identity: Identity) -> bytes:
    """Render the plain-text echo in the shape of incident 1.

    Returns:
        Five lines: ``hello <port>!``, ``host``, ``remoteaddr``, ``realip``, ``hostname``.
    """
    headers = request.headers
    return (
        f"hello {port}!\n"
        f"host {headers.get('host', '')}\n"
        f"remoteaddr {remote_addr}\n"
        f"realip {headers.get('x-real-ip', '')}\n"
        f"hostname {identity.pod}\n"
    ).encode("utf-8", "surrogateescape")


def _who(port: int, request: Request, remote_addr: str, identity: Identity) -> dict[str, Any]:
    """The fields shared by the JSON echo and the WebSocket hello."""
    headers = request.headers
    return {
        "pod": identity.pod,
        "pod_ip": identity.pod_ip,
        "node": identity.node,
        "port": port,
        "remote_addr": remote_addr,
        "real_ip": headers.get("x-real-ip", ""),
        "forwarded_for": headers.get("x-forwarded-for", ""),
        "host": headers.get("host", ""),
    }


def json_body(
    port: int, request: Request, remote_addr: str, identity: Identity, cache_status: str
) -> bytes:
    """Render the JSON echo.

    Returns:
        An object with pod, pod_ip, node, port, remote_addr, real_ip, forwarded_for,
        host, method, uri, headers (names lowercased) and cache_status.
    """
    fields = _who(port, request, remote_addr, identity)
    fields["method"] = request.method
    fields["uri"] = request.target
    fields["headers"] = request.headers
    fields["cache_status"] = cache_status
    return json.dumps(fields).encode() + b"\n"


def hello_message(port: int, request: Request, remote_addr: str, identity: Identity) -> str:
    """Render the first WebSocket message: the pod's identity and the handshake's origin.

    Returns:
        JSON with pod, pod_ip, node, port, remote_addr, real_ip, forwarded_for, host, uri.
    """
    fields = _who(port, request, remote_addr, identity)
    fields["uri"] = request.target
    return json.dumps(fields)


def _header_value(text: str) -> bytes:
    """Encode a header value, dropping characters that could split the header."""
    cleaned = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return cleaned.encode("latin-1", "replace")


def identity_headers(port: int, identity: Identity) -> bytes:
    """The ``X-Pod-*`` header lines every answer of one listener carries."""
    return (
        b"X-Pod-Name: "
        + _header_value(identity.pod)
        + b"\r\nX-Pod-IP: "
        + _header_value(identity.pod_ip)
        + b"\r\nX-Pod-Port: "
        + str(port).encode()
        + b"\r\n"
    )


def status_line(status: int) -> bytes:
    """Return ``HTTP/1.1 <status> <reason>\\r\\n``."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\n".encode()


def entity_headers(content_type: bytes, length: int) -> bytes:
    """Return the ``Content-Type`` and ``Content-Length`` header lines."""
    return b"Content-Type: " + content_type + b"\r\nContent-Length: %d\r\n" % length


def connection_header(minor: int, keep_alive: bool) -> bytes:
    """Return the ``Connection`` header line the answer needs (may be empty).

    HTTP/1.1 keeps the connection by default; HTTP/1.0 closes it by default.
    """
    if keep_alive:
        return b"" if minor else b"Connection: keep-alive\r\n"
    return b"Connection: close\r\n"


def date_header(now: float) -> bytes:
    """Return the ``Date`` header line for the given POSIX time."""
    return b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
