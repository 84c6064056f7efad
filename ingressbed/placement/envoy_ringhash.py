"""Envoy's ring hash (``envoy.load_balancing_policies.ring_hash``): Contour and Istio
(pure, no I/O).

The rules, as Envoy 1.39 builds the ring with its defaults (xxHash, no hostname hashing):

1. The hosts are taken in host-set order (the order of the endpoint list, NOT sorted) with
   normalized weights ``n_i = w_i / sum(w)``.
2. ``scale = min(ceil(min(n) * min_ring_size) / min(n), max_ring_size)``; the ring holds
   ``ceil(scale)`` entries.
3. Two running sums start at 0.0. For each host, ``target += scale * n_i``; while
   ``current < target`` the host gets the entry ``XXH64(key + "_" + str(i))`` for
   ``i = 0, 1, ...`` and ``current`` grows by one. The key is ``IP:PORT``, as for Maglev.
4. The entries are sorted by hash. A request with hash ``h`` goes to the first entry whose
   hash is ``>= h``, the first entry of all when ``h`` is above every entry.

With N equal hosts each gets ``ceil(1024 / N)`` entries: 171 for 6 hosts (a ring of 1026),
147 for 7 (1029), which Envoy's ``ring_hash_lb.size`` gauge shows.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

import xxhash

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_address import host_key
from ingressbed.vocabulary import Endpoint

#: Envoy's default smallest ring.
DEFAULT_MIN_RING_SIZE = 1024
#: Envoy's default (and largest) ring.
DEFAULT_MAX_RING_SIZE = 8 * 1024 * 1024
_SPACE = 1 << 64


def build_ring(
    keys: Sequence[str], weights: Sequence[int], min_ring_size: int, max_ring_size: int
) -> list[tuple[int, int]]:
    """The ring's entries for hosts taken in the order given, sorted by hash.

    Args:
        keys: host keys, in host-set order.
        weights: their weights (each >= 1).
        min_ring_size: Envoy's ``minimum_ring_size``.
        max_ring_size: Envoy's ``maximum_ring_size``.

    Returns:
        ``(hash, host index)`` pairs, ascending by hash.
    """
    total = float(sum(weights))
    normalized = [weight / total for weight in weights]
    smallest = min(normalized)
    scale = min(math.ceil(smallest * min_ring_size) / smallest, float(max_ring_size))
    entries: list[tuple[int, int]] = []
    current = 0.0
    target = 0.0
    for index, key in enumerate(keys):
        target += scale * normalized[index]
        number = 0
        while current < target:
            entries.append((xxhash.xxh64_intdigest(f"{key}_{number}".encode()), index))
            number += 1
            current += 1
    entries.sort(key=lambda entry: entry[0])
    return entries


class HashRing:
    """The ring Envoy builds for one cluster's hosts."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        min_ring_size: int = DEFAULT_MIN_RING_SIZE,
        max_ring_size: int = DEFAULT_MAX_RING_SIZE,
        weights: Sequence[int] | None = None,
    ) -> None:
        """Build the ring.

        Args:
            endpoints: the cluster's healthy hosts, in host-set (EDS) order.
            min_ring_size: the smallest ring (Envoy's default 1024).
            max_ring_size: the largest ring (Envoy's default 8M).
            weights: per endpoint its weight (default 1 each).

        Raises:
            ConfigError: no endpoints, one listed twice, bad sizes or weights.
        """
        if not endpoints:
            raise ConfigError("no endpoints: give at least one ADDRESS:PORT")
        if len(set(endpoints)) != len(endpoints):
            raise ConfigError("an endpoint is listed twice; list each endpoint once")
        if not 1 <= min_ring_size <= max_ring_size <= DEFAULT_MAX_RING_SIZE:
            raise ConfigError(
                f"ring sizes min {min_ring_size}, max {max_ring_size}: Envoy takes "
                f"1 <= minimum <= maximum <= {DEFAULT_MAX_RING_SIZE}"
            )
        given = [1] * len(endpoints) if weights is None else list(weights)
        if len(given) != len(endpoints) or any(weight < 1 for weight in given):
            raise ConfigError("give one weight of at least 1 per endpoint")
        self.hosts: tuple[Endpoint, ...] = tuple(endpoints)
        self.weights: tuple[int, ...] = tuple(given)
        entries = build_ring(
            [host_key(host) for host in self.hosts], self.weights, min_ring_size, max_ring_size
        )
        self.hashes: list[int] = [value for value, _ in entries]
        self.owners: list[int] = [index for _, index in entries]

    @property
    def size(self) -> int:
        """Entries on the ring (Envoy's ``ring_hash_lb.size`` gauge)."""
        return len(self.hashes)

    def lookup(self, value: int) -> Endpoint:
        """The host for a request hash: the first entry at or above it, wrapping.

        Args:
            value: the unsigned 64-bit request hash.

        Returns:
            The host.
        """
        index = bisect_left(self.hashes, value)
        return self.hosts[self.owners[index if index < len(self.hashes) else 0]]

    def entries_per_host(self) -> dict[Endpoint, int]:
        """Ring entries per host (``ring_hash_lb.min/max_hashes_per_host``).

        Returns:
            Every host, in host-set order, with its entry count.
        """
        counts = Counter(self.owners)
        return {host: counts.get(index, 0) for index, host in enumerate(self.hosts)}

    def shares(self) -> dict[Endpoint, float]:
        """The share of the 64-bit hash space each host owns, exactly.

        An entry owns the hashes above the previous entry up to its own; the first entry
        also owns everything above the last one.

        Returns:
            Every host, in host-set order, with its share.
        """
        owned = [0] * len(self.hosts)
        previous = self.hashes[-1] - _SPACE
        for value, owner in zip(self.hashes, self.owners, strict=True):
            owned[owner] += value - previous
            previous = value
        return {host: owned[index] / _SPACE for index, host in enumerate(self.hosts)}
