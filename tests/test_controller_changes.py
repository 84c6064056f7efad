"""What a running controller does with a change: reload or not, and the stale hash key."""

from __future__ import annotations

from ingressbed.controller import apply, balancers, build
from ingressbed.vocabulary import Endpoint
from tests.controller_helpers import endpoints, ingress, service

HOST = "app.example.com"
BACKEND = "default-app-80"


def config(annotations: dict[str, str], *, count: int = 3, extra_path: bool = False, **kwargs):
    paths = [(HOST, "/", "app", 80)] + ([(HOST, "/new", "app", 80)] if extra_path else [])
    return build(
        [ingress("web", paths, annotations)], [service("app")], endpoints("app", count), **kwargs
    )


def test_a_new_hash_key_alone_needs_no_reload_and_is_not_applied():
    before = config({"upstream-hash-by": "$binary_remote_addr"})
    after = config({"upstream-hash-by": "$request_uri"})
    change = apply(before, after)
    assert not change.reload
    assert [(b.backend, b.kind, b.fields) for b in change.backends] == [
        (BACKEND, "settings", ("upstreamHashByConfig",))
    ]
    assert change.balancers[BACKEND].hash_by == "$binary_remote_addr"
    [stale] = change.stale
    assert (stale.setting, stale.posted, stale.in_force) == (
        "upstream-hash-by",
        "$request_uri",
        "$binary_remote_addr",
    )
    assert "an nginx reload" in stale.until


def test_the_old_key_survives_an_endpoint_change_and_ewma():
    first = config({"upstream-hash-by": "$binary_remote_addr"})
    second = config({"upstream-hash-by": "$request_uri"}, count=4)
    change = apply(first, second)
    assert change.balancers[BACKEND].endpoints == second.backend(BACKEND).endpoints
    assert change.balancers[BACKEND].hash_by == "$binary_remote_addr"
    third = config({"upstream-hash-by": "$request_uri", "load-balance": "ewma"}, count=4)
    later = apply(second, third, change.balancers)
    assert later.balancers[BACKEND].implementation == "chash"
    assert [s.in_force for s in later.stale] == ["$binary_remote_addr"]


def test_round_robin_in_between_resets_the_key():
    first = config({"upstream-hash-by": "$binary_remote_addr"})
    plain = config({})
    step = apply(first, plain)
    assert step.balancers[BACKEND].implementation == "round_robin"
    back = apply(plain, config({"upstream-hash-by": "$request_uri"}), step.balancers)
    assert back.balancers[BACKEND].hash_by == "$request_uri"
    assert back.stale == ()


def test_an_empty_endpoint_list_drops_the_balancer_and_resets_the_key():
    first = config({"upstream-hash-by": "$binary_remote_addr"})
    empty = config({"upstream-hash-by": "$request_uri"}, count=0)
    step = apply(first, empty)
    assert BACKEND not in step.balancers  # 503 meanwhile
    back = apply(empty, config({"upstream-hash-by": "$request_uri"}), step.balancers)
    assert back.balancers[BACKEND].hash_by == "$request_uri"


def test_a_reload_for_another_reason_applies_the_new_key():
    before = config({"upstream-hash-by": "$binary_remote_addr"})
    after = config({"upstream-hash-by": "$request_uri"}, extra_path=True)
    change = apply(before, after)
    assert change.reload
    assert change.reasons == ("server app.example.com: locations /new, /new/ change",)
    assert change.balancers[BACKEND].hash_by == "$request_uri"
    assert change.stale == ()


def test_scaling_changes_endpoints_only():
    before, after = config({}), config({}, count=5)
    change = apply(before, after)
    assert (change.reload, change.endpoints_only) == (False, (BACKEND,))
    assert len(change.balancers[BACKEND].endpoints) == 5


def test_a_subset_size_needs_an_endpoint_change_to_apply():
    subset = {"upstream-hash-by": "$uri", "upstream-hash-by-subset": "true"}
    before = config(subset)
    resized = config({**subset, "upstream-hash-by-subset-size": "2"})
    change = apply(before, resized)
    assert [(s.setting, s.posted, s.in_force) for s in change.stale] == [
        ("upstream-hash-by-subset-size", "2", "3")
    ]
    scaled = config({**subset, "upstream-hash-by-subset-size": "2"}, count=4)
    later = apply(resized, scaled, change.balancers)
    assert later.balancers[BACKEND].subset_size == 2 and later.stale == ()


def test_cookie_settings_of_a_sticky_backend_apply_at_once():
    before = config({"affinity": "cookie"})
    after = config({"affinity": "cookie", "session-cookie-path": "/", "session-cookie-name": "s"})
    change = apply(before, after)
    assert not change.reload
    held = change.balancers[BACKEND].affinity
    assert held is not None and (held.cookie.path, held.cookie.name) == ("/", "s")
    assert change.stale == ()


def test_a_subset_balancer_keeps_its_canary_settings():
    subset = {"upstream-hash-by": "$uri", "upstream-hash-by-subset": "true"}

    def with_canary(weight: str):
        return build(
            [
                ingress("web", [(HOST, "/", "app", 80)], subset),
                ingress(
                    "canary",
                    [(HOST, "/", "app-v2", 80)],
                    {"canary": "true", "canary-weight": weight, **subset},
                    order=1,
                ),
            ],
            [service("app"), service("app-v2")],
            {**endpoints("app"), **endpoints("app-v2", net=1)},
        )

    change = apply(with_canary("10"), with_canary("90"))
    assert not change.reload
    [stale] = change.stale
    assert (stale.backend, stale.setting) == ("default-app-v2-80", "trafficShapingPolicy")
    assert change.balancers["default-app-v2-80"].traffic_shaping.weight == 10


def test_configmap_changes_reload_unless_the_effective_value_stays():
    plain = config({})
    assert apply(plain, config({}, configmap={"load-balance": "round_robin"})).reload is False
    change = apply(plain, config({}, configmap={"load-balance": "ewma"}))
    assert change.reasons == ("ConfigMap key load-balance changes",)
    assert change.balancers[BACKEND].implementation == "ewma"


def test_fresh_balancers_leave_out_backends_without_endpoints():
    started = balancers(config({}, count=0))
    assert set(started) == {"upstream-default-backend"}
    assert started["upstream-default-backend"].endpoints == (Endpoint("127.0.0.1", 8181),)
