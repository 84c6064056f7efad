"""The fake backend: the layers above a backend run on it unchanged, in-process.

It is tested as what it is (a stand-in for the layers above); the real data planes have
their own tests (test_local_*.py and the e2e suite).
"""

from __future__ import annotations

import httpx
import pytest

from ingressbed import expect, layouts, traffic
from ingressbed.backends.base import Backend
from ingressbed.backends.bringup import describe_all
from ingressbed.backends.fake import FakeBackend
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.errors import ConfigError
from ingressbed.model import Model
from ingressbed.vocabulary import HTTP_PORT, DataPlane, Flavor

HOST = layouts.DEFAULT_HOST
IP_HASH = {"upstream-hash-by": "$binary_remote_addr"}


def test_it_is_a_backend_and_its_plan_is_its_steps():
    bed = FakeBackend()
    assert isinstance(bed, Backend)
    assert describe_all(bed.bring_up()).startswith("1. Starting the fake data plane\n    ")


@pytest.mark.parametrize("flavor", [Flavor.INGRESS_NGINX, Flavor.NGINX])
def test_hash_picks_agree_with_the_model_and_are_sticky(flavor):
    clients = traffic.clients(200, seed=3)
    with FakeBackend(flavor) as bed:
        bed.apply(layouts.setup("one-port", IP_HASH))
        requests = [HttpRequest("/8080/x", HOST, c, route="/8080") for c in clients * 2]
        observations = probe(bed.address(), requests, concurrency=4)
        expect.all_answered(observations)
        expect.sticky(observations)
        expect.agrees(expect.model(bed, (HTTP_PORT,), "$binary_remote_addr"), observations)


def test_a_check_fails_on_a_balancer_that_misbehaves():
    """A random pick per request: stickiness must fail, with the evidence."""
    turn = iter(range(10**6))

    def scatter(request, port, endpoints):
        return endpoints[next(turn) % len(endpoints)]

    with FakeBackend(pick=scatter) as bed:
        bed.apply(layouts.setup("one-port", IP_HASH))
        requests = [HttpRequest("/8080/x", HOST, c, route="/8080") for c in ["10.0.0.1"] * 6]
        observations = probe(bed.address(), requests, concurrency=1)
        with pytest.raises(AssertionError, match=r"same_pod .*\n.*6 pod\(s\)"):
            expect.sticky(observations)


@pytest.mark.parametrize("plane", [p.value for p in DataPlane])
def test_model_picks_fail_when_the_fake_misplaces_on_purpose(plane):
    """Every plane's model_picks holds on the fake, and fails once its ``pick=`` misplaces."""
    key = "$binary_remote_addr"
    clients = traffic.clients(24, seed=5)
    requests = [HttpRequest(f"/8080/p{i}", HOST, c, route="/8080") for i, c in enumerate(clients)]
    with FakeBackend(plane) as bed:
        bed.apply(layouts.setup("one-port", IP_HASH))
        expect.agrees(expect.model(bed, (HTTP_PORT,), key), probe(bed.address(), requests))

    def off_by_one(request, port, endpoints):
        # the model's own pick, moved one place on: every answer is off the model
        chosen = Model.for_key(plane, {port: endpoints}, key).pick(port, request).exact
        assert chosen is not None
        return endpoints[(endpoints.index(chosen) + 1) % len(endpoints)]

    with FakeBackend(plane, pick=off_by_one) as bed:
        bed.apply(layouts.setup("one-port", IP_HASH))
        observations = probe(bed.address(), requests)
        with pytest.raises(AssertionError, match=r"0 of 24 picks as predicted"):
            expect.agrees(expect.model(bed, (HTTP_PORT,), key), observations)


@pytest.mark.parametrize("plane", ["ingress-nginx", "haproxy:pod-ids"])
def test_cookie_sessions_stick(plane):
    with FakeBackend(plane, seed=1) as bed:
        bed.apply(layouts.setup("one-port", {"affinity": "cookie"}))
        url = bed.address().base_url + "/8080/a"
        answer = httpx.get(url, headers={"Host": HOST})
        cookie = answer.headers["set-cookie"].split(";")[0]
        pods = {
            httpx.get(url, headers={"Host": HOST, "Cookie": cookie}).headers["x-pod-name"]
            for _ in range(10)
        }
        assert pods == {answer.headers["x-pod-name"]}  # the cookie pins its pod


def test_page_cache_scale_and_kill_behave_as_a_deployment():
    with FakeBackend() as bed:
        bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}, replicas=3))
        urls = [HttpRequest(u, HOST, route="/8080") for u in traffic.urls(30, "/8080")]
        first = probe(bed.address(), urls)
        second = probe(bed.address(), urls)
        expect.cache_status(first, every="MISS")
        expect.cache_status(second, every="HIT")
        bed.scale(4)
        assert len(bed.pods()) == 4
        victim = bed.pods()[0]
        bed.kill(victim.name)
        names = {p.name for p in bed.pods()}
        assert victim.name not in names and len(names) == 4


def test_setups_it_cannot_serve_are_refused_by_name():
    with FakeBackend() as bed, pytest.raises(ConfigError, match="lacks ewma"):
        bed.apply(layouts.setup("one-port", {"load-balance": "ewma"}))
    with FakeBackend("nginx") as bed, pytest.raises(ConfigError, match="lacks cookie-affinity"):
        bed.apply(layouts.setup("one-port", {"affinity": "cookie"}))
