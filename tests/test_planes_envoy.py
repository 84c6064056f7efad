"""The envoy planes, pure: the translation of each candidate, the picks of its upstreams, the
files rendered for it, and what Envoy's stats and log say (no process runs)."""

from __future__ import annotations

import pytest
import yaml

from ingressbed import layouts, planes
from ingressbed.errors import ConfigError, NoEquivalent
from ingressbed.placement.envoy import EnvoyPredictor
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.placement.envoy_session import decode, encode
from ingressbed.placement.upstream import Pick
from ingressbed.placement.variables import Request
from ingressbed.planes import FlavorOptions, envoy_conf
from ingressbed.planes.base import Listen, RunContext
from ingressbed.planes.envoy import EnvoyBalance
from ingressbed.planes.envoy_upstreams import NO_COOKIE, NO_SESSION
from ingressbed.vocabulary import Endpoint, Setup

PODS = [Endpoint(f"10.244.0.{n}", 8080) for n in (2, 10, 100, 11, 25, 200)]
RUN = RunContext(Listen("127.9.9.1", 8000, 8001), "/run", 7, service_address="127.9.9.2")


def three(**annotations: str) -> Setup:
    return layouts.setup("three-ports", annotations)


def balance(setup: Setup, plane: str = "envoy") -> EnvoyBalance:
    found = planes.translate(plane, setup)
    assert isinstance(found, EnvoyBalance)
    return found


@pytest.mark.parametrize(
    ("key", "kind", "policies"),
    [
        ("$binary_remote_addr", "SourceIP", (HashPolicy("source-ip"),)),
        ("$remote_addr", "SourceIP", (HashPolicy("source-ip"),)),
        ("$http_x_user", "Headers", (HashPolicy("header", "x-user"),)),
        ("$cookie_sid", "Cookie", (HashPolicy("cookie", "sid"),)),
        ("$arg_u", "QueryParams", (HashPolicy("query", "u"),)),
        ("$request_uri", "Headers", (HashPolicy("header", ":path"),)),
        ("$host", "Headers", (HashPolicy("header", ":authority"),)),
        ("$host$request_uri", "Headers",
         (HashPolicy("header", ":authority"), HashPolicy("header", ":path"))),
        ("${arg_a}-${arg_b}", "QueryParams", (HashPolicy("query", "a"), HashPolicy("query", "b"))),
    ],
)  # fmt: skip
def test_each_key_becomes_its_consistent_hash(key: str, kind: str, policies: tuple) -> None:
    found = balance(three(**{"upstream-hash-by": key}))
    assert (found.method, found.hash_type, found.policies) == ("maglev", kind, policies)
    assert found.hash_by == key and found.hashed and found.consistent
    assert found.client == ClientDetection(trusted_hops=1)
    ring = balance(three(**{"upstream-hash-by": key}), "envoy:ring-hash")
    assert ring.method == "ring-hash" and ring.policies == policies


@pytest.mark.parametrize(
    ("annotations", "words"),
    [
        ({"upstream-hash-by": "$uri"}, "'$uri' has no Envoy Gateway equivalent: `$uri` is"),
        ({"upstream-hash-by": "$remote_addr$request_uri"}, "mixes SourceIP and Headers"),
        ({"upstream-hash-by": "$cookie_a$cookie_b"}, "Cookie takes one Cookie"),
        ({"upstream-hash-by": "fixed"}, "reads no variable"),
        ({"upstream-hash-by": "$args"}, "only together with the path"),
        ({"upstream-hash-by": "$remote_addr", "upstream-hash-by-subset": "true"}, "subset"),
    ],
)
def test_what_envoy_gateway_cannot_express_is_no_equivalent(annotations, words) -> None:
    with pytest.raises(NoEquivalent) as caught:
        planes.translate("envoy", three(**annotations))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_key_ingress_nginx_refuses_is_refused_its_way() -> None:
    with pytest.raises(ConfigError, match="unsupported variable"):
        planes.translate("envoy", three(**{"upstream-hash-by": "$server_addr"}))


def test_the_other_candidates() -> None:
    cookie = balance(three(affinity="cookie", **{"session-cookie-max-age": "60"}))
    assert cookie.policies == (HashPolicy("cookie", "INGRESSCOOKIE", ttl=60),)
    assert not cookie.hashed  # the first visit is the connection's cookie, not a key
    assert balance(three(affinity="cookie")).policies[0].ttl == 0  # a browser-session cookie
    session = balance(three(affinity="cookie", **{"affinity-mode": "persistent"}))
    assert session.session is not None and session.session.name == "INGRESSCOOKIE"
    assert session.method == "least-request"
    assert balance(three(**{"load-balance": "ewma"})).method == "least-request"
    assert balance(three()).method == "round-robin"
    service = balance(three(**{"service-upstream": "true"}))
    assert service.service and not service.hashed
    with pytest.raises(ConfigError, match="session-cookie-max-age 'soon'"):
        planes.translate("envoy", three(affinity="cookie", **{"session-cookie-max-age": "soon"}))


