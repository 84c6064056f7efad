"""Incident 2: hashing by URL so that per-pod page caches hit.

Each hellogo pod caches GET answers per (host, URI) for 100 s and says so in
``X-Cache-Status``. A second pass over a URL set (in another order) hits the cache only
where the balancer sends each URL back to the pod that served it the first time:
always under ``$request_uri`` or ``$host$request_uri`` hashing, about 1/N of the time
under round robin. Hashing by ``$host`` alone keeps every URL of a host on one pod.
The URL tests need a data plane that hashes on the key as written (``hash-key``): nginx's
``ip_hash`` reads only the client address.
"""

from __future__ import annotations

import random

import pytest

from ingressbed import expect, layouts, measure, traffic
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.vocabulary import HTTP_PORT, Capability

HOSTS = ("www.example.test", "shop.example.test", "m.example.test")
URLS_PER_HOST = 100


def url_set():
    """Fresh URLs (unique to this call, so no earlier cache entry counts) on three hosts."""
    return [
        HttpRequest(url, host, route="/8080")
        for index, host in enumerate(HOSTS)
        for url in traffic.urls(URLS_PER_HOST, "/8080", seed=index)
    ]


def two_passes(bed, requests):
    first = probe(bed.address(), requests, concurrency=8)
    again = list(requests)
    random.Random(5).shuffle(again)
    second = probe(bed.address(), again, concurrency=8)
    expect.all_answered(first + second)
    assert {o.cache_status for o in first} == {"MISS"}, "first pass must start with cold caches"
    return first, second


@pytest.mark.needs(Capability.HASH_KEY)
@pytest.mark.parametrize("hash_by", ["$request_uri", "$host$request_uri"])
def test_hashing_by_url_makes_the_second_pass_hit(serve, hash_by):
    bed = serve(layouts.setup("one-port", {"upstream-hash-by": hash_by}, host=None))
    model = expect.model(bed, (HTTP_PORT,), hash_by)
    first, second = two_passes(bed, url_set())

    expect.sticky(first + second, per="url")
    expect.agrees(model, first + second)
    expect.cache_status(second, every="HIT")  # every URL hits the pod that cached it


def test_round_robin_second_pass_hits_about_one_in_n(serve):
    bed = serve(layouts.setup("one-port", host=None))
    first, second = two_passes(bed, url_set())

    pods = len(bed.pods())
    hits = sum(o.cache_status == "HIT" for o in second)
    # Under round robin the pod of a URL's second visit is independent of its first,
    # so each URL hits with probability 1/N. 5 sigmas: the visits of one pass are a
    # permutation, not independent draws.
    expect.within(hits, len(second), 1 / pods, "round-robin second-pass hits", sigmas=5)
    assert measure.spread(first).pods_used == pods, "round robin should use every pod"


@pytest.mark.needs(Capability.HASH_KEY)
def test_hashing_by_host_alone_puts_every_url_of_a_host_on_one_pod(serve):
    hosts = [f"site{i}.example.test" for i in range(12)]
    bed = serve(layouts.setup("one-port", {"upstream-hash-by": "$host"}, host=None))
    model = expect.model(bed, (HTTP_PORT,), "$host")
    requests = [
        HttpRequest(url, host, route="/8080")
        for index, host in enumerate(hosts)
        for url in traffic.urls(25, "/8080", seed=100 + index)
    ]
    observations = probe(bed.address(), requests, concurrency=8)
    expect.all_answered(observations)

    expect.sticky(observations, per="host")
    expect.agrees(model, observations)
    load = measure.spread(observations, [p.name for p in bed.pods()])
    # Whole hosts, not URLs, are spread: every pod's load is a multiple of a host's.
    assert all(count % 25 == 0 for count in load.counts.values()), load.counts
