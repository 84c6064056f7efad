"""One log through every data plane: picks, key identity and moved figures, each checked
against a plain reference built with ``plane.for_key(key).upstream(...).pick`` per request."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ingressbed import planes
from ingressbed.accesslog import render
from ingressbed.accesslog.records import Extractor
from ingressbed.accesslog.results import Candidate, Settings
from ingressbed.accesslog.simulate import VARIES, Simulation
from ingressbed.accesslog.summary import fresh_endpoint
from ingressbed.cli import main
from ingressbed.errors import ConfigError
from ingressbed.placement import KeyExpr, Request, synthetic_endpoints
from ingressbed.vocabulary import DataPlane, Endpoint

FMT = '$msec $host $remote_addr "$request" $http_x_user'
PODS = tuple(synthetic_endpoints(6))
PLANES = [p.value for p in DataPlane]
KEYS = [
    "$request_uri",
    "$remote_addr",
    "$binary_remote_addr",
    "$host",
    "$host$request_uri",
    "$http_x_user",
]


def synthetic_log(count: int = 4000, seed: int = 5) -> tuple[list[str], list[Request]]:
    """Log lines and the requests they stand for: 300 clients (many sharing a /24),
    3 hosts, 250 Zipf-popular paths with queries, a header that is sometimes absent."""
    rng = random.Random(seed)
    clients = [
        f"10.{rng.randrange(4)}.{rng.randrange(30)}.{rng.randrange(1, 255)}" for _ in range(300)
    ]
    paths = [f"/p/{i}" for i in range(250)]
    weights = [1 / (i + 1) for i in range(250)]
    lines, requests = [], []
    for i in range(count):
        client = rng.choice(clients)
        host = f"site{rng.randrange(3)}.test"
        uri = rng.choices(paths, weights)[0] + (f"?q={rng.randrange(4)}" if i % 3 else "")
        user = f"u{rng.randrange(20)}" if i % 5 else "-"
        lines.append(f'{i / 10:.3f} {host} {client} "GET {uri} HTTP/1.1" {user}\n')
        headers = {} if user == "-" else {"x-user": user}
        requests.append(Request(client_ip=client, host=host, request_uri=uri, headers=headers))
    return lines, requests


LINES, REQUESTS = synthetic_log()


def simulate(candidates: list[Candidate], lines: list[str] = LINES, fmt: str = FMT) -> Simulation:
    keys = [c.hash_by for c in candidates if c.hash_by]
    client = any(c.reads_client for c in candidates)
    sim = Simulation(Extractor.build(fmt, keys, client=client), candidates, Settings(PODS))
    sim.feed(lines, 1)
    return sim


def reference_counts(plane: str, key: str, requests: list[Request]) -> dict[str, int]:
    """Requests per pod: each request picked by the plane's upstream, None cycling."""
    upstream = planes.plane(plane).for_key(key).upstream(PODS)
    counts = Counter({str(e): 0 for e in PODS})
    rr = 0
    for request in requests:
        pick = upstream.pick(request).exact
        if pick is None:
            pick = PODS[rr % len(PODS)]
            rr += 1
        counts[str(pick)] += 1
    return dict(counts)


def reference_moved(plane: str, key: str, requests: list[Request]) -> tuple[float, ...]:
    """(keys, requests) moved on +1 and on -1, keys as the simulation names them."""
    balance = planes.plane(plane).for_key(key)
    now = balance.upstream(PODS)
    bigger = balance.upstream([*PODS, fresh_endpoint(PODS)])
    smaller = balance.upstream(PODS[:-1])
    ident = KeyExpr(key, flavor="nginx")
    per_key: dict[bytes, tuple[Endpoint | None, ...]] = {}
    weight: Counter[bytes] = Counter()
    for r in requests:
        if now.pick(r).exact is None:
            continue
        k = r.client_ip.encode() if not balance.reads_key else ident.evaluate(r)
        picks = (now.pick(r).exact, bigger.pick(r).exact, smaller.pick(r).exact)
        assert per_key.setdefault(k, picks) == picks  # the key fixes the pod here
        weight[k] += 1
    total = sum(weight.values())
    add = [k for k, p in per_key.items() if p[1] != p[0]]
    remove = [k for k, p in per_key.items() if p[2] != p[0]]
    return (
        len(add) / len(per_key),
        sum(weight[k] for k in add) / total,
        len(remove) / len(per_key),
        sum(weight[k] for k in remove) / total,
    )


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("key", KEYS)
def test_pod_counts_match_the_planes_own_picks(plane, key):
    result = simulate([Candidate(plane, key)]).result()
    got = {p.endpoint: p.requests for p in result.candidates[0].pods}
    assert got == reference_counts(plane, key, REQUESTS)
    # Among other candidates (the loop over candidates) the figures are the same.
    among = simulate([Candidate("round-robin"), Candidate(plane, key)]).result().candidates[1]
    assert among == result.candidates[0]


@pytest.mark.parametrize("plane", [p for p in PLANES if p not in ("ingress-nginx", "nginx")])
@pytest.mark.parametrize("key", ["$request_uri", "$remote_addr", "$host$request_uri"])
def test_moved_figures_are_exact(plane, key):
    moved = simulate([Candidate(plane, key)]).result().candidates[0].moved
    assert moved is not None
    got = (moved.keys_on_add, moved.requests_on_add, moved.keys_on_remove, moved.requests_on_remove)
    assert got == pytest.approx(reference_moved(plane, key, REQUESTS), abs=1e-12)


