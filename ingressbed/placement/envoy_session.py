"""The session cookie of Envoy's stateful session (Gateway API ``sessionPersistence``) (pure).

Envoy's cookie-based session state pins a client to the exact host that answered it: the
cookie's value is the base64 of a small protobuf message whose field 1 is the host's
address ``IP:PORT`` (``[v6]:PORT``) and whose field 2, present only when the cookie has a
TTL, is its expiry in Unix seconds. Envoy sends it quoted
(``sp="Cg8xMjcuNjEuMC4yOjgwODA="; Path=/a; HttpOnly``). A request carrying it goes to
that host while the cluster lists it; otherwise the cluster's load balancer picks and a
new cookie is set.

Typical use::

    value = encode(Endpoint("127.61.0.2", 8080))
    decode(value)   # Endpoint("127.61.0.2", 8080)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from ingressbed.placement.envoy_address import host_key
from ingressbed.vocabulary import Endpoint

_ADDRESS_TAG = 0x0A  # field 1, length-delimited
_EXPIRY_TAG = 0x10  # field 2, varint


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode(endpoint: Endpoint, expiry: int | None = None) -> str:
    """The cookie value Envoy writes for ``endpoint``.

    Args:
        endpoint: the host that answered.
        expiry: Unix seconds when the cookie ends (None: no TTL, no expiry field).

    Returns:
        The base64 text (without the quotes Envoy puts around it).
    """
    address = host_key(endpoint).encode()
    message = bytes([_ADDRESS_TAG]) + _varint(len(address)) + address
    if expiry is not None:
        message += bytes([_EXPIRY_TAG]) + _varint(expiry)
    return base64.b64encode(message).decode()


def _read_varint(data: bytes, index: int) -> tuple[int, int] | None:
    value, shift = 0, 0
    while index < len(data) and shift < 64:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index
        shift += 7
    return None


def decode(value: str) -> tuple[str, int | None] | None:
    """The host address and expiry a session cookie names.

    Args:
        value: the cookie value, with or without one pair of surrounding quotes.

    Returns:
        ``(IP:PORT text, expiry or None)``, or None where the value is no such cookie.
    """
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    address: str | None = None
    expiry: int | None = None
    index = 0
    while index < len(data):
        tag = data[index]
        index += 1
        if tag == _ADDRESS_TAG:
            length = _read_varint(data, index)
            if length is None or length[1] + length[0] > len(data):
                return None
            size, index = length
            try:
                address = data[index : index + size].decode()
            except UnicodeDecodeError:
                return None
            index += size
        elif tag == _EXPIRY_TAG:
            read = _read_varint(data, index)
            if read is None:
                return None
            expiry, index = read
        else:
            return None
    return None if address is None else (address, expiry)


def pinned(value: str, endpoints: Sequence[Endpoint]) -> Endpoint | None:
    """The listed endpoint a session cookie pins, or None (no such cookie, or a host the
    cluster no longer lists). Envoy looks the host up by its address text, as ``host_key``
    writes it. The expiry is not checked: the model keeps no clock.

    Args:
        value: the cookie value.
        endpoints: the cluster's hosts.
    """
    found = decode(value)
    if found is None:
        return None
    return next((e for e in endpoints if host_key(e) == found[0]), None)
