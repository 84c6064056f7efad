"""Properties from observations."""

from __future__ import annotations

from ingressbed import measure
from ingressbed.placement.upstream import Pick
from ingressbed.vocabulary import Endpoint, Observation


def obs(client="c", route="/8080", pod="p1", cache=None, key="/", ip="127.0.0.10", port=8080):
    return Observation(
        protocol="http",
        client=client,
        host="h",
        key=key,
        pod=pod,
        pod_ip=ip,
        port=port,
        status=200 if pod else 0,
        cache_status=cache,
        route=route,
    )


def test_stickiness_counts_keys_on_one_pod():
    data = [obs("a", pod="p1"), obs("a", pod="p1"), obs("b", pod="p1"), obs("b", pod="p2")]
    result = measure.stickiness(data)
    assert (result.keys, result.sticky) == (2, 1)
    assert result.loose == ((("b", "/8080"), ("p1", "p2")),)


def test_same_pod_across_routes_is_stickiness_keyed_by_client():
    data = [
        obs("a", "/8080", "p1"),
        obs("a", "/9090", "p1"),
        obs("b", "/8080", "p1"),
        obs("b", "/9090", "p2"),
    ]
    result = measure.stickiness(data, lambda o: o.client)
    assert (result.keys, result.sticky) == (2, 1)
    assert result.share == 0.5
    assert result.loose == (("b", ("p1", "p2")),)
    assert measure.stickiness([]).share == 0.0


def test_spread_includes_idle_pods():
    data = [obs(pod="p1")] * 3 + [obs(pod="p2")]
    result = measure.spread(data, pods=["p1", "p2", "p3"])
    assert result.counts == {"p1": 3, "p2": 1, "p3": 0}
    assert result.max_mean == 3 / (4 / 3)
    assert result.pods_used == 2
    assert result.cv > 0
    assert measure.spread([obs(pod="p1"), obs(pod="p2")]).cv == 0


def test_assignment_is_each_keys_most_frequent_pod():
    data = [obs("a", pod="p1"), obs("a", pod="p2"), obs("a", pod="p2"), obs("b", pod="")]
    assert measure.assignment(data, lambda o: o.client) == {"a": "p2"}


def test_agreement():
    data = [obs(ip="127.0.0.10"), obs(ip="127.0.0.11"), obs(pod="")]
    result = measure.agreement(data, lambda o: Pick.to(Endpoint("127.0.0.10", 8080)))
    assert (result.total, result.agree, result.unpredictable) == (2, 1, 0)
    assert result.mismatches[0][1] == "127.0.0.10:8080"


def test_agreement_counts_unpredictable_answers_against():
    data = [obs(ip="127.0.0.10"), obs(ip="127.0.0.11"), obs(ip="127.0.0.12")]

    def predict(o):
        if o.pod_ip == "127.0.0.10":
            return Pick.to(Endpoint("127.0.0.10", 8080))
        return Pick.anywhere("round-robin")

    result = measure.agreement(data, predict)
    assert (result.total, result.agree, result.unpredictable) == (3, 1, 2)
    assert result.unpredictable_example == "round-robin" and result.share == 1 / 3


def test_agreement_with_a_group_allows_any_member():
    group = Pick.group([Endpoint("127.0.0.10", 8080), Endpoint("127.0.0.11", 8080)])
    data = [obs(ip="127.0.0.10"), obs(ip="127.0.0.11"), obs(ip="127.0.0.12")]
    result = measure.agreement(data, lambda o: group)
    assert (result.total, result.agree) == (3, 2)