def test_a_consistent_haproxy_ring_moves_about_the_new_pods_share():
    candidate = Candidate("haproxy", "$request_uri")  # ~1000 distinct keys
    moved = simulate([candidate]).result().candidates[0].moved
    added = fresh_endpoint(PODS)
    share = candidate.balance().upstream([*PODS, added]).shares()[added]
    assert moved is not None and moved.keys_on_add == pytest.approx(share, abs=0.04)


@pytest.mark.parametrize("plane", ["haproxy:map-based", "nginx:ip-hash", "nginx:hash"])
def test_modulo_planes_move_most_keys(plane):
    moved = simulate([Candidate(plane, "$request_uri")]).result().candidates[0].moved
    assert moved is not None and moved.keys_on_add > 0.6 and moved.keys_on_remove is not None
    assert moved.keys_on_remove > 0.6


def test_ip_hash_with_a_url_key_is_sticky_per_client_not_per_url():
    upstream = planes.plane("nginx:ip-hash").for_key("$request_uri").upstream(PODS)
    a, b = "10.0.1.5", "10.9.200.7"
    assert upstream.pick(Request(client_ip=a)) != upstream.pick(Request(client_ip=b))
    assert upstream.pick(Request(client_ip=a)).fixed
    # Both clients ask for the same pages, alternately: a memo per page would send the
    # second client wherever the first went.
    lines = [
        f'{i:.3f} s.test {a if i % 2 else b} "GET /p/{i // 4} HTTP/1.1" -\n' for i in range(400)
    ]
    result = simulate([Candidate("nginx:ip-hash", "$request_uri")], lines).result()
    loads = {p.endpoint: p.requests for p in result.candidates[0].pods}
    assert loads[str(upstream.pick(Request(client_ip=a)))] == 200  # str(Pick): its endpoint
    assert loads[str(upstream.pick(Request(client_ip=b)))] == 200
    first = result.candidates[0]
    assert first.distinct_keys == 2 and {h.key for h in first.hottest} == {a, b}
    # The key is ignored: the same loads as ip_hash "on" the client.
    same = simulate([Candidate("nginx:ip-hash", "$remote_addr")], lines).result()
    assert [p.requests for p in same.candidates[0].pods] == [p.requests for p in first.pods]


def test_hot_keys_land_where_the_plane_picks():
    result = simulate([Candidate("haproxy:map-based", "$host$request_uri")]).result()
    upstream = planes.plane("haproxy:map-based").for_key("$host$request_uri").upstream(PODS)
    for hot in result.candidates[0].hottest:
        host, _, rest = hot.key.partition("/")
        assert hot.endpoint == str(upstream.pick(Request(host=host, request_uri="/" + rest)))


def test_a_key_that_does_not_fix_the_pod_gets_no_moved_figure():
    # hdr(host) hashes the Host as sent; $host is lowercased without the port.
    fmt = '$msec $http_host $remote_addr "$request"'
    hosts = ["a.test", "A.test", "a.TEST:80", "a.test:8080", "b.test", "B.Test"]
    lines = [f'{i:.3f} {hosts[i % 6]} 10.0.0.1 "GET /{i} HTTP/1.1"\n' for i in range(600)]
    result = simulate([Candidate("haproxy", "$host")], lines, fmt).result().candidates[0]
    assert (
        result.moved is None
        and result.moved_unknown
        and "more than one pod" in result.moved_unknown
    )
    assert VARIES in {h.endpoint for h in result.hottest}
    summary = render._summary([result])
    assert "\u2014" in summary[1] and summary[-1].startswith("\u2014: ")


def test_labels_show_the_plane_and_the_translation():
    assert Candidate("ingress-nginx", "$host").label == "ingress-nginx $host"
    assert Candidate("haproxy", "$binary_remote_addr").label == "haproxy $binary_remote_addr"
    assert Candidate("haproxy", "$request_uri").label == "haproxy $request_uri (balance uri whole)"
    assert (
        Candidate("nginx:ip-hash", "$request_uri").label == "nginx:ip-hash $request_uri (ip_hash)"
    )
    assert Candidate("nginx:hash", "$host").label == "nginx:hash $host"


def test_an_untranslatable_key_is_one_line_before_the_log_is_read(capsys, tmp_path):
    with pytest.raises(ConfigError, match=r"^--candidate 'haproxy=\$cookie_x': upstream-hash-by"):
        Candidate.parse("haproxy=$cookie_x")
    status = main(
        [
            "analyze",
            "--access-log",
            str(tmp_path / "absent.log"),
            "--candidate",
            "haproxy=$cookie_x",
        ]
    )
    _, err = capsys.readouterr()
    assert status == 1 and len(err.splitlines()) == 1 and "$cookie_x" in err and "absent" not in err


def test_a_plane_reading_the_client_needs_a_format_that_logs_one():
    with pytest.raises(ConfigError, match="reads the client address, but the log format urls"):
        simulate([Candidate("nginx:ip-hash", "$request_uri")], ["/a\n"], "urls")


def test_the_cli_compares_planes_on_one_log(capsys, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(LINES))
    status = main([
        "analyze", "-q", "--access-log", str(log), "--log-format", FMT,
        "--candidate", "nginx:ip-hash=$request_uri", "--candidate", "haproxy=$binary_remote_addr",
    ])  # fmt: skip
    out, _ = capsys.readouterr()
    assert status == 0
    assert "nginx:ip-hash $request_uri (ip_hash)" in out
    assert "haproxy $binary_remote_addr: haproxy: balance source, hash-type consistent" in out
