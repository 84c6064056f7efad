"""Addresses as Envoy writes and reads them (pure: text in, text out).

- An IPv6 address is printed the way ``inet_ntop`` prints it, which Envoy uses: compressed,
  lowercase, an IPv4-mapped address with its last 32 bits dotted (``::ffff:10.1.2.3``).
  Python's ``ipaddress`` prints the mapped form differently, so this module does not use it
  for text.
- A host's key (Maglev and ring hash) is ``IP:PORT``, IPv6 as ``[IP]:PORT``.
- An address read from a header (X-Forwarded-For) must be a bare IP, as Envoy parses it:
  ``1.2.3.4:80``, ``[::1]`` and names are not addresses.
"""

from __future__ import annotations

import socket

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Endpoint


def parse_ip(text: str) -> str | None:
    """An IP address in Envoy's text form, or None if ``text`` is not a bare IP.

    Args:
        text: the candidate, already trimmed.

    Returns:
        The dotted quad, or the ``inet_ntop`` form of an IPv6 address; None for anything
        else (a port, brackets, a name, leading zeros in a dotted quad).
    """
    if ":" in text:
        try:
            return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
        except (OSError, ValueError):
            return None
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):
        return None


def host_key(endpoint: Endpoint) -> str:
    """The key Envoy hashes for a host: ``IP:PORT``, ``[IPv6]:PORT``.

    Args:
        endpoint: the host.

    Returns:
        The key.
    """
    if ":" in endpoint.address:
        return f"[{parse_ip(endpoint.address) or endpoint.address}]:{endpoint.port}"
    return f"{endpoint.address}:{endpoint.port}"


def split_peer(text: str, what: str = "peer") -> tuple[str, int | None]:
    """Read a connection address, ``IP``, ``IP:PORT`` or ``[IPv6]:PORT``.

    Args:
        text: the address.
        what: its name, for the message.

    Returns:
        The IP in Envoy's text form and the port (None when not given).

    Raises:
        ConfigError: not an address.
    """
    item = text.strip()
    bad = f"{what} {text!r} is not IP, IP:PORT or [IPv6]:PORT"
    host, port = item, None
    if item.startswith("["):
        host, sep, rest = item[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ConfigError(bad)
        port = rest[1:]
    elif item.count(":") == 1:  # IPv4:PORT (a bare IPv6 address has two colons or more)
        host, _, port = item.partition(":")
    ip = parse_ip(host)
    if ip is None:
        raise ConfigError(bad)
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ConfigError(f"{what} {text!r}: port {port!r} is not in 1-65535")
    return ip, int(port) if port else None


def join_address(ip: str, port: int) -> str:
    """``IP:PORT`` the way Envoy prints a socket address (``[IPv6]:PORT``).

    Args:
        ip: the IP in Envoy's text form.
        port: the port.

    Returns:
        The address text.
    """
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
