"""The fast probe engine against httpx (the reference) on a real local bed."""

from __future__ import annotations

import pytest

from ingressbed import layouts, traffic
from ingressbed.backends.local import LocalBackend
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.options import BedOptions
from ingressbed.vocabulary import Address


@pytest.fixture(scope="module")
def hashed_bed():
    bed = LocalBackend(BedOptions(backend="local", quiet=True))
    bed.start()
    try:
        bed.apply(layouts.setup("three-ports", {"upstream-hash-by": "$binary_remote_addr"}))
        yield bed
    finally:
        bed.close()


@pytest.mark.slow
def test_both_engines_see_the_same_picks_statuses_and_cache(hashed_bed):
    token = traffic.urls(1)[0].split("/")[2]
    requests = [
        HttpRequest(f"/9090/{token}/{i % 7}", layouts.DEFAULT_HOST, client, route="/9090")
        for i, client in enumerate(traffic.clients(120, seed=3))
    ] + [HttpRequest("/nowhere", layouts.DEFAULT_HOST, "1.2.3.4")]  # nginx's own 404
    fast = probe(hashed_bed.address(), requests, concurrency=4, engine="fast")
    reference = probe(hashed_bed.address(), requests, concurrency=4, engine="httpx")

    def view(o):
        return (o.client, o.key, o.pod, o.pod_ip, o.port, o.status)

    assert [view(o) for o in fast] == [view(o) for o in reference]
    assert fast[-1].status == 404 and not fast[-1].pod
    # The fast engine ran first, so it filled the caches the reference then hits.
    assert {o.cache_status for o in reference[:-1]} == {"HIT"}


def test_a_dead_address_is_an_observation_not_an_exception():
    (observation,) = probe(Address("127.0.0.1", 1), [HttpRequest("/", "h")], timeout=2)
    assert observation.status == 0 and "Error" in observation.error
