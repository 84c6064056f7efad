"""Envoy's Maglev table: which host owns each of the M slots (pure, no I/O).

The rules, as Envoy 1.39 builds the table (``envoy.load_balancing_policies.maglev``):

1. A host's key is its address as text, ``IP:PORT`` (``[v6]:PORT``): Envoy Gateway sets
   neither ``hash_key`` metadata nor hostname hashing.
2. The hosts are sorted by key, byte by byte, so the order of the endpoint list does not
   matter. Byte order is not numeric order: ``127.0.0.100:80`` < ``127.0.0.10:80`` <
   ``127.0.0.2:80`` (``0`` sorts before ``:``).
3. Each host starts at ``offset = XXH64(key, seed 0) mod M`` and steps by
   ``skip = XXH64(key, seed 1) mod (M - 1) + 1``.
4. With normalized weights ``n_i = w_i / sum(w)`` and ``top = max(n_i)``, rounds
   ``k = 1, 2, ...`` walk the sorted hosts until the table is full; a host takes part in a
   round unless ``k * n_i < target_i``, and then adds ``top`` to its target and takes its
   next free preferred slot ``(offset + skip * next) mod M``.
5. A request with hash ``h`` (unsigned 64 bits) goes to ``table[h mod M]``.

With equal weights this deals the slots round robin: the first ``M mod N`` hosts in key
order get ``ceil(M/N)`` slots, the rest ``floor(M/N)`` (for 6 hosts and M = 65537: five
hold 10923, one 10922), which is what Envoy's ``maglev_lb.min/max_entries_per_host``
gauges show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import xxhash

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_address import host_key
from ingressbed.vocabulary import Endpoint

#: Envoy's default table size (and Envoy Gateway's CRD default).
DEFAULT_TABLE_SIZE = 65537
#: The largest table size Envoy accepts.
MAX_TABLE_SIZE = 5000011


def is_prime(number: int) -> bool:
    """Whether ``number`` is prime (trial division; table sizes stay below 5,000,012).

    Args:
        number: the candidate.

    Returns:
        True for a prime.
    """
    if number < 2:
        return False
    if number % 2 == 0:
        return number == 2
    divisor = 3
    while divisor * divisor <= number:
        if number % divisor == 0:
            return False
        divisor += 2
    return True


def check_table_size(size: int, what: str = "table size") -> int:
    """The table size if Envoy accepts it.

    Args:
        size: the size.
        what: how the caller names it, for the message (``--table-size``).

    Returns:
        ``size``.

    Raises:
        ConfigError: not a prime, or above 5000011.
    """
    if not is_prime(size):
        raise ConfigError(
            f'{what} {size} is not a prime number: Envoy refuses it ("The table size of '
            f'maglev must be prime number"); use e.g. 65537, 257 or 13'
        )
    if size > MAX_TABLE_SIZE:
        raise ConfigError(f"{what} {size} is above Envoy's limit of {MAX_TABLE_SIZE}")
    return size


def build_table(
    keys: Sequence[str],
    weights: Sequence[int],
    size: int,
    *,
    offset_seed: int = 0,
    skip_seed: int = 1,
) -> list[int]:
    """Fill a Maglev table, hosts taken in the order given.

    ``MaglevTable`` sorts the keys first, as Envoy does; this function does not, so a test
    can build the table the way a wrong model would.

    Args:
        keys: host keys, in the order the fill walks them.
        weights: their weights (each >= 1).
        size: the table size M (prime, checked by the caller).
        offset_seed: XXH64 seed of the offset (Envoy: 0).
        skip_seed: XXH64 seed of the skip (Envoy: 1).

    Returns:
        For each slot, the index (into ``keys``) of the host that owns it.
    """
    count = len(keys)
    total = float(sum(weights))
    normalized = [weight / total for weight in weights]
    top = max(normalized)
    offsets = [xxhash.xxh64_intdigest(key.encode(), offset_seed) % size for key in keys]
    skips = [xxhash.xxh64_intdigest(key.encode(), skip_seed) % (size - 1) + 1 for key in keys]
    nexts = [0] * count
    targets = [0.0] * count
    table = [-1] * size
    filled = 0
    iteration = 1
    while filled < size:
        for index in range(count):
            if filled >= size:
                break
            if iteration * normalized[index] < targets[index]:
                continue
            targets[index] += top
            offset, skip = offsets[index], skips[index]
            slot = (offset + skip * nexts[index]) % size
            while table[slot] >= 0:
                nexts[index] += 1
                slot = (offset + skip * nexts[index]) % size
            table[slot] = index
            nexts[index] += 1
            filled += 1
        iteration += 1
    return table


class MaglevTable:
    """The Maglev table Envoy builds for one cluster's hosts."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        size: int = DEFAULT_TABLE_SIZE,
        weights: Sequence[int] | None = None,
    ) -> None:
        """Sort the hosts by key and fill the table.

        Args:
            endpoints: the cluster's healthy hosts, in any order.
            size: the table size M (prime, at most 5000011).
            weights: per endpoint its weight (default 1 each; Envoy Gateway always sets 1).

        Raises:
            ConfigError: no endpoints, one listed twice, a bad size or weight.
        """
        if not endpoints:
            raise ConfigError("no endpoints: give at least one ADDRESS:PORT")
        if len(set(endpoints)) != len(endpoints):
            raise ConfigError("an endpoint is listed twice; list each endpoint once")
        self.size = check_table_size(size)
        given = [1] * len(endpoints) if weights is None else list(weights)
        if len(given) != len(endpoints):
            raise ConfigError(f"{len(given)} weights for {len(endpoints)} endpoints")
        if any(weight < 1 for weight in given):
            raise ConfigError("a weight is below 1; Envoy's endpoint weights start at 1")
        order = sorted(range(len(endpoints)), key=lambda i: host_key(endpoints[i]).encode())
        #: The hosts in the order Envoy fills the table (sorted by key bytes).
        self.hosts: tuple[Endpoint, ...] = tuple(endpoints[i] for i in order)
        self.weights: tuple[int, ...] = tuple(given[i] for i in order)
        self.table: list[int] = build_table(
            [host_key(host) for host in self.hosts], self.weights, self.size
        )

    def lookup(self, value: int) -> Endpoint:
        """The host for a request hash.

        Args:
            value: the unsigned 64-bit request hash.

        Returns:
            ``table[value mod M]``.
        """
        return self.hosts[self.table[value % self.size]]

    def entries_per_host(self) -> dict[Endpoint, int]:
        """Slots per host (Envoy's ``maglev_lb.min/max_entries_per_host`` gauges).

        Returns:
            Every host, in key order, with its slot count (0 if it got none).
        """
        counts = Counter(self.table)
        return {host: counts.get(index, 0) for index, host in enumerate(self.hosts)}

    def shares(self) -> dict[Endpoint, float]:
        """The share of the hash space each host owns: slots / M.

        Returns:
            Every host, in key order, with its share.
        """
        return {host: count / self.size for host, count in self.entries_per_host().items()}
