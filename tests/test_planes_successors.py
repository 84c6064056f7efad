"""The candidates that are not a hash key on the nginx and HAProxy planes (pure): cookie
persistence, least connections, service-upstream, and the refusals (``NoEquivalent``).

The real HAProxy and nginx run these renderings in tests/test_local_successors.py.
"""

from __future__ import annotations

import pytest

from ingressbed import catalog, layouts, planes
from ingressbed.errors import ConfigError, NoEquivalent
from ingressbed.placement.upstream import Pick
from ingressbed.placement.variables import Request
from ingressbed.planes.base import Listen, RunContext
from ingressbed.planes.haproxy import HaproxyBalance
from ingressbed.planes.haproxy_cookie import (
    HAPROXY_INGRESS,
    HAPROXY_INGRESS_POD_UID,
    HAPROXYTECH,
    HaproxyCookie,
    dynamic_cookie,
    pod_uid,
)
from ingressbed.planes.nginx import NginxBalance
from ingressbed.scenario.play import no_equivalent, required
from ingressbed.vocabulary import Capability, DataPlane, Endpoint, Flavor, Setup

SUCCESSORS = [p for p in DataPlane if p.flavor in (Flavor.NGINX, Flavor.HAPROXY)]
HAPROXY = [p for p in SUCCESSORS if p.flavor == Flavor.HAPROXY]
NGINX = [p for p in SUCCESSORS if p.flavor == Flavor.NGINX]
ENDPOINTS = [Endpoint(f"10.244.0.{i}", 8080) for i in range(2, 8)]
RUN = RunContext(Listen("127.9.9.1", 8000, 8001), "/tmp/run", 1, service_address="127.9.9.2")


def setup(**annotations: str) -> Setup:
    return layouts.setup("three-ports", annotations, host=None)


# -- the catalog: every candidate measured, or no equivalent --------------------------------


@pytest.mark.parametrize("plane", SUCCESSORS, ids=str)
def test_every_catalog_candidate_runs_or_has_no_equivalent(plane: DataPlane) -> None:
    """No candidate is skipped on these planes: each has expectations there and every
    capability it needs, or the plane says it has no equivalent (and the catalog states
    nothing for it)."""
    found = planes.plane(plane)
    absent = {}
    for candidate in catalog.load().candidates:
        reason = no_equivalent(candidate.scenario, plane.value)
        stated = candidate.scenario.expectations_for(plane.value)
        if reason:
            absent[candidate.id] = reason
            assert not stated, candidate.id
            continue
        assert stated, f"{candidate.id} states nothing for {plane}"
        lacking = set(required(candidate.scenario)) - found.local_capabilities
        assert not lacking, f"{candidate.id} needs {lacking} on {plane}"
    expected = {"subset-3", "legacy-hash-by"}
    if plane.flavor == Flavor.NGINX:
        expected |= {"cookie-balanced", "cookie-persistent"}
    assert set(absent) == expected
    assert all(
        "\n" not in why and why.startswith(f"{plane} has no equivalent") for why in absent.values()
    )


def test_a_legacy_controller_release_has_no_equivalent_on_a_successor() -> None:
    key = setup(**{"upstream-hash-by": "$host$request_uri"})
    for plane in SUCCESSORS:
        planes.translate(plane.value, key)  # the key itself translates
        with pytest.raises(NoEquivalent, match=r"below 0\.33"):
            planes.translate(plane.value, key, controller_version="0.25.0")
    assert planes.translate("ingress-nginx", key, controller_version="0.25.0").hashed
    with pytest.raises(ConfigError, match=r"not like 0\.25\.0"):
        planes.translate("haproxy", key, controller_version="soon")


@pytest.mark.parametrize("plane", SUCCESSORS, ids=str)
def test_subsets_have_no_equivalent(plane: DataPlane) -> None:
    subset = setup(**{"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true"})
    with pytest.raises(NoEquivalent, match="upstream-hash-by-subset"):
        planes.translate(plane.value, subset)
    with pytest.raises(NoEquivalent):
        planes.plane(plane).targets(subset)


@pytest.mark.parametrize("plane", NGINX, ids=str)
def test_sticky_cookies_have_no_equivalent_on_open_source_nginx(plane: DataPlane) -> None:
    with pytest.raises(NoEquivalent, match="NGINX Plus only"):
        planes.translate(plane.value, setup(affinity="cookie"))
    assert Capability.COOKIE not in planes.plane(plane).local_capabilities


