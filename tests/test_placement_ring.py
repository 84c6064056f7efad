"""Hash rings: cases derived by hand from the ring algorithm in docs/placement.md.

The reference computations here deliberately avoid the model's shortcuts: points are
CRC-32 of the whole node-plus-previous-point byte string, and the owner of a key is found
by scanning every point, not by bisection.
"""

from __future__ import annotations

import bisect
import itertools
import struct
import zlib

import pytest

from ingressbed.errors import ConfigError
from ingressbed.placement import POINTS_PER_WEIGHT, Ring, node_id, node_points
from ingressbed.vocabulary import Endpoint

SIX = [Endpoint(f"10.244.0.{i}", 8080) for i in range(2, 8)]


def reference_points(node: bytes, count: int = POINTS_PER_WEIGHT) -> list[int]:
    """Point k = crc32(node + le32(point k-1)), point 0 taken as 0, computed the long way."""
    points, previous = [], 0
    for _ in range(count):
        previous = zlib.crc32(node + struct.pack("<I", previous))
        points.append(previous)
    return points


def reference_owner(points: list[tuple[int, str]], key: bytes) -> str:
    """Scan all (point, owner) pairs: the smallest point >= crc32(key), else the smallest."""
    h = zlib.crc32(key)
    at_or_after = [pair for pair in points if pair[0] >= h]
    return min(at_or_after or points)[1]


def crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc_table()
TOP_BYTE = {entry >> 24: index for index, entry in enumerate(TABLE)}


def forge(prefix: bytes, target: int) -> bytes:
    """``prefix`` plus 4 bytes whose CRC-32 is ``target`` (CRC is invertible over 4 bytes).

    Walking back from the target state, the top byte of each state names the table entry
    used; walking forward, each appended byte is chosen to select that entry.
    """
    state = target ^ 0xFFFFFFFF
    indices = []
    for _ in range(4):
        index = TOP_BYTE[state >> 24]
        indices.append(index)
        state = ((state ^ TABLE[index]) << 8) & 0xFFFFFFFF
    state = zlib.crc32(prefix) ^ 0xFFFFFFFF
    tail = bytearray()
    for index in reversed(indices):
        byte = (state ^ index) & 0xFF
        tail.append(byte)
        state = TABLE[index] ^ (state >> 8)
    key = prefix + bytes(tail)
    assert zlib.crc32(key) == target
    return key


def test_point_one_and_two_by_hand() -> None:
    node = b"10.244.0.2:8080"
    # Point 1: the node followed by the initial "previous point" 0 as four bytes.
    p1 = zlib.crc32(b"10.244.0.2:8080\x00\x00\x00\x00")
    assert p1 == 1331058933  # pinned once computed: guards against an endianness change
    # Point 2: the node followed by point 1, little-endian.
    p2 = zlib.crc32(node + p1.to_bytes(4, "little"))
    assert node_points(node, 2) == [p1, p2]
    assert node_points(node, POINTS_PER_WEIGHT) == reference_points(node)


def test_node_ids_per_flavor() -> None:
    v4, v6 = Endpoint("10.244.0.2", 8080), Endpoint("fd00::1", 8080)
    assert node_id("ingress-nginx", v4) == b"10.244.0.2:8080"
    assert node_id("ingress-nginx", v6) == b"[fd00::1]:8080"  # IPv6 bracketed
    assert node_id("nginx", v4) == b"10.244.0.2\x008080"  # host NUL port
    assert node_id("nginx", v6) == b"[fd00::1]\x008080"  # server string split at last ':'
    ring = Ring.build("ingress-nginx", [v6])
    assert ring.points[0] == min(reference_points(b"[fd00::1]:8080"))
    with pytest.raises(ConfigError, match="unknown flavor"):
        node_id("haproxy", v4)


def test_one_endpoint_takes_everything() -> None:
    ring = Ring.build("ingress-nginx", SIX[:1])
    assert len(ring) == POINTS_PER_WEIGHT
    assert {ring.lookup(str(i).encode()) for i in range(200)} == {SIX[0]}


@pytest.mark.parametrize("flavor", ["ingress-nginx", "nginx"])
def test_lookup_matches_a_full_scan(flavor: str) -> None:
    ring = Ring.build(flavor, SIX[:3])
    points = [(p, str(e)) for e in SIX[:3] for p in reference_points(node_id(flavor, e))]
    for i in range(300):
        key = f"client-{i}".encode()
        assert str(ring.lookup(key)) == reference_owner(points, key)


def test_boundaries_with_forged_keys() -> None:
    # Two nodes, 320 points. Keys are forged to hash exactly onto chosen values.
    ring = Ring.build("ingress-nginx", SIX[:2])
    nodes = {node_id("ingress-nginx", e): e for e in SIX[:2]}
    owner_of = {p: e for node, e in nodes.items() for p in reference_points(node)}
    points = sorted(owner_of)
    lowest, highest = points[0], points[-1]
    # A key hashing exactly onto a point belongs to that point's node (">=", not ">").
    for point in points[100:110]:
        assert ring.lookup(forge(b"k", point)) == owner_of[point]
    # One past a point belongs to the next point's node.
    for a, b in itertools.pairwise(points[200:211]):
        if b > a + 1:
            assert ring.lookup(forge(b"k", a + 1)) == owner_of[b]
    # Beyond the last point the lookup wraps to the first; 0 also goes to the first.
    assert ring.lookup(forge(b"k", 0xFFFFFFFF)) == owner_of[lowest]
    assert ring.lookup(forge(b"k", highest + 1)) == owner_of[lowest]
    assert ring.lookup(forge(b"k", 0)) == owner_of[lowest]


