"""The simulation: load per pod, per-pod caches with hellogo's rule, remapping, sampling."""

from __future__ import annotations

from collections import Counter

import pytest

from hellogo.cache import HIT, PageCache
from ingressbed.accesslog import generate
from ingressbed.accesslog.records import Extractor
from ingressbed.accesslog.results import Candidate, Settings
from ingressbed.accesslog.simulate import TIME_SLACK, Simulation
from ingressbed.accesslog.summary import fresh_endpoint
from ingressbed.errors import ConfigError
from ingressbed.placement import Predictor, Request, Ring, synthetic_endpoints

FMT = '$msec $host $remote_addr "$request"'
PODS = tuple(synthetic_endpoints(6))


def line(t: float, path: str, host: str = "a.test", client: str = "10.0.0.1", m: str = "GET"):
    return f'{t:.3f} {host} {client} "{m} {path} HTTP/1.1"\n'


def simulate(lines, candidates, fmt=FMT, sample=0, **settings):
    keys = [c.hash_by for c in candidates if c.hash_by]
    extractor = Extractor.build(fmt, keys, client=bool(sample))
    sim = Simulation(
        extractor, candidates, Settings(endpoints=PODS, **settings), sample=sample, seed=3
    )
    sim.feed(lines, 1)
    return sim


def hellogo_hits(events, ttl, max_entries=100_000):
    """Hits per pod when hellogo's own PageCache sees (time, pod, page) in order."""
    clock = [0.0]
    caches = {}
    hits = Counter()
    for t, pod, page in events:
        clock[0] = t
        cache = caches.setdefault(pod, PageCache(ttl, max_entries, clock=lambda: clock[0]))
        status, _ = cache.lookup(page)
        if status == HIT:
            hits[pod] += 1
        else:
            cache.store(page, b"page")
    return hits


def test_cache_hits_follow_hellogo_page_cache_exactly():
    times = [0, 50, 99.9, 100, 150, 199.9, 200, 201, 350]
    paths = ["/a", "/a", "/a", "/a", "/b", "/a", "/a", "/b", "/a"]
    lines = [line(t, p) for t, p in zip(times, paths, strict=True)]
    sim = simulate(lines, [Candidate("ingress-nginx", "$request_uri")], cache_ttl=100)
    result = sim.result().candidates[0]
    predictor = Predictor("ingress-nginx", PODS, "$request_uri")
    events = [
        (t, str(predictor.pick(Request(request_uri=p))), p)
        for t, p in zip(times, paths, strict=True)
    ]
    expected = hellogo_hits(events, ttl=100)
    assert {p.endpoint: p.hits for p in result.pods if p.hits} == dict(expected)
    # /a: MISS HIT HIT EXPIRED . HIT EXPIRED . EXPIRED; /b: MISS HIT -> 4 hits of 9
    assert sum(expected.values()) == 4
    assert result.cache_hit_ratio == pytest.approx(4 / 9)


def test_the_cache_is_bounded_like_hellogo():
    paths = ["/a", "/b", "/c", "/a", "/b", "/d", "/a"]
    lines = [line(i, p) for i, p in enumerate(paths)]
    # One pod, so every page shares its cache of two entries.
    extractor = Extractor.build(FMT, ["$request_uri"])
    settings = Settings(endpoints=PODS[:1], cache_ttl=100, cache_entries=2)
    sim = Simulation(extractor, [Candidate("nginx", "$request_uri")], settings)
    sim.feed(lines, 1)
    events = [(i, "pod", p) for i, p in enumerate(paths)]
    assert sim.result().candidates[0].pods[0].hits == hellogo_hits(events, 100, 2)["pod"]
    assert len(sim._caches[0][0]) == 2


