"""The 32-bit hash functions HAProxy 2.6 balances with (pure arithmetic, no I/O).

``hash-type`` names one string function (``sdbm``, ``djb2``, ``wt6`` or ``crc32``) and
optionally ``avalanche``, Bob Jenkins' integer mix that HAProxy calls ``full_hash``. The
ring nodes of ``hash-type consistent`` are ``full_hash`` values too. All arithmetic is
unsigned 32-bit with wrap-around. See docs/placement.md, "HAProxy".
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

_MASK = 0xFFFFFFFF

#: The string hash functions ``hash-type`` accepts, by name.
FUNCTIONS: tuple[str, ...] = ("sdbm", "djb2", "wt6", "crc32")


def sdbm(data: bytes) -> int:
    """HAProxy's default string hash: ``h = c + (h << 6) + (h << 16) - h`` from 0."""
    h = 0
    for c in data:
        h = (c + (h << 6) + (h << 16) - h) & _MASK
    return h


def djb2(data: bytes) -> int:
    """Bernstein's hash: ``h = h * 33 + c`` from 5381."""
    h = 5381
    for c in data:
        h = (h * 33 + c) & _MASK
    return h


def _rotl(value: int, bits: int) -> int:
    bits &= 31
    return ((value << bits) | (value >> (32 - bits))) & _MASK if bits else value


def wt6(data: bytes) -> int:
    """Willy Tarreau's ``wt6``: two words with data-driven rotations."""
    h0, h1 = 0xA53C965A, 0x5CA6953A
    rot0, rot1 = 6, 18
    for t in data:
        h0 = ~(h0 ^ t) & _MASK
        h1 = ~(h1 + t) & _MASK
        h0, h1 = _rotl(h1, rot0), _rotl(h0, rot1)
        x = ((h0 >> 16) ^ h1) & 0xFFFF
        rot0, rot1 = x & 31, x >> 11
    return h0 ^ h1


def crc32(data: bytes) -> int:
    """The standard reflected CRC-32 (zlib's)."""
    return zlib.crc32(data)


def full_hash(a: int) -> int:
    """HAProxy's ``full_hash`` ("avalanche"): a bijection on 32-bit values.

    Args:
        a: an unsigned 32-bit value.

    Returns:
        The mixed value.
    """
    a &= _MASK
    a = (a + 0x7ED55D16 + (a << 12)) & _MASK
    a = (a ^ 0xC761C23C ^ (a >> 19)) & _MASK
    a = (a + 0x165667B1 + (a << 5)) & _MASK
    a = ((a + 0xD3A2646C) ^ (a << 9)) & _MASK
    a = (a + 0xFD7046C5 + (a << 3)) & _MASK
    a = (a ^ 0xB55A4F09 ^ (a >> 16)) & _MASK
    return (a * 3221225473) & _MASK


STRING_HASHES: dict[str, Callable[[bytes], int]] = {
    "sdbm": sdbm,
    "djb2": djb2,
    "wt6": wt6,
    "crc32": crc32,
}
