"""Consistent hash rings of ingress-nginx's Lua balancer and of nginx's ``hash ... consistent``.

Both data planes build the same kind of ring (docs/placement.md, "Two flavors, one ring"):

* every node gets 160 points per unit of weight;
* point 1 is CRC-32 of the node bytes followed by four zero bytes, point k is CRC-32 of the
  node bytes followed by point k-1 as four little-endian bytes;
* points are sorted, and a key goes to the first point whose value is >= CRC-32(key),
  wrapping to the first point past the end.

They differ in the node bytes (``address:port`` with IPv6 in brackets for ingress-nginx,
``host NUL port`` for nginx) and in duplicate points: nginx drops repeated values, the Lua
library keeps them. Where two different nodes share a point value, this model lets the node
listed first win; nginx does the same (its sort is stable on glibc), while the Lua library's
order comes from a Lua table walk and cannot be known. With 160 points per node such ties
touch about one key in 10^5 on a 1,000-node ring and far fewer on small rings.
"""

from __future__ import annotations

import re
import struct
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import lru_cache
from itertools import accumulate
from typing import Generic, TypeVar

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Endpoint

#: Points a node gets per unit of weight, in both rings.
POINTS_PER_WEIGHT = 160


class RingKind(StrEnum):
    """The two CRC-32 rings the model reproduces, named by the flavor that uses them."""

    LUA = "ingress-nginx"  # lua-resty-balancer's chash: nodes ``address:port``, ties kept
    NGINX = "nginx"  # nginx's ``hash ... consistent``: nodes ``host NUL port``, ties dropped


#: The two flavors of the model that hash onto a CRC-32 ring.
FLAVORS: tuple[str, ...] = tuple(kind.value for kind in RingKind)

_HASH_SPACE = 1 << 32
_LOW32 = _HASH_SPACE - 1
_PACK_LE32 = struct.Struct("<I").pack
# ingress-nginx leaves an address bare only when it looks like dotted IPv4 (the dots of its
# Lua pattern match any character); everything else gets brackets.
_DOTTED = re.compile(r"\d+.\d+.\d+.\d+")

T = TypeVar("T")


def check_flavor(flavor: str) -> str:
    """Return ``flavor`` when the model knows it.

    Args:
        flavor: ``"ingress-nginx"`` or ``"nginx"``.

    Returns:
        The same string.

    Raises:
        ConfigError: for any other value.
    """
    if flavor not in FLAVORS:
        raise ConfigError(f"unknown flavor {flavor!r}: use one of {', '.join(FLAVORS)}")
    return flavor


def node_id(flavor: str, endpoint: Endpoint) -> bytes:
    """The bytes a data plane hashes to place ``endpoint`` on its ring.

    Args:
        flavor: ``"ingress-nginx"`` (``address:port``, IPv6 in brackets) or ``"nginx"``
            (the ``server`` string split at its port: ``host`` NUL ``port``).

    Returns:
        The node bytes.

    Raises:
        ConfigError: for an unknown flavor.
    """
    address = endpoint.address
    if check_flavor(flavor) == RingKind.LUA:
        host = address if _DOTTED.fullmatch(address) else f"[{address}]"
        return f"{host}:{endpoint.port}".encode()
    host = f"[{address}]" if ":" in address else address
    return host.encode() + b"\0" + str(endpoint.port).encode()


def node_points(node: bytes, count: int) -> list[int]:
    """The first ``count`` ring points of a node, in the order they are generated.

    Args:
        node: the node bytes (see ``node_id``).
        count: how many points (160 per unit of weight).

    Returns:
        The point values, each an unsigned 32-bit integer.
    """
    base = zlib.crc32(node)  # zlib continues a CRC from this value: crc32(node + more)
    points: list[int] = []
    previous = 0
    for _ in range(count):
        previous = zlib.crc32(_PACK_LE32(previous), base)
        points.append(previous)
    return points