# -- HAProxy's cookie persistence ----------------------------------------------------------


def test_the_dynamic_cookie_is_haproxys() -> None:
    # Set-Cookie of a real HAProxy 2.6.12 (dynamic-cookie-key ohph7OoGhong, the server
    # 127.21.211.11:8080); tests/test_local_successors.py checks every value against it.
    assert dynamic_cookie("ohph7OoGhong", Endpoint("127.21.211.11", 8080)) == "7f32ba55b2f9cbb3"
    other_port = dynamic_cookie("ohph7OoGhong", Endpoint("127.21.211.11", 9090))
    assert other_port != "7f32ba55b2f9cbb3"  # the port is hashed: another value per port
    assert len(dynamic_cookie("Ingress", Endpoint("fd00::1", 8080))) == 16


def test_the_pod_uid_stand_in_is_per_pod_and_the_same_on_every_port() -> None:
    cookie = HaproxyCookie("C", HAPROXY_INGRESS_POD_UID)
    a, b = Endpoint("10.0.0.1", 8080), Endpoint("10.0.0.1", 9090)
    assert cookie.value(a) == cookie.value(b) == pod_uid("10.0.0.1")
    assert cookie.value(a) != cookie.value(Endpoint("10.0.0.2", 8080))
    assert cookie.server_option(a) == f" cookie {cookie.value(a)}"
    assert cookie.key_line() is None
    assert cookie.line() == "cookie C insert indirect nocache httponly"


@pytest.mark.parametrize(
    ("plane", "style", "line"),
    [
        ("haproxy", HAPROXYTECH, "cookie INGRESSCOOKIE insert indirect nocache dynamic"),
        ("haproxy:map-based", HAPROXY_INGRESS, "cookie INGRESSCOOKIE insert indirect nocache "
         "httponly dynamic"),
        ("haproxy:pod-ids", HAPROXY_INGRESS_POD_UID, "cookie INGRESSCOOKIE insert indirect "
         "nocache httponly"),
    ],
)  # fmt: skip
def test_each_haproxy_plane_renders_its_controllers_cookie(plane, style, line) -> None:
    for mode in ("balanced", "persistent"):
        balance = planes.translate(plane, setup(affinity="cookie", **{"affinity-mode": mode}))
        assert isinstance(balance, HaproxyBalance)
        assert balance.cookie == HaproxyCookie("INGRESSCOOKIE", style)
        assert balance.method == "roundrobin" and not balance.hashed
        assert balance.describe() == f"{plane}: {line}, new visitors by balance roundrobin"
        assert any("one cookie mode" in note for note in balance.notes)
        assert any("rebalancing" in note for note in balance.notes) == (mode == "balanced")


def test_the_cookie_pins_its_server_and_a_stranger_is_anywhere() -> None:
    balance = planes.translate("haproxy", setup(affinity="cookie", **{"session-cookie-name": "S"}))
    upstream = balance.upstream(ENDPOINTS)
    assert upstream.pick(Request(client_ip="1.2.3.4")).why.startswith("no cookie naming a server")
    session = upstream.new_session("unused", lambda eps: eps[3])  # type: ignore[attr-defined]
    assert (session.name, session.endpoint) == ("S", ENDPOINTS[3])
    assert session.value == dynamic_cookie("ohph7OoGhong", ENDPOINTS[3])
    with_cookie = Request(client_ip="1.2.3.4", headers={"Cookie": f"x=1; S={session.value}"})
    assert upstream.pick(with_cookie) == Pick.to(ENDPOINTS[3])
    wrong_case = Request(client_ip="1.2.3.4", headers={"Cookie": f"s={session.value}"})
    assert not upstream.pick(wrong_case).fixed  # HAProxy compares the name with its case
    gone = Request(client_ip="1.2.3.4", cookies={"S": "0123456789abcdef"})
    assert not upstream.pick(gone).fixed  # a removed server's cookie is balanced anew
    assert upstream.shares() == {e: pytest.approx(1 / 6) for e in ENDPOINTS}
    assert upstream.ring() is None and upstream.repeat_chance() == 1.0


def test_unrendered_cookie_attributes_are_named() -> None:
    balance = planes.translate(
        "haproxy", setup(affinity="cookie", **{"session-cookie-max-age": "60"})
    )
    assert any("session-cookie-max-age" in note for note in balance.notes)


