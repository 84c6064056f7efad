"""Figures computed after the last line: remapping on scale up and down, keys as text."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ingressbed.accesslog.results import Moved
from ingressbed.placement import Ring

# The pod a scale-up adds is the one the synthetic analysis adds (the address after the
# last endpoint's), so both report remapping for the same change.
from ingressbed.placement.analysis import _fresh_endpoint as fresh_endpoint
from ingressbed.vocabulary import Endpoint


def show_key(key: bytes, *, binary_address: bool = False) -> str:
    """A key as one line of text.

    Args:
        key: the key bytes.
        binary_address: the key is ``$binary_remote_addr`` (4 or 16 raw bytes).

    Returns:
        The address for a binary address key; otherwise the key decoded as UTF-8 with
        undecodable bytes and unprintable characters escaped.
    """
    if binary_address and len(key) in (4, 16):
        return str(ipaddress.ip_address(key))
    text = key.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def moved_on_scale(
    flavor: str,
    endpoints: tuple[Endpoint, ...],
    ring: Ring[Endpoint],
    keys: list[bytes],
    counts: list[int],
) -> Moved:
    """Shares of keys and of requests whose pod changes on scale up and down.

    Args:
        flavor: the ring's flavor.
        endpoints: the current endpoints.
        ring: their ring.
        keys: the distinct keys.
        counts: requests per key, in the same order.

    Returns:
        The shares when ``fresh_endpoint`` is added and when the last endpoint is
        removed (None for the latter with one endpoint).
    """
    added = fresh_endpoint(endpoints)
    bigger = Ring.build(flavor, [*endpoints, added])
    smaller = Ring.build(flavor, endpoints[:-1]) if len(endpoints) > 1 else None
    total = sum(counts) or 1
    keys_add = requests_add = keys_remove = requests_remove = 0
    for key, count in zip(keys, counts, strict=True):
        before = ring.lookup(key)
        if bigger.lookup(key) != before:
            keys_add += 1
            requests_add += count
        if smaller is not None and smaller.lookup(key) != before:
            keys_remove += 1
            requests_remove += count
    distinct = len(keys) or 1
    return Moved(
        added=str(added),
        keys_on_add=keys_add / distinct,
        requests_on_add=requests_add / total,
        removed=str(endpoints[-1]) if smaller is not None else None,
        keys_on_remove=keys_remove / distinct if smaller is not None else None,
        requests_on_remove=requests_remove / total if smaller is not None else None,
    )


def moved_by_picks(
    endpoints: tuple[Endpoint, ...],
    added: Endpoint,
    picks: Sequence[tuple[Endpoint | None, Endpoint | None, Endpoint | None]],
    counts: list[int],
) -> Moved:
    """``moved_on_scale`` for a data plane without a ring, from each key's picks.

    Args:
        endpoints: the current endpoints.
        added: the endpoint the scale-up adds (``fresh_endpoint(endpoints)``).
        picks: per key, its endpoint now, with ``added`` after the others, and with the
            last endpoint removed (None with one endpoint); a key's requests must all
            share these picks (the caller checks).
        counts: requests per key, in the same order.

    Returns:
        The shares of keys and of requests whose endpoint changes.
    """
    removing = len(endpoints) > 1
    total = sum(counts) or 1
    keys_add = requests_add = keys_remove = requests_remove = 0
    for (now, bigger, smaller), count in zip(picks, counts, strict=True):
        if bigger != now:
            keys_add += 1
            requests_add += count
        if removing and smaller != now:
            keys_remove += 1
            requests_remove += count
    distinct = len(counts) or 1
    return Moved(
        added=str(added),
        keys_on_add=keys_add / distinct,
        requests_on_add=requests_add / total,
        removed=str(endpoints[-1]) if removing else None,
        keys_on_remove=keys_remove / distinct if removing else None,
        requests_on_remove=requests_remove / total if removing else None,
    )