def test_picks_are_the_placement_model_s_and_every_endpoint_is_listed():
    lines = list(generate.lines(3000, fmt="vhost", pages=300, clients=50))
    fmt = generate.VHOST
    sim = simulate(lines, [Candidate("ingress-nginx", "$remote_addr$host$request_uri")], fmt=fmt)
    result = sim.result()
    extractor = Extractor.build(fmt, ["$remote_addr"], client=True)
    predictor = Predictor("ingress-nginx", PODS, "$remote_addr$host$request_uri")
    groups = extractor.all_groups()
    expected = Counter(
        str(predictor.pick(extractor.record(groups, m.group(*groups)).request))
        for m in map(extractor.regex.match, lines)
    )
    got = {p.endpoint: p.requests for p in result.candidates[0].pods}
    assert got == {str(e): expected.get(str(e), 0) for e in PODS}
    assert [p.endpoint for p in result.candidates[0].pods] == [str(e) for e in PODS]
    assert result.requests == 3000 and result.skipped == 0


def test_round_robin_is_even_and_hashing_by_page_hits_more():
    lines = list(generate.lines(6000, fmt="vhost", pages=400, rate=20))
    sim = simulate(
        lines,
        [Candidate("ingress-nginx", "$host$request_uri"), Candidate("round-robin")],
        fmt=generate.VHOST,
    )
    hashed, robin = sim.result().candidates
    assert [p.requests for p in robin.pods] == [1000] * 6
    assert robin.max_over_mean == 1.0 and robin.moved is None and not robin.hottest
    assert hashed.cache_hit_ratio > robin.cache_hit_ratio + 0.1


def ring_moved(before, after, keys):
    """Share of ``keys`` whose pod differs between nginx's rings of the two lists."""
    old, new = Ring.build("nginx", before), Ring.build("nginx", after)
    return sum(old.lookup(k) != new.lookup(k) for k in keys) / len(keys)


def test_moved_shares_match_the_placement_model():
    lines = list(generate.lines(2000, fmt="vhost", pages=500))
    sim = simulate(lines, [Candidate("nginx", "$host$request_uri")], fmt=generate.VHOST)
    moved = sim.result().candidates[0].moved
    keys = list(sim._key_ids[0])
    added = fresh_endpoint(PODS)
    assert moved.keys_on_add == pytest.approx(ring_moved(PODS, [*PODS, added], keys))
    assert moved.keys_on_remove == pytest.approx(ring_moved(PODS, PODS[:-1], keys))
    assert 0 < moved.keys_on_add < 0.5 and moved.added == str(added)


def test_hottest_keys_are_the_most_requested_with_their_pods():
    lines = [line(i, "/hot") for i in range(5)] + [line(9, "/cold")]
    sim = simulate(lines, [Candidate("ingress-nginx", "$request_uri")], top=1)
    (hot,) = sim.result().candidates[0].hottest
    assert (hot.key, hot.requests) == ("/hot", 5)
    assert hot.endpoint == str(
        Predictor("ingress-nginx", PODS, "$request_uri").ring.lookup(b"/hot")
    )


def test_an_empty_nginx_key_is_round_robin():
    lines = [line(i, "/x") for i in range(12)]
    fmt = '$msec $host $remote_addr "$request" $http_x_user'
    lines = [text.rstrip("\n") + " -\n" for text in lines]
    sim = simulate(lines, [Candidate("nginx", "$http_x_user")], fmt=fmt)
    result = sim.result().candidates[0]
    assert result.round_robin_requests == 12
    assert [p.requests for p in result.pods] == [2] * 6


def test_lines_that_do_not_parse_are_counted_and_shown_with_their_numbers():
    lines = [line(0, "/a"), "garbage\n", "\n", line(1, "/b"), 'x y z "GET - HTTP/1.1"\n']
    sim = simulate(lines, [Candidate("ingress-nginx", "$request_uri")])
    result = sim.result()
    assert (result.requests, result.skipped) == (2, 2)
    assert [(s.line, s.reason) for s in result.skipped_examples] == [
        (2, "does not match the log format"),
        (5, "request line 'GET - HTTP/1.1' has no target"),
    ]


def test_time_going_backwards_is_an_error_beyond_the_slack():
    ok = [line(100, "/a"), line(100 - TIME_SLACK, "/a"), line(101, "/a")]
    assert simulate(ok, [Candidate("nginx", "$request_uri")]).requests == 3
    bad = [line(100, "/a"), line(50, "/a")]
    with pytest.raises(ConfigError, match=r"line 2: time goes backwards .* \(50 s\)"):
        simulate(bad, [Candidate("nginx", "$request_uri")])


