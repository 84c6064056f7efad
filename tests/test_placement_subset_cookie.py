"""Subset hashing and cookie affinity: what the controller's rules let us predict."""

from __future__ import annotations

import hashlib

import pytest

from ingressbed.errors import ConfigError
from ingressbed.placement import (
    Predictor,
    Request,
    Ring,
    SubsetRing,
    backend_key,
    backend_name,
    balanced_cookie,
    persistent_cookie,
    predict_cookie,
    predict_subset,
    session_kept,
    split_cookie,
    subset_groups,
)
from ingressbed.vocabulary import Endpoint

PODS = [Endpoint(f"10.244.0.{i}", 8080) for i in range(2, 9)]  # seven pods


def test_groups_are_consecutive_and_the_last_is_padded_from_the_start() -> None:
    groups = subset_groups(PODS, 3)
    assert list(groups) == ["set1", "set2", "set3"]
    assert groups["set1"] == tuple(PODS[0:3])
    assert groups["set2"] == tuple(PODS[3:6])
    assert groups["set3"] == (PODS[6], PODS[0], PODS[1])  # padded with the head of the list
    assert subset_groups(PODS[:6], 3)["set2"] == tuple(PODS[3:6])  # even split: no padding
    # Fewer endpoints than the size: the list is reused cyclically.
    assert subset_groups(PODS[:2], 5) == {"set1": (PODS[0], PODS[1], PODS[0], PODS[1], PODS[0])}


def test_bad_subsets() -> None:
    with pytest.raises(ConfigError, match="subset size"):
        subset_groups(PODS, 0)
    with pytest.raises(ConfigError, match="no endpoints"):
        subset_groups([], 3)
    with pytest.raises(ConfigError, match="only in ingress-nginx"):
        Predictor("nginx", PODS, "$request_uri", subset_size=3)


def test_group_names_are_the_ring_nodes() -> None:
    ring = SubsetRing.build(PODS, 3)
    names = Ring([b"set1", b"set2", b"set3"], ["set1", "set2", "set3"])
    for i in range(200):
        key = f"/item/{i}".encode()
        assert ring.group_name(key) == names.lookup(key)
        assert ring.lookup(key) == subset_groups(PODS, 3)[names.lookup(key)]


def test_predict_subset_sticks_a_key_to_one_group() -> None:
    request = Request(request_uri="/same")
    group = predict_subset(PODS, "$request_uri", request, size=3)
    assert len(group) == 3
    assert group == Predictor("ingress-nginx", PODS, "$request_uri", subset_size=3).pick_group(
        request
    )
    # The upstream e2e case: 6 replicas, size 3 -> every request of one key sees 3 pods.
    assert len(set(predict_subset(PODS[:6], "$request_uri", request, size=3))) == 3
    # Legacy grammar: "nil" picks one group for everything.
    legacy = {
        predict_subset(
            PODS, "$host$request_uri", Request(request_uri=f"/{i}"), controller_version="0.25.0"
        )
        for i in range(30)
    }
    assert len(legacy) == 1


def test_cookie_value_parts() -> None:
    name = backend_name("default", "hellogo", 8080)
    assert name == "default-hellogo-8080"
    inner = hashlib.md5(name.encode()).hexdigest()
    assert backend_key(name) == hashlib.md5((inner + name).encode()).hexdigest()
    assert split_cookie("abc|def") == ("abc", "def")
    assert split_cookie("|abc") == ("abc", None)  # empty pieces are skipped
    assert split_cookie("") == (None, None)
    assert backend_key(name) != backend_key(backend_name("default", "hellogo", 9090))


def test_persistent_cookie_pins_its_endpoint_while_it_lives() -> None:
    name = backend_name("default", "hellogo", 8080)
    cookie = persistent_cookie(name, PODS[3])
    key = hashlib.md5((name + "10.244.0.5:8080").encode()).hexdigest()
    assert cookie == f"{key}|{backend_key(name)}"
    assert predict_cookie("persistent", PODS, cookie, backend=name) == PODS[3]
    # Scaling up moves no session; losing the pod means a new random pick (None).
    assert session_kept("persistent", PODS[:5], PODS, cookie, backend=name)
    assert predict_cookie("persistent", PODS[:3], cookie, backend=name) is None
    # The 9090 backend salts with its own name: an 8080 cookie does not pin a 9090 pod.
    other = backend_name("default", "hellogo", 9090)
    on_9090 = [Endpoint(e.address, 9090) for e in PODS]
    assert predict_cookie("persistent", on_9090, cookie, backend=other) is None
    with pytest.raises(ConfigError, match="backend name"):
        predict_cookie("persistent", PODS, cookie)


def test_balanced_cookie_follows_the_ring() -> None:
    name = backend_name("default", "hellogo", 8080)
    ring = Ring.build("ingress-nginx", PODS)
    for i in range(50):
        cookie = balanced_cookie(f"1700000000.{i}.123.{i * 7919}", name)
        key = cookie.split("|")[0].encode()
        assert predict_cookie("balanced", PODS, cookie) == ring.lookup(key)
    # Removing a pod moves only the sessions it held; adding one moves only what it takes.
    kept = moved = 0
    bigger = [*PODS, Endpoint("10.244.0.9", 8080)]
    for i in range(400):
        cookie = balanced_cookie(f"k{i}", name)
        before = predict_cookie("balanced", PODS, cookie)
        after = predict_cookie("balanced", bigger, cookie)
        if before == after:
            kept += 1
        else:
            moved += 1
            assert after == bigger[-1]
    assert kept and moved
    assert predict_cookie("balanced", PODS, None) is None  # first visit: random
    with pytest.raises(ConfigError, match="affinity-mode"):
        predict_cookie("sticky", PODS, "x")
