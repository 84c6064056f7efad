"""The local ingress-nginx plane with real nginx and hellogo pods: hashing picks against
the placement model, subsets, round robin, ewma, and the controller's sync rules (the
stale hash key, a post in the same second, endpoint changes without reload).

One plane with two workers serves every test of this module; each test posts the
backends it needs (the whole document, as the controller does) and waits until every
worker applied it.
"""

from __future__ import annotations

import random
import socket
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from ingressbed.ingress_nginx_lua import Backend, Location, Server
from ingressbed.placement import Predictor, Request, subset_groups
from ingressbed.vocabulary import Endpoint, Flavor
from tests.lua_bed import LuaBed, lua_bed, needs_lua
from tests.real_processes import wait_for

pytestmark = [pytest.mark.slow, needs_lua]

KEYS = ("$binary_remote_addr", "$request_uri", "$host$request_uri", "${host}-x", "$http_x_user")
NAMES = ("stale", "rr", "ewma", "subset", "empty", "second", "ws")


def _locations() -> tuple[Location, ...]:
    hashed = [
        x
        for i in range(len(KEYS))
        for n in (6, 7)
        for x in Location.prefix(f"/k{i}-{n}", f"default-k{i}-{n}")
    ]
    return (*hashed, *(x for n in NAMES for x in Location.prefix(f"/{n}", f"default-{n}-8080")))


@pytest.fixture(scope="module")
def bed() -> Iterator[LuaBed]:
    with lua_bed([Server("_", _locations())], pods=8, slow=1, slow_ms=40, workers=2) as started:
        yield started


def _requests(prefix: str, count: int, rng: random.Random) -> list[Request]:
    hosts = ["shop.example", "Api.Example.COM", "x.test", "cdn.example.org"]
    found = []
    for n in range(count):
        client = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
        query = rng.choice(["", f"?id={rng.randrange(100)}", "?a=1&b=2"])
        headers = {"X-User": f"user{rng.randrange(40)}"} if n % 3 else {}
        found.append(
            Request(
                client_ip=client,
                host=rng.choice(hosts),
                request_uri=f"{prefix}/{rng.randrange(10_000)}{query}",
                headers=headers,
            )
        )
    return found


def _ask(bed: LuaBed, request: Request, connection: object = None) -> Endpoint | None:
    answer = bed.get(
        request.request_uri,
        host=request.host or "bed.example",
        client=request.client_ip,
        headers=dict(request.headers),
        connection=connection,  # type: ignore[arg-type]
    )
    assert answer.status == 200, answer
    return answer.pod


def test_chash_picks_equal_the_model_for_200_varied_requests_on_6_and_7_pods(bed: LuaBed):
    backends = [
        Backend(f"default-k{i}-{n}", bed.endpoints(n), hash_by=key)
        for i, key in enumerate(KEYS)
        for n in (6, 7)
    ]
    bed.apply(*backends)
    rng = random.Random(19)
    connection = bed.connection()
    try:
        for i, key in enumerate(KEYS):
            for n in (6, 7):
                model = Predictor(Flavor.INGRESS_NGINX, bed.endpoints(n), key)
                for request in _requests(f"/k{i}-{n}", 200, rng):
                    assert _ask(bed, request, connection) == model.pick(request), (key, n, request)
    finally:
        connection.close()


def test_subset_answers_stay_in_the_models_group(bed: LuaBed):
    endpoints = bed.endpoints(7)
    bed.apply(Backend("default-subset-8080", endpoints, hash_by="$request_uri", subset=True))
    groups = subset_groups(endpoints, 3)
    assert list(groups) == ["set1", "set2", "set3"]  # the last group is padded from the start
    model = Predictor(Flavor.INGRESS_NGINX, endpoints, "$request_uri", subset_size=3)
    seen_groups = set()
    for number in range(40):
        request = Request(request_uri=f"/subset/{number}")
        group = model.pick_group(request)
        seen_groups.add(group)
        answers = {_ask(bed, request) for _ in range(12)}
        assert answers <= set(group), (request, answers, group)
    assert len(seen_groups) == 3
    # One key, many requests: the member is drawn per request (3 distinct members; all
    # 60 answers from one member has probability 3 * 3**-60).
    many = Counter(_ask(bed, Request(request_uri="/subset/one")) for _ in range(60))
    assert len(many) > 1