class Ring(Generic[T]):
    """A consistent hash ring whose nodes own values of type ``T``.

    Build one for endpoints with ``Ring.build``; ``lookup`` maps key bytes to the owner.
    """

    def __init__(
        self,
        ids: Sequence[bytes],
        owners: Sequence[T],
        weights: Sequence[int] | None = None,
        *,
        drop_duplicates: bool = False,
    ) -> None:
        """Build a ring from node ids and the value each node stands for.

        Args:
            ids: node bytes, one per node, all distinct.
            owners: what ``lookup`` returns for each node, in the same order.
            weights: points multiplier per node (default 1 each).
            drop_duplicates: drop repeated point values as nginx does (the first kept).

        Raises:
            ConfigError: no nodes, mismatched lengths, repeated ids or a weight below 1.
        """
        weights = [1] * len(ids) if weights is None else list(weights)
        if not ids:
            raise ConfigError("a hash ring needs at least one endpoint")
        if len(owners) != len(ids) or len(weights) != len(ids):
            raise ConfigError("ring ids, owners and weights differ in length")
        if len(set(ids)) != len(ids):
            raise ConfigError("ring node ids must be distinct")
        packed: list[int] = []
        for index, (node, weight) in enumerate(zip(ids, weights, strict=True)):
            if not isinstance(weight, int) or weight < 1:
                raise ConfigError(f"weight of {node.decode(errors='replace')!r} must be >= 1")
            packed.extend(
                (point << 32) | index for point in node_points(node, weight * POINTS_PER_WEIGHT)
            )
        # Sorting on (value, node index) keeps equal values in node order: nginx's stable sort.
        packed.sort()
        if drop_duplicates:
            kept = [packed[0]]
            for value in packed[1:]:
                if value >> 32 != kept[-1] >> 32:
                    kept.append(value)
            packed = kept
        self.nodes: tuple[T, ...] = tuple(owners)
        self.weights: tuple[int, ...] = tuple(weights)
        # Packed arrays: smaller and friendlier to the CPU cache than lists of ints.
        self._points: array[int] = array("I", [value >> 32 for value in packed])
        # One extra slot holding the first owner makes the wrap-around free in ``lookup``.
        self._owners: list[T] = [owners[value & _LOW32] for value in packed]
        self._owners.append(self._owners[0])
        # Bucket index over the top bits of the hash: the first point >= h lies between
        # the starts of h's bucket and of the next one, so bisection scans a few points
        # instead of the whole (cache-unfriendly) list.
        bits = min(max(len(self._points).bit_length(), 8), 18)
        self._shift = 32 - bits
        counts = [0] * (1 << bits)
        for point in self._points:
            counts[point >> self._shift] += 1
        self._starts: array[int] = array("I", [0, *accumulate(counts)])

    @staticmethod
    def build(
        flavor: str,
        endpoints: Sequence[Endpoint],
        weights: Mapping[Endpoint, int] | None = None,
    ) -> Ring[Endpoint]:
        """The ring a data plane builds for an endpoint list.

        A repeated endpoint counts once (the controller de-duplicates endpoints; nginx
        merges the points of two identical ``server`` lines).

        Args:
            flavor: ``"ingress-nginx"`` or ``"nginx"``.
            endpoints: the upstream's endpoints, in the data plane's order.
            weights: optional weight per endpoint (default 1; ingress-nginx always uses 1).

        Returns:
            A ring whose ``lookup`` returns an ``Endpoint``.

        Raises:
            ConfigError: unknown flavor, no endpoints, or a weight below 1.
        """
        check_flavor(flavor)
        unique = tuple(dict.fromkeys(endpoints))
        if not unique:
            raise ConfigError("no endpoints: give at least one ADDRESS:PORT")
        chosen = tuple(1 if weights is None else weights.get(e, 1) for e in unique)
        return _build(flavor, unique, chosen)

    def lookup(self, key: bytes) -> T:
        """The owner of the first point at or after CRC-32(``key``), wrapping around.

        Args:
            key: the evaluated hash key.

        Returns:
            The node's owner (an ``Endpoint`` for rings from ``Ring.build``).
        """
        value = zlib.crc32(key)
        bucket = value >> self._shift
        starts = self._starts
        return self._owners[bisect_left(self._points, value, starts[bucket], starts[bucket + 1])]

    def lookup_hash(self, value: int) -> T:
        """Like ``lookup`` for an already computed 32-bit key hash.

        Args:
            value: CRC-32 of the key.

        Returns:
            The node's owner.
        """
        bucket = value >> self._shift
        starts = self._starts
        return self._owners[bisect_left(self._points, value, starts[bucket], starts[bucket + 1])]

    @property
    def points(self) -> tuple[int, ...]:
        """The ring's points.

        Returns:
            The sorted point values (duplicates dropped for the nginx flavor).
        """
        return tuple(self._points)

    def __len__(self) -> int:
        return len(self._points)

    def shares(self) -> dict[T, float]:
        """The share of the 32-bit hash space each node owns.

        A point owns the values after the previous point up to itself; the first point
        also owns everything after the last one. For uniformly spread keys this is the
        expected share of keys per node.

        Returns:
            Share per node, in node order; the shares sum to 1.
        """
        owned = dict.fromkeys(self.nodes, 0)
        previous = self._points[-1] - _HASH_SPACE
        for point, owner in zip(self._points, self._owners, strict=False):
            owned[owner] += point - previous
            previous = point
        return {node: count / _HASH_SPACE for node, count in owned.items()}


@lru_cache(maxsize=16)
def _build(
    flavor: str, endpoints: tuple[Endpoint, ...], weights: tuple[int, ...]
) -> Ring[Endpoint]:
    # Rings are never changed after construction, so repeated builds share one.
    ids = [node_id(flavor, e) for e in endpoints]
    return Ring(ids, endpoints, weights, drop_duplicates=flavor == RingKind.NGINX)