def test_the_haproxy_configuration_carries_the_cookie() -> None:
    for plane, expect_key, expect_server in [
        ("haproxy", 'dynamic-cookie-key "ohph7OoGhong"', None),
        ("haproxy:map-based", 'dynamic-cookie-key "Ingress"', None),
        ("haproxy:pod-ids", None, f"cookie {pod_uid('10.244.0.2')}"),
    ]:
        candidate = setup(affinity="cookie")
        balance = planes.translate(plane, candidate)
        (text,) = planes.plane(plane).render(candidate, balance, {8080: ENDPOINTS}, RUN).values()
        backend = text.split("backend hellogo-8080\n")[1].split("\n\n")[0]
        assert "    balance roundrobin\n" in backend and "hash-type" not in backend
        assert balance.cookie is not None and f"    {balance.cookie.line()}\n" in backend
        assert ("dynamic-cookie-key" in backend) == (expect_key is not None)
        if expect_key:
            assert f"    {expect_key}\n" in backend
        server = "    server pod-10.244.0.2 10.244.0.2:8080"  # no id: nothing is hashed
        assert f"{server}{' ' + expect_server if expect_server else ''}\n" in backend


# -- ewma and service-upstream -------------------------------------------------------------


@pytest.mark.parametrize("plane", SUCCESSORS, ids=str)
def test_ewma_becomes_the_nearest_load_aware_balance(plane: DataPlane) -> None:
    balance = planes.translate(plane.value, setup(**{"load-balance": "ewma"}))
    expected = {"nginx": "least-conn", "haproxy": "leastconn"}[plane.flavor.value]
    if plane == DataPlane.HAPROXY_POD_IDS:
        expected = "random(2)"  # haproxy-ingress's default
    assert balance.method == expected and not balance.hashed
    assert any("not by latency" in note for note in balance.notes)
    pick = balance.upstream(ENDPOINTS).pick(Request(client_ip="1.2.3.4"))
    assert not pick.fixed and pick.why
    assert Capability.EWMA in planes.plane(plane).local_capabilities


def test_least_conn_is_rendered() -> None:
    candidate = setup(**{"load-balance": "ewma"})
    for plane, line in [
        ("nginx:ip-hash", "        least_conn;\n"),
        ("haproxy", "balance leastconn"),
    ]:
        balance = planes.translate(plane, candidate)
        (text,) = planes.plane(plane).render(candidate, balance, {8080: ENDPOINTS}, RUN).values()
        assert line in text
    balance = planes.translate("haproxy:pod-ids", candidate)
    (text,) = (
        planes.plane("haproxy:pod-ids").render(candidate, balance, {8080: ENDPOINTS}, RUN).values()
    )
    assert "    balance random(2)\n" in text and "hash-type" not in text


@pytest.mark.parametrize("plane", SUCCESSORS, ids=str)
def test_service_upstream_is_one_server_the_services_address(plane: DataPlane) -> None:
    candidate = setup(**{"service-upstream": "true"})
    found = planes.plane(plane)
    balance = found.translate(candidate)
    assert isinstance(balance, NginxBalance | HaproxyBalance) and balance.service_upstream
    pods = {8080: ENDPOINTS, 9090: [Endpoint(e.address, 9090) for e in ENDPOINTS]}
    services = found.service_ports(candidate, pods, RUN)
    assert [(s.address, s.port, s.endpoints) for s in services] == [
        ("127.9.9.2", 8080, tuple(ENDPOINTS)),
        ("127.9.9.2", 9090, tuple(pods[9090])),
    ]
    assert found.peers(candidate, pods, RUN) == {
        8080: [Endpoint("127.9.9.2", 8080)],
        9090: [Endpoint("127.9.9.2", 9090)],
    }
    (text,) = found.render(candidate, balance, pods, RUN).values()
    assert "127.9.9.2:8080" in text and "10.244.0.2" not in text
    # without service-upstream: no Service, the pods are the peers
    plain = setup()
    assert found.service_ports(plain, pods, RUN) == []
    assert found.peers(plain, pods, RUN) == {port: list(eps) for port, eps in pods.items()}
    without = RunContext(RUN.listen, RUN.run_dir, 1)
    with pytest.raises(ConfigError, match="needs a Service address"):
        found.render(candidate, balance, pods, without)