def test_the_default_policy_trap_is_said() -> None:
    trap = layouts.setup("one-port", {"upstream-hash-by": "$remote_addr"},
                         controller={"use-forwarded-headers": "false"})  # fmt: skip
    found = balance(trap)
    assert found.client == ClientDetection()
    assert any("TCP peer" in note for note in found.notes)
    upstream = found.upstream(PODS)
    one = {upstream.pick(Request(client_ip=f"10.0.0.{n}", peer="192.0.2.1")) for n in range(40)}
    assert len(one) == 1  # forty clients behind one address: one pod


def test_hash_picks_are_the_flavors_and_a_missing_value_is_random() -> None:
    found = balance(three(**{"upstream-hash-by": "$http_x_user"}))
    upstream = found.upstream(PODS)
    model = EnvoyPredictor(PODS, policies=[HashPolicy("header", "x-user")])
    for user in ("a", "b", "c"):
        request = Request(headers={"X-User": user})
        assert upstream.pick(request) == Pick.to(model.pick(request))  # type: ignore[arg-type]
    assert upstream.pick(Request()) == Pick.anywhere("random")
    assert sum(upstream.shares().values()) == pytest.approx(1.0)
    assert found.key(Request(headers={"X-User": "a"})) != found.key(
        Request(headers={"X-User": "b"})
    )


def test_cookie_upstreams_say_what_the_first_visit_is_and_pin_the_rest() -> None:
    balanced = balance(three(affinity="cookie")).upstream(PODS)
    assert balanced.pick(Request()) == Pick.anywhere(NO_COOKIE)
    session = balanced.new_session("a1b2", lambda eps: eps[0])  # type: ignore[attr-defined]
    assert balanced.pick(Request(cookies={"INGRESSCOOKIE": f'"{session.value}"'})) == Pick.to(
        session.endpoint
    )
    persistent = balance(three(affinity="cookie", **{"affinity-mode": "persistent"}))
    sticky = persistent.upstream(PODS)
    assert sticky.pick(Request()) == Pick.anywhere(NO_SESSION)
    pinned = Request(cookies={"INGRESSCOOKIE": encode(PODS[3], expiry=1796481900)})
    assert sticky.pick(pinned) == Pick.to(PODS[3])
    gone = Request(cookies={"INGRESSCOOKIE": encode(Endpoint("10.9.9.9", 8080))})
    assert not sticky.pick(gone).fixed


def test_the_session_cookie_is_the_protobuf_envoy_writes() -> None:
    # The value the real Envoy set for 127.61.0.2:8080 with a TTL (envoy-facts.md).
    assert decode('"Cg8xMjcuNjEuMC4yOjgwODAQ7MbQ2AY="') == ("127.61.0.2:8080", 1796481900)
    assert encode(Endpoint("127.61.0.2", 8080), 1796481900) == "Cg8xMjcuNjEuMC4yOjgwODAQ7MbQ2AY="
    assert decode(encode(Endpoint("fd00::1", 9090))) == ("[fd00::1]:9090", None)
    assert decode("not base64!") is None


def _files(setup: Setup, plane: str = "envoy") -> dict[str, dict]:
    found = planes.plane(plane)
    peers = {port: [Endpoint(e.address, port) for e in PODS] for port in setup.ingress.ports}
    texts = found.render(setup, found.translate(setup), peers, RUN)
    return {name: yaml.safe_load(text) for name, text in texts.items()}


def test_the_files_come_bootstrap_first_then_in_the_order_envoy_needs_them() -> None:
    files = _files(three(**{"upstream-hash-by": "$request_uri"}))
    assert list(files) == [
        "bootstrap.yaml",
        "eds-hellogo-8080.yaml",
        "eds-hellogo-8081.yaml",
        "eds-hellogo-9090.yaml",
        "cds.yaml",
        "rds.yaml",
        "lds.yaml",
    ]
    admin = files["bootstrap.yaml"]["admin"]["address"]["socket_address"]
    assert (admin["address"], admin["port_value"]) == ("127.9.9.1", 8001)
    assert {f.get("version_info") for n, f in files.items() if n != "bootstrap.yaml"} == {"7"}
    routes = files["rds.yaml"]["resources"][0]["virtual_hosts"][0]["routes"]
    assert {str(r["route"]["hash_policy"]) for r in routes} == {
        str([{"header": {"header_name": ":path"}}])
    }
    clusters = files["cds.yaml"]["resources"]
    policy = clusters[0]["load_balancing_policy"]["policies"][0]["typed_extension_config"]
    assert policy["typed_config"]["table_size"] == 65537


