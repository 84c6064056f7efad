"""nginx's two non-ring hash methods: ``ip_hash`` and plain ``hash KEY`` (pure, no I/O).

Both pick a position in the weighted server list, in ``server`` order:

* ``ip_hash``: start at 89; for each byte of the client address (the first THREE bytes of
  an IPv4 address, all 16 of an IPv6 one) ``h = (h * 113 + byte) % 6271``; the server is
  the one covering ``h % total_weight`` when the servers' weights are laid end to end.
  Clients of one /24 share a server.
* ``hash KEY`` (without ``consistent``): ``((CRC-32(KEY) >> 16) & 0x7fff) % total_weight``,
  the Cache::Memcached rule. An empty key means round robin.

When the chosen server is marked ``down``, nginx tries again (at most 20 times, then round
robin): ``ip_hash`` runs its loop over the address bytes again from the current value;
``hash`` adds ``(CRC-32(str(n) + KEY) >> 16) & 0x7fff`` for the n-th retry to the sum so
far. With a single server every request goes to it.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Collection, Sequence

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Endpoint

#: nginx's ``upstream`` methods the model predicts, the default first.
METHODS: tuple[str, ...] = ("hash-consistent", "hash", "ip-hash")
#: Tries before nginx gives up hashing and balances round robin.
MAX_TRIES = 20


def _position(weights: Sequence[int], value: int) -> int:
    w = value % sum(weights)
    for index, weight in enumerate(weights):
        if w < weight:
            return index
        w -= weight
    raise AssertionError("unreachable: w < total weight")


def ip_hash_bytes(client_ip: str) -> bytes:
    """The address bytes ``ip_hash`` reads: 3 for IPv4, 16 for IPv6.

    Raises:
        ConfigError: no address, or text that is not one.
    """
    if not client_ip:
        raise ConfigError(
            "ip_hash reads the client address but the request has none: give --client-ip "
            "(or client_ip in a --batch line)"
        )
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        raise ConfigError(f"client_ip {client_ip!r} is not an IPv4 or IPv6 address") from None
    return address.packed[:3] if address.version == 4 else address.packed


def ip_hash_pick(
    endpoints: Sequence[Endpoint],
    weights: Sequence[int],
    client_ip: str,
    down: Collection[Endpoint] = (),
) -> Endpoint | None:
    """The server ``ip_hash`` picks for a client.

    Args:
        endpoints: the ``server`` lines' endpoints, in order.
        weights: their weights.
        client_ip: the client address (after realip).
        down: servers marked ``down``.

    Returns:
        The endpoint; None when 20 tries found only ``down`` servers (round robin).

    Raises:
        ConfigError: a missing or invalid client address.
    """
    data = ip_hash_bytes(client_ip)
    if len(endpoints) == 1:
        return endpoints[0]
    value = 89
    for _ in range(MAX_TRIES + 1):
        for byte in data:
            value = (value * 113 + byte) % 6271
        chosen = endpoints[_position(weights, value)]
        if chosen not in down:
            return chosen
    return None


def hash_pick(
    endpoints: Sequence[Endpoint],
    weights: Sequence[int],
    key: bytes,
    down: Collection[Endpoint] = (),
) -> Endpoint | None:
    """The server plain ``hash KEY`` picks for an evaluated key.

    Args:
        endpoints: the ``server`` lines' endpoints, in order.
        weights: their weights.
        key: the evaluated key.
        down: servers marked ``down``.

    Returns:
        The endpoint; None for round robin (an empty key with several servers, or 20
        tries that found only ``down`` servers).
    """
    if len(endpoints) == 1:
        return endpoints[0]
    if not key:
        return None
    total = 0
    for rehash in range(MAX_TRIES + 1):
        prefix = str(rehash).encode() if rehash else b""
        total += (zlib.crc32(prefix + key) >> 16) & 0x7FFF
        chosen = endpoints[_position(weights, total)]
        if chosen not in down:
            return chosen
    return None