def crc_before(data: bytes, crc_after: int) -> int:
    """The CRC-32 of a prefix, given the CRC-32 of prefix + ``data`` (walking back is exact
    when the bytes are known: the top byte of each state names the table entry)."""
    state = crc_after ^ 0xFFFFFFFF
    for byte in reversed(data):
        index = TOP_BYTE[state >> 24]
        state = (((state ^ TABLE[index]) << 8) & 0xFFFFFFFF) | (index ^ byte)
    return state ^ 0xFFFFFFFF


def test_colliding_points_nginx_drops_ingress_nginx_keeps() -> None:
    first = b"10.0.0.1:80"
    target = reference_points(first)[40]
    # A second node whose point 1 (crc32(node + 4 zero bytes)) equals point 41 of the first.
    twin = forge(b"twin-", crc_before(b"\0\0\0\0", target))
    assert reference_points(twin, 1) == [target]
    key = forge(b"key-", target)
    kept = Ring([first, twin], ["first", "twin"])
    dropped = Ring([first, twin], ["first", "twin"], drop_duplicates=True)
    assert len(kept) == 2 * POINTS_PER_WEIGHT
    assert len(dropped) == 2 * POINTS_PER_WEIGHT - 1
    # The node listed first owns the shared value: nginx's stable sort keeps it first and
    # drops the later one. (The Lua library's order comes from a table walk: unknowable.)
    assert kept.lookup(key) == dropped.lookup(key) == "first"
    assert Ring([twin, first], ["twin", "first"], drop_duplicates=True).lookup(key) == "twin"


def test_repeated_endpoint_counts_once() -> None:
    assert len(Ring.build("nginx", [SIX[0], SIX[0]])) == POINTS_PER_WEIGHT
    assert len(Ring.build("ingress-nginx", [SIX[0], SIX[0]])) == POINTS_PER_WEIGHT


def test_weights_multiply_points() -> None:
    ring = Ring.build("nginx", SIX[:2], weights={SIX[0]: 3})
    assert len(ring) == 4 * POINTS_PER_WEIGHT
    shares = ring.shares()
    assert shares[SIX[0]] > shares[SIX[1]]
    with pytest.raises(ConfigError, match="weight"):
        Ring.build("nginx", SIX[:2], weights={SIX[0]: 0})


def test_shares_sum_to_one_and_match_sampling() -> None:
    ring = Ring.build("ingress-nginx", SIX)
    shares = ring.shares()
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    # Uniform hashes: the sampled share of each node is binomial around its arc share.
    n = 20_000
    counts = dict.fromkeys(SIX, 0)
    for value in range(0, 1 << 32, (1 << 32) // n):
        counts[ring.lookup_hash(value)] += 1
    for endpoint, share in shares.items():
        # An evenly spaced grid is no noisier than random sampling: 4 sigma binomial.
        sigma = (share * (1 - share) / n) ** 0.5
        assert abs(counts[endpoint] / n - share) < 4 * sigma + 1e-3


def test_ports_and_flavors_give_unrelated_rings() -> None:
    other_port = [Endpoint(e.address, 9090) for e in SIX]
    a = Ring.build("ingress-nginx", SIX)
    b = Ring.build("ingress-nginx", other_port)
    assert not set(a.points) & set(b.points)
    keys = [f"10.1.{i // 250}.{i % 250}".encode() for i in range(3000)]
    same_port = sum(a.lookup(k).address == b.lookup(k).address for k in keys) / len(keys)
    nginx = Ring.build("nginx", SIX)
    same_flavor = sum(a.lookup(k) == nginx.lookup(k) for k in keys) / len(keys)
    # Independent rings agree about 1/6 of the time; 0.4 is far beyond 4 sigma (~0.03).
    assert same_port < 0.4
    assert same_flavor < 0.4


def test_bad_rings() -> None:
    with pytest.raises(ConfigError, match="no endpoints"):
        Ring.build("nginx", [])
    with pytest.raises(ConfigError, match="distinct"):
        Ring([b"a", b"a"], [1, 2])


def test_bucket_index_agrees_with_plain_bisection() -> None:
    # The ring bisects inside a bucket of the top hash bits; compare with the full list at
    # every bucket edge and around every point of a small ring.
    ring = Ring.build("nginx", SIX[:4])
    points = list(ring.points)
    owners = [ring.lookup_hash(p) for p in points]
    edges = [b << 22 for b in range(1 << 10)]  # 640 points -> 10 bucket bits
    values = {0, 0xFFFFFFFF, *edges, *(e - 1 for e in edges[1:])}
    values |= {p + d for p in points for d in (-1, 0, 1) if 0 <= p + d <= 0xFFFFFFFF}
    for value in values:
        index = bisect.bisect_left(points, value)
        assert ring.lookup_hash(value) == owners[index % len(points)]