def test_the_listener_has_envoy_gateways_path_and_client_settings() -> None:
    manager = _files(three())["lds.yaml"]["resources"][0]["filter_chains"][0]["filters"][0]
    config = manager["typed_config"]
    assert config["normalize_path"] and config["merge_slashes"]
    assert config["path_with_escaped_slashes_action"] == "UNESCAPE_AND_REDIRECT"
    assert config["use_remote_address"] is False
    xff = config["original_ip_detection_extensions"][0]["typed_config"]
    assert xff["xff_num_trusted_hops"] == 0  # numTrustedHops 1
    trap = layouts.setup("one-port", controller={"use-forwarded-headers": "false"})
    bare = _files(trap)["lds.yaml"]["resources"][0]["filter_chains"][0]["filters"][0]
    assert bare["typed_config"]["use_remote_address"] is True


def test_a_session_route_turns_the_stateful_session_on_with_its_own_path() -> None:
    files = _files(three(affinity="cookie", **{"affinity-mode": "persistent"}))
    routes = files["rds.yaml"]["resources"][0]["virtual_hosts"][0]["routes"]
    paths = {
        r["typed_per_filter_config"]["envoy.filters.http.stateful_session"]["stateful_session"][
            "session_state"
        ]["typed_config"]["cookie"]["path"]
        for r in routes
    }
    assert paths == {"/8080", "/9090", "/ws"}
    listener = files["lds.yaml"]["resources"][0]["filter_chains"][0]["filters"][0]
    first = listener["typed_config"]["http_filters"][0]
    assert first["name"] == "envoy.filters.http.stateful_session" and first["disabled"] is True


def test_service_upstream_sends_each_port_to_the_service_address() -> None:
    setup = three(**{"service-upstream": "true"})
    files = _files(setup)
    eds = files["eds-hellogo-9090.yaml"]["resources"][0]["endpoints"][0]["lb_endpoints"]
    assert [e["endpoint"]["address"]["socket_address"] for e in eds] == [
        {"address": "127.9.9.2", "port_value": 9090}
    ]
    plane = planes.plane("envoy")
    services = plane.service_ports(setup, {9090: PODS}, RUN)
    assert [(s.address, s.port, len(s.endpoints)) for s in services] == [("127.9.9.2", 9090, 6)]


STATS = """cluster.hellogo-8080.version_text: "7"
cluster_manager.cds.version_text: "7"
cluster_manager.warming_clusters: 0
http.ingress.rds.ingress.version_text: "7"
listener_manager.lds.version_text: "7"
listener_manager.total_listeners_warming: 0
"""


def test_in_force_needs_every_version_and_nothing_warming() -> None:
    assert envoy_conf.in_force(STATS, 7)
    assert not envoy_conf.in_force(STATS, 8)
    assert not envoy_conf.in_force(None, 7)
    assert not envoy_conf.in_force(
        STATS.replace('8080.version_text: "7"', '8080.version_text: "6"'), 7
    )
    assert not envoy_conf.in_force(STATS.replace("warming_clusters: 0", "warming_clusters: 1"), 7)
    assert not envoy_conf.in_force(STATS.replace("listener_manager.lds", "x"), 7)


def test_a_refusal_in_the_log_is_one_line_naming_the_file() -> None:
    log = (
        "[2026-12-05 16:57:34.500][1][info][upstream] cds: applying changes\n"
        "[2026-12-05 16:57:34.500][1][warning][config] [x.cc:64] Filesystem config update "
        "rejected: Error adding/updating cluster(s) hellogo-8080: The table size of maglev "
        "must be prime number\n"
    )
    assert envoy_conf.refusal(log) == (
        "cds.yaml: Error adding/updating cluster(s) hellogo-8080: The table size of maglev "
        "must be prime number"
    )
    dumped = (
        "[2026-12-05 16:57:34.499][1][warning][config] [x.cc:64] Filesystem config update "
        'rejected: dump\nname: "ingress"\n}\n: Proto constraint validation failed '
        "(RouteConfigurationValidationError.VirtualHosts[0]: embedded message failed "
        "validation | caused by HeaderValidationError.HeaderName: value length must be at "
        "least 1 characters)\n"
    )
    assert envoy_conf.refusal(dumped) == (
        "rds.yaml: Proto constraint validation failed: HeaderValidationError.HeaderName: value "
        "length must be at least 1 characters"
    )
    assert envoy_conf.refusal("[2026-12-05 16:57:34.500][1][info][main] all fine\n") is None


def test_the_flavor_takes_its_own_options_and_refuses_the_others() -> None:
    options = FlavorOptions(hash_policy=("header:x-user", "query:u"), lb="ring-hash")
    found = planes.flavor_balance("envoy", options, 6)
    assert isinstance(found, EnvoyBalance)
    assert found.plane == "envoy:ring-hash"
    assert found.policies == (HashPolicy("header", "x-user"), HashPolicy("query", "u"))
    assert found.client == ClientDetection()  # no --trusted-hops: the TCP peer
    with pytest.raises(ConfigError, match=r"^--trusted-hops applies to the envoy flavor only"):
        planes.flavor_balance("nginx", FlavorOptions(hash_by="$host", trusted_hops=1), 6)
    with pytest.raises(ConfigError, match=r"^--weights does not apply to the envoy flavor$"):
        planes.flavor_balance("envoy", FlavorOptions(hash_policy=("source-ip",), weights="1"), 6)
