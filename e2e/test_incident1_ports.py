"""Incident 1: one client of a multi-port service lands on different pods per port.

Under ``upstream-hash-by: $binary_remote_addr`` every Service port is its own hash
ring (nodes are ``address:port``), so each client is sticky per port but usually on a
different pod for each port: about 1 - 1/N of clients. Serving all three protocols on
one port, routed by path, keeps a client on one pod. Data planes whose pick ignores the
servers' addresses (HAProxy, nginx ``ip_hash``) keep a client on one pod on every port;
the model says which (``Balance.port_blind`` of the data plane's translation) and predicts
every pick either way.
"""

from __future__ import annotations

from fixtures.incidents import HOST
from ingressbed import expect, measure
from ingressbed.clients.curl import curl
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.clients.ws import WsRequest, ws_probe
from ingressbed.vocabulary import HTTP2_PORT, HTTP_PORT, WS_PORT


def drive(bed, clients):
    """Two requests per client on /8080 and /9090, one WebSocket session on the first 150."""
    http = [
        HttpRequest(f"{route}/hello", HOST, client, route=route)
        for client in clients
        for route in ("/8080", "/9090")
        for _ in range(2)
    ]
    observations = probe(bed.address(), http, concurrency=8)
    ws = [WsRequest("/ws", HOST, client, route="/ws") for client in clients[:150]]
    observations += ws_probe(bed.address(), ws, concurrency=8)
    expect.all_answered(observations)
    return observations


def test_ip_hash_on_three_ports_is_sticky_per_port_and_splits_clients_as_the_model_says(
    serve, ip_hash, incident1_clients
):
    """Incident 1 where the ring places nodes by address and port (ingress-nginx, nginx
    ``hash ... consistent``); on data planes whose pick ignores addresses (HAProxy's server
    ids, nginx's ip_hash and plain hash by position) one client keeps one pod."""
    bed = serve(ip_hash("three-ports"))
    model = expect.model(bed, (HTTP_PORT, HTTP2_PORT, WS_PORT), "$binary_remote_addr")
    observations = drive(bed, incident1_clients)

    expect.sticky(observations)
    expect.agrees(model, observations)
    assert {o.port for o in observations} == {HTTP_PORT, HTTP2_PORT, WS_PORT}

    http = [o for o in observations if o.route in ("/8080", "/9090")]
    split = measure.stickiness(http, lambda o: o.client)  # one pod for all of a client's visits
    assert split.keys == len(incident1_clients)
    p_same = model.share_same(HTTP_PORT, HTTP2_PORT)
    expect.within(
        split.keys - split.sticky, split.keys, 1 - p_same, "clients on different pods per port"
    )
    ws_clients = set(incident1_clients[:150])
    three = measure.stickiness(
        (o for o in observations if o.client in ws_clients), lambda o: o.client
    )
    if model.balance.port_blind:
        assert split.share == 1.0, f"a client must keep one pod on 8080 and 9090: {split}"
        assert three.share == 1.0, f"a client must keep one pod on all three ports: {three}"
    else:
        assert split.share < 0.5, "most clients should land on different pods per port"
        assert three.share < 0.5, f"HTTP and WebSocket agree too often: {three}"


def test_one_port_with_paths_keeps_every_protocol_on_one_pod(serve, ip_hash, incident1_clients):
    bed = serve(ip_hash("one-port"))
    model = expect.model(bed, (HTTP_PORT,), "$binary_remote_addr")
    observations = drive(bed, incident1_clients)

    assert {o.port for o in observations} == {HTTP_PORT}
    expect.sticky(observations)
    expect.agrees(model, observations)
    expect.sticky(observations, per="client")  # every route of a client on one pod
    assert measure.stickiness(observations, lambda o: o.client).keys == len(incident1_clients)


def test_the_incident_curl_commands(serve, ip_hash):
    bed = serve(ip_hash("three-ports"))
    model = expect.model(bed, (HTTP_PORT, HTTP2_PORT), "$binary_remote_addr")
    real_ip = "10.232.41.102"
    # no-cache: hellogo answers this request itself, not with a page another client cached
    # under the same URL (the answer shows the client address it saw).
    fresh = ("Cache-Control: no-cache",)
    answers = {
        port: [
            curl(f"http://{HOST}/{port}", bed.address(), client=real_ip, headers=fresh)
            for _ in range(2)
        ]
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
