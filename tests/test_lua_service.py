"""service-upstream on the local ingress-nginx plane: a Service address that picks a pod at
random per connection, as kube-proxy does (HAProxy in TCP mode). The rendering is pure;
the rest runs real HAProxy, nginx and hellogo pods."""

from __future__ import annotations

import http.client
import math
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingressbed.errors import ConfigError
from ingressbed.ingress_nginx_lua import Backend, Location, Server, ServicePort
from ingressbed.ingress_nginx_lua.service_conf import render
from ingressbed.ingress_nginx_lua.service_run import ServiceProxy
from ingressbed.planes.base import Listen
from ingressbed.vocabulary import Endpoint
from tests.lua_bed import LuaBed, lua_bed, needs_lua

PODS = (Endpoint("10.0.0.1", 8080), Endpoint("10.0.0.2", 8080))
STATUS = Listen("127.9.9.1", 0, 9000)
HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)


def test_each_service_port_listens_on_its_address_and_draws_once_per_connection():
    text = render(
        [
            ServicePort("default-web-8080", "127.9.9.2", 8080, PODS),
            ServicePort("x", "127.9.9.3", 80),
        ],
        STATUS,
        generation=4,
    )
    web = text[text.index("listen svc-default-web-8080") : text.index("listen svc-x")]
    assert web.splitlines() == [
        "listen svc-default-web-8080",
        "    mode tcp",
        "    bind 127.9.9.2:8080",
        "    balance random(1)",
        "    server pod1 10.0.0.1:8080",
        "    server pod2 10.0.0.2:8080",
        "",
    ]
    assert "    bind 127.9.9.1:9000" in text
    assert "string 4 if { path /generation }" in text
    assert ServicePort("a", "127.9.9.2", 8080).endpoint == Endpoint("127.9.9.2", 8080)


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ([ServicePort("a b", "127.9.9.2", 80)], "Service port name 'a b' is not letters"),
        ([ServicePort("a", "fd00::1", 80)], "Service port a: address 'fd00::1' is not IPv4"),
        (
            [ServicePort("a", "127.9.9.2", 80), ServicePort("b", "127.9.9.2", 80)],
            "Service port b: 127.9.9.2:80 is taken by another Service port",
        ),
    ],
)
def test_what_haproxy_cannot_take_is_refused(ports, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        render(ports, STATUS)


@pytest.fixture(scope="module")
def bed() -> Iterator[tuple[LuaBed, ServicePort]]:
    with lua_bed([Server("_", Location.prefix("/", "default-web-8080"))], pods=6) as started:
        block = started.block
        status = Listen(block.service, 0, *block.free_ports(1, block.service))
        service = ServicePort("default-web-8080", f"{started.block.prefix}.3", 8080)
        service = ServicePort(service.name, service.address, service.port, started.endpoints())
        proxy = ServiceProxy(started.plane.run_dir, status, haproxy=HAPROXY)
        try:
            proxy.configure([service])
            started.apply(Backend("default-web-8080", (service.endpoint,)))
            yield started, service
        finally:
            proxy.stop()


@pytest.mark.slow
@needs_lua
@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_a_new_connection_goes_to_a_random_pod(bed: tuple[LuaBed, ServicePort]):
    started, service = bed
    counts: Counter[str] = Counter()
    for _ in range(600):
        connection = http.client.HTTPConnection(service.address, service.port, timeout=10)
        try:
            connection.request("GET", "/x")
            response = connection.getresponse()
            response.read()
            counts[response.getheader("X-Pod-IP") or "?"] += 1
        finally:
            connection.close()
    assert set(counts) == {e.address for e in started.endpoints()}
    spread = 4 * math.sqrt(600 * (1 / 6) * (5 / 6))  # binomial, 4 standard deviations
    assert all(abs(count - 100) <= spread for count in counts.values()), counts


@pytest.mark.slow
@needs_lua
@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_through_the_plane_a_kept_connection_stays_on_one_pod(bed: tuple[LuaBed, ServicePort]):
    started, _ = bed
    connection = started.connection()
    try:
        answers = [started.get("/x", connection=connection) for _ in range(30)]
    finally:
        connection.close()
    assert all(a.status == 200 for a in answers)
    # nginx keeps its connection to the Service address: kube-proxy chose once for it.
    assert len({a.pod for a in answers}) == 1
    assert answers[0].pod in started.endpoints()
