"""Endpoint lists as Kubernetes and nginx accept them (pure: text in, endpoints out).

An endpoint is ``IPv4:PORT`` or ``[IPv6]:PORT``: an EndpointSlice holds IP addresses,
and nginx's ``server`` directive reads an IPv6 address only in brackets (``fd00::1:8080``
is ambiguous, so it is refused rather than guessed). Ports run from 1 to 65535. The
unspecified, broadcast and multicast addresses are refused: no pod has one. An
endpoint listed twice is refused: an EndpointSlice does not repeat an address and port,
and a repeated ``server`` would put the same pod on the ring twice.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Endpoint

_BRACKETED = re.compile(r"\[([^\[\]]*)\]:(.*)")


def parse_endpoint(text: str, option: str = "--endpoints") -> Endpoint:
    """Parse one ``IPv4:PORT`` or ``[IPv6]:PORT``.

    Args:
        text: the endpoint.
        option: where it came from, for messages.

    Returns:
        The endpoint (IPv6 addresses in their compressed form).

    Raises:
        ConfigError: one line saying what is wrong and how to write it.
    """
    item = text.strip()
    bracketed = _BRACKETED.fullmatch(item)
    if bracketed:
        host, port_text = bracketed.groups()
        try:
            address = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ConfigError(
                f"{option}: {item!r}: {host!r} in brackets is not an IPv6 address"
            ) from None
    else:
        if item.count(":") > 1:
            raise ConfigError(
                f"{option}: {item!r}: write an IPv6 endpoint in brackets, e.g. [fd00::1]:8080"
            )
        host, sep, port_text = item.partition(":")
        if not sep or not host:
            raise ConfigError(f"{option}: {item!r} is not ADDRESS:PORT (e.g. 10.0.0.1:8080)")
        try:
            address = str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ConfigError(
                f"{option}: {item!r}: {host!r} is not an IPv4 address (endpoints are pod IPs)"
            ) from None
    special = _not_a_pod(ipaddress.ip_address(address))
    if special:
        raise ConfigError(f"{option}: {item!r}: {address} is {special}, not a pod's address")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{option}: {item!r}: port {port_text!r} is not in 1-65535")
    return Endpoint(address, int(port_text))


def _not_a_pod(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes ``address`` one no pod can have, or None.

    Kubernetes refuses the unspecified address in an EndpointSlice, and no connection goes
    to a broadcast or multicast address (loopback stays allowed: the local backend's pods
    live there).
    """
    if address.is_unspecified:
        return "the unspecified address"
    if address == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast address"
    if address.is_multicast:
        return "a multicast address"
    return None


def parse_endpoints(text: str, option: str = "--endpoints") -> list[Endpoint]:
    """Parse ``A:P,B:P,[v6]:P``: every item valid, none twice, at least one.

    Raises:
        ConfigError: the first bad item, a duplicate, or an empty list.
    """
    items = [piece.strip() for piece in text.split(",")]
    if not any(items):
        raise ConfigError(f"{option} is empty: give ADDRESS:PORT,ADDRESS:PORT,...")
    if not all(items):
        raise ConfigError(f"{option} {text!r} has an empty item: remove the extra comma")
    endpoints = [parse_endpoint(item, option) for item in items]
    check_unique(endpoints, option)
    return endpoints


def check_unique(endpoints: Iterable[Endpoint], option: str = "--endpoints") -> None:
    """Raise ConfigError naming the first endpoint given twice."""
    seen: set[Endpoint] = set()
    for endpoint in endpoints:
        if endpoint in seen:
            raise ConfigError(f"{option}: {endpoint} is listed twice; list each endpoint once")
        seen.add(endpoint)