def test_round_robin_cycles_in_posted_order_from_a_random_start(bed: LuaBed):
    endpoints = bed.endpoints(5)
    posted = (endpoints[3], endpoints[0], endpoints[4], endpoints[1], endpoints[2])
    bed.apply(Backend("default-rr-8080", posted))
    connection = bed.connection()  # one connection: one worker, one cycle
    try:
        picks = [_ask(bed, Request(request_uri="/rr/x"), connection) for _ in range(15)]
    finally:
        connection.close()
    start = posted.index(picks[0])  # type: ignore[arg-type]
    assert picks == [posted[(start + i) % 5] for i in range(15)]


def test_ewma_avoids_a_slow_pod(bed: LuaBed):
    fast, (slow,) = bed.endpoints(5), bed.slow_endpoints()
    bed.apply(Backend("default-ewma-8080", (*fast, slow), load_balance="ewma"))
    picks = Counter(_ask(bed, Request(request_uri=f"/ewma/{n}")) for n in range(300))
    assert set(picks) <= {*fast, slow}
    # A pod 40 ms late loses every draw once each pod has answered once (scores are
    # latencies); only the first few requests, while scores are still 0, can reach it.
    assert picks[slow] <= 5, picks
    assert sum(picks[e] for e in fast) >= 295


def _follows(bed: LuaBed, endpoints: tuple[Endpoint, ...], key: str, path: str) -> bool:
    """Whether 40 requests that the client ring and the URI ring place differently all
    follow the ring of ``key``."""
    by_key = Predictor(Flavor.INGRESS_NGINX, endpoints, key)
    other = Predictor(
        Flavor.INGRESS_NGINX,
        endpoints,
        "$request_uri" if key == "$binary_remote_addr" else "$binary_remote_addr",
    )
    rng = random.Random(key)
    checked = 0
    while checked < 40:
        request = Request(
            client_ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            request_uri=f"{path}/{rng.randrange(100_000)}",
        )
        if by_key.pick(request) == other.pick(request):
            continue
        if _ask(bed, request) != by_key.pick(request):
            return False
        checked += 1
    return True


def test_a_new_hash_key_stays_unused_until_round_robin_resets_the_balancer(bed: LuaBed):
    endpoints = bed.endpoints(6)
    name = "default-stale-8080"
    bed.apply(Backend(name, endpoints, hash_by="$binary_remote_addr"))
    assert _follows(bed, endpoints, "$binary_remote_addr", "/stale")
    bed.apply(Backend(name, endpoints, hash_by="$request_uri"))
    assert _follows(bed, endpoints, "$binary_remote_addr", "/stale")  # the old key
    bed.apply(Backend(name, bed.endpoints(7), hash_by="$request_uri"))  # endpoints too
    assert _follows(bed, bed.endpoints(7), "$binary_remote_addr", "/stale")
    bed.apply(Backend(name, endpoints, hash_by="$request_uri", load_balance="ewma"))
    assert _follows(bed, endpoints, "$binary_remote_addr", "/stale")
    bed.apply(Backend(name, endpoints))  # round robin: the balancer is replaced
    bed.apply(Backend(name, endpoints, hash_by="$request_uri"))
    assert _follows(bed, endpoints, "$request_uri", "/stale")


def test_no_endpoints_answers_503_and_resets_the_hash_key(bed: LuaBed):
    endpoints = bed.endpoints(6)
    name = "default-empty-8080"
    bed.apply(Backend(name, endpoints, hash_by="$binary_remote_addr"))
    assert _follows(bed, endpoints, "$binary_remote_addr", "/empty")
    bed.apply(Backend(name, (), hash_by="$request_uri"))
    assert bed.get("/empty/x").status == 503
    bed.apply(Backend(name, endpoints, hash_by="$request_uri"))
    assert _follows(bed, endpoints, "$request_uri", "/empty")


