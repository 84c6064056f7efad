"""The successors' renderings on the real programs: HAProxy's cookie persistence (the cookie
values each plane's model computes), least connections on HAProxy and nginx, and one upstream
behind the local backend's Service proxy. One backend per plane for the module."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator

import pytest

from ingressbed import layouts, planes
from ingressbed.backends.local import LocalBackend
from ingressbed.options import BedOptions
from ingressbed.placement import Request
from ingressbed.placement.upstream import Pick
from ingressbed.vocabulary import Endpoint, Setup
from tests.real_processes import RawAnswer, raw_request

pytestmark = pytest.mark.slow

HOST = layouts.DEFAULT_HOST
COOKIE = "INGRESSCOOKIE"
SLOW_MS = 1000  # the pod a held request waits on (long enough for the probes behind it)


@pytest.fixture(scope="module")
def beds(tmp_path_factory) -> Iterator[dict[str, LocalBackend]]:
    """Started backends, one per plane, made on first use and closed with the module."""
    started: dict[str, LocalBackend] = {}
    artifacts = tmp_path_factory.mktemp("reports")

    class Beds(dict):
        def __missing__(self, plane: str) -> LocalBackend:
            bed = LocalBackend(
                BedOptions(backend="local", quiet=True, data_plane=plane, artifacts=artifacts)
            )
            started[plane] = bed
            bed.start()
            self[plane] = bed
            return bed

    try:
        yield Beds()
    finally:
        for bed in started.values():
            bed.close()


def get(bed: LocalBackend, path: str, cookie: str | None = None) -> RawAnswer:
    lines = [("Host", HOST)] + ([("Cookie", f"{COOKIE}={cookie}")] if cookie else [])
    return raw_request(bed.address().host, bed.address().port, path, lines)


def set_cookie(answer: RawAnswer) -> str | None:
    for header in answer.header("Set-Cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        if name == COOKIE:
            return value
    return None


def answered_by(answer: RawAnswer, port: int) -> Endpoint:
    assert answer.status == 200, answer.body
    return Endpoint(answer.header("X-Pod-IP")[0], port)


# -- HAProxy's cookie persistence ----------------------------------------------------------


@pytest.mark.parametrize("plane", ["haproxy", "haproxy:map-based", "haproxy:pod-ids"])
def test_haproxy_inserts_the_cookie_the_model_computes_and_it_pins_the_server(beds, plane):
    bed = beds[plane]
    setup = layouts.setup("three-ports", {"affinity": "cookie"}, replicas=3)
    bed.apply(setup)
    balance = planes.translate(plane, setup)
    assert balance.cookie is not None
    sessions: dict[Endpoint, str] = {}
    for i in range(6):  # round robin: each of the 3 servers twice
        first = get(bed, f"/8080/first{i}")
        server = answered_by(first, 8080)
        value = set_cookie(first)
        assert value == balance.cookie.value(server), first.header("Set-Cookie")
        sessions[server] = value
        assert "path=/" in first.header("Set-Cookie")[0]
    assert len(sessions) == 3
    upstream = balance.upstream(bed.endpoints(8080))
    for server, value in sessions.items():
        assert upstream.pick(Request(client_ip="10.0.0.1", cookies={COOKIE: value})) == Pick.to(
            server
        )
        again = get(bed, "/8080/again", value)
        assert answered_by(again, 8080) == server and set_cookie(again) is None  # indirect
    # the cookie of 8080 on the 9090 backend: the pod's UID is the same on every port
    server, value = next(iter(sessions.items()))
    other = get(bed, "/9090/x", value)
    if plane == "haproxy:pod-ids":
        assert answered_by(other, 9090) == Endpoint(server.address, 9090)
        assert set_cookie(other) is None
    else:  # a dynamic cookie hashes the port: no 9090 server has it, HAProxy sets another
        assert set_cookie(other) == balance.cookie.value(answered_by(other, 9090))
    # one pod more moves no session; a removed server's cookie is balanced anew
    bed.scale(4)
    for server, value in sessions.items():
        assert answered_by(get(bed, "/8080/scaled", value), 8080) == server
    victim = next(p for p in bed.pods() if p.ip == server.address)
    bed.kill(victim.name)
    lost = get(bed, "/8080/lost", value)
    assert answered_by(lost, 8080).address != server.address
    assert set_cookie(lost) == balance.cookie.value(answered_by(lost, 8080))
    after = balance.upstream(bed.endpoints(8080))
    assert not after.pick(Request(client_ip="10.0.0.1", cookies={COOKIE: value})).fixed


# -- least connections ---------------------------------------------------------------------


def hold_then_probe(bed: LocalBackend, slow: set[str]) -> tuple[bool, list[str]]:
    """One thread sends requests one at a time until one is answered by the slow pod; once a
    request of it has waited 0.2 s (a fast pod answers in milliseconds), the probes go out
    one at a time while it waits. Returns whether the waiting request was the slow pod's
    (else a fast answer was late, and the probes prove nothing) and who answered the probes."""
    state: dict[str, object] = {"since": None, "last": ""}

    def hold() -> None:
        for i in range(12):
            state["since"] = time.monotonic()
            address = answered_by(get(bed, f"/8080/h{i}"), 8080).address
            state["since"], state["last"] = None, address
            if address in slow:
                return

    thread = threading.Thread(target=hold)
    thread.start()
    deadline = time.monotonic() + 10
    while not (isinstance(since := state["since"], float) and time.monotonic() - since > 0.2):
        assert thread.is_alive() and time.monotonic() < deadline, "no request waited"
        time.sleep(0.005)  # polling interval of the condition above, not an assumed delay
    probes = []
    while thread.is_alive() and len(probes) < 20:
        probes.append(answered_by(get(bed, f"/8080/p{len(probes)}"), 8080).address)
    thread.join()
    return state["last"] in slow, probes


@pytest.mark.parametrize(
    ("plane", "line"),
    [("haproxy", "    balance leastconn\n"), ("nginx", "        least_conn;\n")],
    ids=["haproxy", "nginx"],
)
def test_least_connections_passes_a_busy_pod_by(beds, plane, line):
    """While the slow pod holds a request, every request goes elsewhere (round robin would
    give it every third)."""
    bed = beds[plane]
    setup = dataclasses.replace(
        layouts.setup("one-port", {"load-balance": "ewma"}, replicas=3),
        slow_pods=1,
        slow_ms=SLOW_MS,
    )
    bed.apply(setup)
    assert line in (bed._run_dir / bed.program.config).read_text()
    slow = {p.ip for p in bed.pods() if p.slow_ms}
    assert len(slow) == 1
    for _ in range(3):  # a late fast answer voids an attempt: it proves nothing either way
        valid, probes = hold_then_probe(bed, slow)
        if valid:
            break
    assert valid, "the slow pod never held a request while probes went out"
    assert len(probes) >= 5, f"only {len(probes)} probes while the slow pod held its request"
    assert not set(probes) & slow, probes
    assert len(set(probes)) == 2  # both fast pods, in turn
    pick = planes.translate(plane, setup).upstream(bed.endpoints(8080)).pick(Request("10.0.0.1"))
    assert not pick.fixed and "conn" in pick.why


def test_random_two_is_haproxy_ingress_default_for_ewma(beds):
    bed = beds["haproxy:pod-ids"]
    bed.apply(layouts.setup("one-port", {"load-balance": "ewma"}, replicas=3))
    assert "    balance random(2)\n" in (bed._run_dir / "haproxy.cfg").read_text()
    seen = {answered_by(get(bed, f"/8080/r{i}"), 8080).address for i in range(30)}
    assert seen <= {p.ip for p in bed.pods()} and len(seen) >= 2


# -- service-upstream: one upstream, the Service proxy ---------------------------------------


@pytest.mark.parametrize("plane", ["haproxy", "nginx"])
def test_service_upstream_sends_through_the_service_proxy(beds, plane):
    bed = beds[plane]
    setup: Setup = layouts.setup("three-ports", {"service-upstream": "true"}, replicas=3)
    bed.apply(setup)
    pods = {p.ip for p in bed.pods()}
    for port in (8080, 9090, 8081):
        (peer,) = bed.endpoints(port)
        assert peer.port == port and peer.address not in pods
    config = (bed._run_dir / bed.program.config).read_text()
    assert f"{peer.address}:8080" in config
    assert not any(f"{ip}:8080" in config for ip in pods), "no pod is an upstream server"
    answers = {answered_by(get(bed, f"/9090/s{i}"), 9090).address for i in range(12)}
    assert answers <= pods  # every answer is a pod's, reached through the Service address
    assert (bed._run_dir / "services" / "services.cfg").exists()
    bed.apply(layouts.setup("three-ports", replicas=3))  # back to the pods themselves
    assert {e.address for e in bed.endpoints(8080)} == pods
