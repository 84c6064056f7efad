"""Analysis figures: sanity and the consistent-hashing properties they must show.

Thresholds never flake (docs/scenarios.md, "Expectations that do not flake"): a sampled
figure is compared with its exact value on the ring, allowing 4 binomial standard deviations.
"""

from __future__ import annotations

import pytest

from ingressbed import planes
from ingressbed.errors import ConfigError
from ingressbed.placement import (
    Request,
    Ring,
    analyze,
    moved_share,
    sample_requests,
    spread,
    synthetic_endpoints,
)
from ingressbed.vocabulary import Endpoint

KEYS = 6000
LUA = planes.plane("ingress-nginx").for_key("$remote_addr")


def four_sigma(p: float, n: int) -> float:
    return 4 * (p * (1 - p) / n) ** 0.5


def run(plane: str, endpoints: list[Endpoint], key: str, **options):
    """``analyze`` of ``key`` as ``plane`` renders it."""
    balance = planes.plane(plane).for_key(key)
    return analyze(balance, endpoints, plane=plane, hash_by=key, **options)


@pytest.fixture(scope="module")
def client_keys() -> list[Request]:
    return sample_requests(KEYS, seed=7)


def test_samples_are_reproducible() -> None:
    assert sample_requests(5, 3) == sample_requests(5, 3)
    assert sample_requests(5, 3) != sample_requests(5, 4)
    with pytest.raises(ConfigError):
        sample_requests(0, 1)


def test_spread_figures(client_keys: list[Request]) -> None:
    pods = synthetic_endpoints(6)
    result = spread(LUA.upstream(pods), client_keys)
    assert sum(result.counts.values()) == KEYS
    assert sum(result.shares.values()) == pytest.approx(1.0)
    assert sum(result.ring_shares.values()) == pytest.approx(1.0)
    assert result.max_over_mean >= 1.0 and result.cv >= 0.0
    for name, share in result.ring_shares.items():
        assert abs(result.shares[name] - share) < four_sigma(share, KEYS)
    # 160 points per pod keep the ring within about 25% of even for six pods.
    assert result.ring_max_over_mean < 1.25


def test_moved_share_six_to_seven_is_the_new_pods_arc(client_keys: list[Request]) -> None:
    six = synthetic_endpoints(6)
    seven = synthetic_endpoints(7)
    exact = Ring.build("ingress-nginx", seven).shares()[seven[-1]]
    # The new pod's arc: near 1/7 (one node's share varies by ~1/sqrt(160) relative).
    assert abs(exact - 1 / 7) < 0.05
    moved = moved_share(LUA, six, seven, client_keys)
    assert abs(moved - exact) < four_sigma(exact, KEYS)
    # Every moved key goes to the new pod; removing it moves exactly those keys back.
    old, new = Ring.build("ingress-nginx", six), Ring.build("ingress-nginx", seven)
    for request in client_keys[:2000]:
        key = LUA.key(request)
        if old.lookup(key) != new.lookup(key):
            assert new.lookup(key) == seven[-1]
    assert moved_share(LUA, seven, six, client_keys) == moved


def test_analyze_end_to_end() -> None:
    result = run(
        "nginx", synthetic_endpoints(6), "$remote_addr", keys=3000, seed=5, ports=[8080, 9090, 8081]
    )
    assert result.added == "10.244.0.8:8080"
    assert result.removed == "10.244.0.7:8080"
    assert 0 < result.moved_on_add < 0.35 and result.moved_on_remove is not None
    assert set(result.same_pod_pairs) == {"8080,9090", "8080,8081", "9090,8081"}
    # Unrelated rings per port: about 1/6 agree per pair, about 1/36 on all three.
    for share in result.same_pod_pairs.values():
        assert 0.05 < share < 0.35
    assert result.same_pod_all_ports is not None and result.same_pod_all_ports < 0.1
    data = result.to_dict()
    assert data["spread"]["counts"] == result.spread.counts
    assert (
        run("nginx", synthetic_endpoints(6), "$remote_addr", keys=10).to_dict()
        == run("nginx", synthetic_endpoints(6), "$remote_addr", keys=10).to_dict()
    )


def test_constant_key_and_round_robin() -> None:
    one = run("ingress-nginx", synthetic_endpoints(4), "$host", keys=200)
    assert sorted(one.spread.counts.values()) == [0, 0, 0, 200]
    assert one.moved_on_add in (0.0, 1.0)
    rr = run("nginx", synthetic_endpoints(4), "$arg_missing", keys=50)
    assert rr.spread.round_robin == 50 and rr.moved_on_add == 0.0


def test_every_plane_is_analysed_with_its_own_picks() -> None:
    # HAProxy's balance source keeps a client on one pod on every port (ids, not
    # addresses); nginx's ring splits clients across ports.
    haproxy = run("haproxy", synthetic_endpoints(6), "$remote_addr", keys=500, ports=[8080, 9090])
    assert haproxy.same_pod_all_ports == 1.0 and haproxy.flavor == "haproxy"
    ring = run("nginx", synthetic_endpoints(6), "$remote_addr", keys=500, ports=[8080, 9090])
    assert ring.same_pod_all_ports is not None and ring.same_pod_all_ports < 0.5
    # ip_hash on a URL key: the client decides (clients are random, so picks still spread)
    ip_hash = run("nginx:ip-hash", synthetic_endpoints(6), "$request_uri", keys=500)
    assert ip_hash.spread.round_robin == 0 and sum(ip_hash.spread.counts.values()) == 500


def test_fresh_endpoint_skips_taken_addresses() -> None:
    listed = [Endpoint("10.0.0.4", 80), Endpoint("10.0.0.3", 80)]
    assert run("nginx", listed, "$remote_addr", keys=10).added == "10.0.0.5:80"
    mixed = [Endpoint("10.0.0.4", 80), Endpoint("fd00::9", 80)]
    assert run("nginx", mixed, "$remote_addr", keys=10).added == "[fd00::a]:80"
    with pytest.raises(ConfigError):
        synthetic_endpoints(0)