def test_a_reload_recreates_the_balancers_with_the_posted_key(bed: LuaBed):
    endpoints = bed.endpoints(6)
    name = "default-stale-8080"
    bed.apply(Backend(name, endpoints))  # round robin first: whatever key was in force goes
    bed.apply(Backend(name, endpoints, hash_by="$binary_remote_addr"))
    bed.apply(Backend(name, endpoints, hash_by="$request_uri"))
    assert _follows(bed, endpoints, "$binary_remote_addr", "/stale")
    before = bed.plane.state()
    assert bed.plane.conf is not None
    bed.plane.configure(bed.plane.conf.servers)  # same servers, a new generation: a reload
    after = bed.plane.state()
    assert after.config_generation == before.config_generation + 1
    assert {w.pid for w in after.workers}.isdisjoint({w.pid for w in before.workers})
    assert after.posted == before.posted  # the post survives; new workers apply it at start
    assert _follows(bed, endpoints, "$request_uri", "/stale")


def test_endpoint_changes_apply_without_a_reload(bed: LuaBed):
    name = "default-k0-6"  # $binary_remote_addr
    before = bed.plane.state()
    pid = bed.plane.pid
    bed.apply(Backend(name, bed.endpoints(7), hash_by="$binary_remote_addr"))
    model = Predictor(Flavor.INGRESS_NGINX, bed.endpoints(7), "$binary_remote_addr")
    for request in _requests("/k0-6", 100, random.Random(7)):
        assert _ask(bed, request) == model.pick(request)
    after = bed.plane.state()
    assert after.config_generation == before.config_generation and bed.plane.pid == pid
    assert {w.pid for w in after.workers} == {w.pid for w in before.workers}


def test_a_post_in_the_same_second_as_the_one_applied_is_not_applied(bed: LuaBed):
    name = "default-second-8080"
    everyone, alone = bed.endpoints(6), bed.endpoints(1)
    bed.apply(Backend(name, everyone))
    for _ in range(5):  # a worker tick can fall in the next second: try again then
        second = int(time.time())
        wait_for(lambda s=second: int(time.time()) > s, "the next second", 3)
        first = bed.plane.post(list({**bed.backends, name: Backend(name, everyone)}.values()))
        bed.plane.wait_synced(first, timeout=3)
        state = bed.plane.state()
        if int(time.time()) != state.posted_at:
            continue
        late = bed.plane.post(list({**bed.backends, name: Backend(name, alone)}.values()))
        after = bed.plane.state()
        if after.posted_at == state.posted_at:
            break
    else:
        pytest.fail("never got a second post into the second of the first one (5 tries)")
    ticks = {w.id: w.ticks for w in after.workers}
    wait_for(
        lambda: all(w.ticks >= ticks[w.id] + 2 for w in bed.plane.state().workers),
        "two more sync ticks on every worker",
        5,
    )
    held = bed.plane.state()
    assert held.posted == late
    assert all(w.synced == first for w in held.workers), held  # the late post: not applied
    assert len({_ask(bed, Request(request_uri="/second/x")) for _ in range(30)}) > 1
    bed.backends[name] = Backend(name, alone)
    bed.apply()  # a post in a later second applies the document as it is now
    assert {_ask(bed, Request(request_uri="/second/x")) for _ in range(30)} == set(alone)


def test_headers_to_the_pod_404_and_503(bed: LuaBed):
    bed.apply(Backend("default-rr-8080", bed.endpoints(3)))
    answer = bed.get("/rr/h", client="203.0.113.9, 10.0.0.1")
    assert answer.body["real_ip"] == "203.0.113.9"  # leftmost X-Forwarded-For
    # The header as it came, then the peer (this test's loopback source address).
    sent, peer = str(answer.body["forwarded_for"]).rsplit(", ", 1)
    assert sent == "203.0.113.9, 10.0.0.1" and peer.startswith("127.")
    assert bed.get("/nothing-here").status == 404
    assert bed.get("/ws/x").status == 503  # a location whose backend was never posted


def test_websocket_upgrade_reaches_the_pod(bed: LuaBed):
    bed.apply(Backend("default-ws-8080", bed.endpoints(2, port=8081)))
    with socket.create_connection((bed.listen.address, bed.listen.port), timeout=10) as sock:
        sock.sendall(
            b"GET /ws/chat HTTP/1.1\r\nHost: bed.example\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert b"X-Pod-Port: 8081" in head