def test_a_format_without_time_needs_a_rate():
    extractor = Extractor.build('"$request"', ["$request_uri"])
    with pytest.raises(ConfigError, match="give --rate R"):
        Simulation(extractor, [Candidate("nginx", "$request_uri")], Settings(endpoints=PODS))


def test_the_urls_format_is_spaced_by_the_rate():
    lines = ["http://a.test/p\n"] * 10
    extractor = Extractor.build("urls", ["$request_uri"])
    candidate = [Candidate("ingress-nginx", "$request_uri")]
    fast = Simulation(extractor, candidate, Settings(endpoints=PODS, rate=100, cache_ttl=1))
    slow = Simulation(extractor, candidate, Settings(endpoints=PODS, rate=0.5, cache_ttl=1))
    fast.feed(lines, 1)
    slow.feed(lines, 1)
    assert fast.result().candidates[0].cache_hit_ratio == pytest.approx(0.9)
    assert slow.result().candidates[0].cache_hit_ratio == 0.0


def test_the_replay_sample_is_uniform_sized_ordered_and_seeded():
    lines = [line(i, f"/p{i}", client=f"10.0.{i // 250}.{i % 250}") for i in range(2000)]
    first = simulate(lines, [Candidate("nginx", "$request_uri")], sample=50).sample()
    again = simulate(lines, [Candidate("nginx", "$request_uri")], sample=50).sample()
    assert [s.line for s in first] == [s.line for s in again]
    assert len(first) == 50 and [s.line for s in first] == sorted(s.line for s in first)
    assert first[-1].line > 1000  # not just the head of the log
    assert first[0].record.request.client_ip  # kept for X-Forwarded-For
    everything = simulate(lines[:20], [Candidate("nginx", "$request_uri")], sample=50).sample()
    assert [s.line for s in everything] == list(range(1, 21))


def test_candidates_parse_from_the_command_line_form():
    assert Candidate.parse("nginx=$host$request_uri") == Candidate("nginx", "$host$request_uri")
    assert Candidate.parse("round-robin").label == "round-robin"
    assert Candidate.parse("haproxy=$host") == Candidate("haproxy", "$host")
    with pytest.raises(ConfigError, match="FLAVOR=EXPR"):
        Candidate.parse("traefik=$host")


def test_keys_are_shown_on_one_line():
    from ingressbed.accesslog.summary import show_key

    assert show_key(b"\nABC", binary_address=True) == "10.65.66.67"
    assert show_key(b"\nABC") == "\\nABC"
    assert show_key("/caf\u00e9".encode()) == "/café"
    assert show_key(b"/\xff") == "/\\xff"


@pytest.mark.parametrize("key", ["$request_uri", "$host", "$arg_id", "$http_x_user"])
def test_one_candidate_alone_or_among_others_gives_the_same_figures(key):
    # Alone, a key reading only the page's fields takes the one-candidate loop.
    fmt = '$msec $host $remote_addr "$request" $http_x_user'
    lines = []
    for i, url in enumerate(generate.lines(3000, fmt="urls", pages=80)):
        host, path = url.strip().split("/", 3)[2:]
        query = f"?id={i % 5}" if i % 3 else ""  # no id: nginx balances round robin
        user = f"u{i % 3}" if i % 4 else "-"
        lines.append(line(i / 7, f"/{path}{query}", host).rstrip("\n") + f" {user}\n")
    alone = simulate(lines, [Candidate("nginx", key)], fmt=fmt, cache_ttl=5)
    assert alone._single == (key != "$http_x_user")
    among = simulate(
        lines, [Candidate("round-robin"), Candidate("nginx", key)], fmt=fmt, cache_ttl=5
    )
    assert not among._single
    first = alone.result().candidates[0]
    assert first == among.result().candidates[1]
    assert 0 < first.cache_hit_ratio < 1
    assert (first.round_robin_requests > 0) == (key in ("$arg_id", "$http_x_user"))
