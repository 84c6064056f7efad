"""Incident 1: one client of a multi-port service lands on different pods per port.

Under ``upstream-hash-by: $binary_remote_addr`` every Service port is its own hash
ring (nodes are ``address:port``), so each client is sticky per port but usually on a
different pod for each port: about 1 - 1/N of clients. Serving all three protocols on
one port, routed by path, keeps a client on one pod.
"""

from __future__ import annotations

from fixtures import expect, layouts, measure, traffic
from fixtures.clients.curl import curl
from fixtures.clients.http import HttpRequest, probe
from fixtures.clients.ws import WsRequest, ws_probe
from fixtures.model import HTTP2_PORT, HTTP_PORT, WS_PORT

HOST = layouts.DEFAULT_HOST
IP_HASH = {"upstream-hash-by": "$binary_remote_addr"}
CLIENTS = traffic.clients(400, seed=11)
WS_CLIENTS = CLIENTS[:150]


def drive(bed):
    """Two requests per client on /8080 and /9090, one WebSocket session on /ws."""
    http = [
        HttpRequest(f"{route}/hello", HOST, client, route=route)
        for client in CLIENTS
        for route in ("/8080", "/9090")
        for _ in range(2)
    ]
    observations = probe(bed.address(), http, concurrency=8)
    ws = [WsRequest("/ws", HOST, client, route="/ws") for client in WS_CLIENTS]
    observations += ws_probe(bed.address(), ws, concurrency=8)
    expect.all_answered(observations)
    return observations


def test_ip_hash_on_three_ports_is_sticky_per_port_but_splits_clients_across_ports(serve):
    bed = serve(layouts.setup("three-ports", IP_HASH))
    model = expect.Model.of(bed, (HTTP_PORT, HTTP2_PORT, WS_PORT), "$binary_remote_addr")
    observations = drive(bed)

    expect.sticky(observations)
    expect.agrees(model, observations)
    assert {o.port for o in observations} == {HTTP_PORT, HTTP2_PORT, WS_PORT}

    http = [o for o in observations if o.route in ("/8080", "/9090")]
    split = measure.cross_port(http)
    assert split.clients == len(CLIENTS)
    p_same = model.share_same(HTTP_PORT, HTTP2_PORT)
    expect.within(
        split.clients - split.same, split.clients, 1 - p_same, "clients on different pods per port"
    )
    assert split.share_different > 0.5, "most clients should land on different pods per port"

    ws_clients = set(WS_CLIENTS)
    three = measure.cross_port(o for o in observations if o.client in ws_clients)
    assert three.share_different > 0.5, f"HTTP and WebSocket agree too often: {three}"


def test_one_port_with_paths_keeps_every_protocol_on_one_pod(serve):
    bed = serve(layouts.setup("one-port", IP_HASH))
    model = expect.Model.of(bed, (HTTP_PORT,), "$binary_remote_addr")
    observations = drive(bed)

    assert {o.port for o in observations} == {HTTP_PORT}
    expect.sticky(observations)
    expect.agrees(model, observations)
    together = measure.cross_port(observations)
    assert together.clients == len(CLIENTS)
    assert together.same == together.clients, f"a client was split: {together.example}"


def test_the_incident_curl_commands(serve):
    bed = serve(layouts.setup("three-ports", IP_HASH))
    model = expect.Model.of(bed, (HTTP_PORT, HTTP2_PORT), "$binary_remote_addr")
    real_ip = "10.232.41.102"
    answers = {
        port: [curl(f"http://{HOST}/{port}", bed.address(), client=real_ip) for _ in range(2)]
        for port in (HTTP_PORT, HTTP2_PORT)
    }
    for port, (first, second) in answers.items():
        for result in (first, second):
            lines = result.body.splitlines()
            assert result.status == 200, result.observation
            assert lines[0] == f"hello {port}!"
            assert lines[1] == f"host {HOST}"
            assert lines[3] == f"realip {real_ip}", "the client address must follow X-Forwarded-For"
            assert lines[4] == f"hostname {result.observation.pod}"
        assert first.observation.pod == second.observation.pod, "curl was not sticky"
        expect.agrees(model, [first.observation, second.observation])
