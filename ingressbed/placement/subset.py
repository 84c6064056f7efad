"""Subset hashing of ingress-nginx (``upstream-hash-by-subset``).

The controller cuts its endpoint list into consecutive groups of ``size`` endpoints named
``set1``, ``set2``, ...; when the list does not divide evenly the last group is filled up
by starting over from the head of the list. The ring's nodes are the group NAMES (weight
1 each), so the key picks a group; the balancer then takes a member uniformly at random
on every request. A key therefore sticks to ``size`` pods, never to one.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingressbed.errors import ConfigError
from ingressbed.placement.keys import KeyExpr
from ingressbed.placement.ring import Ring
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

#: Default of ``upstream-hash-by-subset-size``.
DEFAULT_SUBSET_SIZE = 3


def subset_groups(
    endpoints: Sequence[Endpoint], size: int = DEFAULT_SUBSET_SIZE
) -> dict[str, tuple[Endpoint, ...]]:
    """The groups the controller builds, by name.

    Args:
        endpoints: endpoints in the order the controller holds them.
        size: group size (``upstream-hash-by-subset-size``).

    Returns:
        ``{"set1": (...), "set2": (...), ...}``; every group has exactly ``size``
        members, the last one padded with endpoints taken again from the start.

    Raises:
        ConfigError: no endpoints, or a size below 1.
    """
    if not isinstance(size, int) or size < 1:
        raise ConfigError(f"subset size must be a whole number >= 1, not {size!r}")
    if not endpoints:
        raise ConfigError("no endpoints: give at least one ADDRESS:PORT")
    count = -(-len(endpoints) // size)  # ceiling division
    # Padding reuses the head of the list, and cycles again when size > len(endpoints).
    padded = [endpoints[i % len(endpoints)] for i in range(count * size)]
    return {
        f"set{number + 1}": tuple(padded[number * size : (number + 1) * size])
        for number in range(count)
    }


class SubsetRing:
    """A ring over group names that maps a key to a group of endpoints."""

    def __init__(self, groups: dict[str, tuple[Endpoint, ...]]) -> None:
        """Place the groups on a ring under their names.

        Args:
            groups: as returned by ``subset_groups``.

        Raises:
            ConfigError: no groups.
        """
        self.groups = dict(groups)
        self.ring: Ring[str] = Ring([name.encode() for name in groups], list(groups))

    @classmethod
    def build(cls, endpoints: Sequence[Endpoint], size: int = DEFAULT_SUBSET_SIZE) -> SubsetRing:
        """Group ``endpoints`` and place the groups on a ring.

        Args:
            endpoints: endpoints in the controller's order.
            size: group size.

        Returns:
            The subset ring.

        Raises:
            ConfigError: no endpoints, or a size below 1.
        """
        return cls(subset_groups(endpoints, size))

    def group_name(self, key: bytes) -> str:
        """The name of the group a key goes to.

        Args:
            key: the evaluated hash key.

        Returns:
            ``set1``, ``set2``, ...
        """
        return self.ring.lookup(key)

    def lookup(self, key: bytes) -> tuple[Endpoint, ...]:
        """The group ``key`` goes to.

        Args:
            key: the evaluated hash key.

        Returns:
            The group's members.
        """
        return self.groups[self.ring.lookup(key)]


def predict_subset(
    endpoints: Sequence[Endpoint],
    hash_by: str,
    request: Request,
    *,
    size: int = DEFAULT_SUBSET_SIZE,
    controller_version: str | None = None,
) -> tuple[Endpoint, ...]:
    """The group of endpoints ingress-nginx may send ``request`` to under subset hashing.

    Args:
        endpoints: endpoints in the controller's order.
        hash_by: the ``upstream-hash-by`` annotation.
        request: the request.
        size: ``upstream-hash-by-subset-size``.
        controller_version: ingress-nginx release (``None``: the pinned one).

    Returns:
        The group; every request with the same key lands on one of these, at random.

    Raises:
        ConfigError: bad endpoints, size or expression, or a request lacking what the
            key reads.
    """
    key = KeyExpr(hash_by, controller_version=controller_version).evaluate(request)
    return SubsetRing.build(list(dict.fromkeys(endpoints)), size).lookup(key)
