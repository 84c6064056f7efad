"""PageCache states with a fake clock: no sleeps."""

from __future__ import annotations

import pytest

from hellogo.cache import EXPIRED, HIT, MISS, PageCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_miss_then_hit(clock):
    cache: PageCache[str] = PageCache(ttl=100, clock=clock)
    key = ("hellogo.d.xiaomi.net", "/8080", False)
    assert cache.lookup(key) == (MISS, None)
    cache.store(key, "page")
    clock.now += 99.9
    assert cache.lookup(key) == (HIT, "page")


def test_expired_at_ttl_then_fresh_entry_hits(clock):
    cache: PageCache[str] = PageCache(ttl=100, clock=clock)
    key = ("h", "/", False)
    cache.store(key, "old")
    clock.now += 100
    assert cache.lookup(key) == (EXPIRED, None)
    cache.store(key, "new")
    assert cache.lookup(key) == (HIT, "new")
    clock.now += 100
    assert cache.lookup(key) == (EXPIRED, None)


def test_ttl_zero_expires_immediately(clock):
    cache: PageCache[str] = PageCache(ttl=0, clock=clock)
    cache.store("k", "v")
    assert cache.lookup("k") == (EXPIRED, None)


@pytest.mark.parametrize(
    "other",
    [
        ("other.example", "/a", False),  # host
        ("h.example", "/b", False),  # uri
        ("h.example", "/a?x=1", False),  # query is part of the uri
        ("h.example", "/a", True),  # representation
    ],
)
def test_keys_differ_by_host_uri_and_representation(clock, other):
    cache: PageCache[str] = PageCache(ttl=100, clock=clock)
    cache.store(("h.example", "/a", False), "text page")
    assert cache.lookup(other) == (MISS, None)
    assert cache.lookup(("h.example", "/a", False)) == (HIT, "text page")


def test_eviction_drops_the_oldest_stored(clock):
    cache: PageCache[int] = PageCache(ttl=100, max_entries=3, clock=clock)
    for i in range(3):
        cache.store(i, i)
        clock.now += 1
    cache.store(0, 0)  # storing again makes 0 the newest
    cache.store(3, 3)
    assert len(cache) == 3
    assert cache.lookup(1) == (MISS, None)
    assert [cache.lookup(k)[0] for k in (0, 2, 3)] == [HIT, HIT, HIT]


def test_bounded_size_under_many_keys(clock):
    cache: PageCache[int] = PageCache(ttl=100, max_entries=100, clock=clock)
    for i in range(10_000):
        cache.store(("h", f"/{i}", False), i)
    assert len(cache) == 100
    assert cache.lookup(("h", "/9999", False)) == (HIT, 9999)
    assert cache.lookup(("h", "/9899", False)) == (MISS, None)


def test_max_entries_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        PageCache(ttl=1, max_entries=0)
