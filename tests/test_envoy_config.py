"""The Envoy configuration renderer, pure: the files Envoy Gateway's shape asks for."""

from __future__ import annotations

import pytest
import yaml

from ingressbed.envoy_config import (
    EnvoyCluster,
    EnvoyRoute,
    EnvoySetup,
    client_settings,
    render_bootstrap,
    render_resources,
)
from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.vocabulary import Endpoint

PODS = (Endpoint("10.0.0.3", 8080), Endpoint("10.0.0.1", 8080))
POLICIES = (
    HashPolicy("source-ip"),
    HashPolicy("header", ":path"),
    HashPolicy("cookie", "sid", ttl=60),
    HashPolicy("query", "u"),
)


def _files(setup: EnvoySetup) -> dict[str, dict]:
    return {
        name: yaml.safe_load(text) for name, text in render_resources(setup, "/f", "v3").items()
    }


def _setup(**changes) -> EnvoySetup:
    base = {
        "listen_address": "127.0.0.1",
        "listen_port": 8000,
        "routes": (
            EnvoyRoute("a", "/", hash_policies=POLICIES),
            EnvoyRoute("b", "/api/", host="Shop.Example", cors=("*", "GET")),
            EnvoyRoute("a", "/api/v1", host="shop.example"),
            EnvoyRoute("b", "/exact", path_type="Exact"),
        ),
        "clusters": (
            EnvoyCluster("a", PODS),
            EnvoyCluster("b", PODS, lb="ring-hash", min_ring_size=2048),
        ),
    }
    return EnvoySetup(**{**base, **changes})


def _manager(files: dict[str, dict]) -> dict:
    listener = files["lds.yaml"]["resources"][0]
    return listener["filter_chains"][0]["filters"][0]["typed_config"]


def test_every_file_is_a_discovery_response_of_the_version():
    files = _files(_setup())
    assert sorted(files) == ["cds.yaml", "eds-a.yaml", "eds-b.yaml", "lds.yaml", "rds.yaml"]
    assert {data["version_info"] for data in files.values()} == {"v3"}
    assert files["eds-a.yaml"]["resources"][0]["@type"].endswith("ClusterLoadAssignment")


def test_the_listener_has_envoy_gateways_path_settings_and_takes_routes_over_rds():
    manager = _manager(_files(_setup()))
    assert manager["normalize_path"] is True and manager["merge_slashes"] is True
    assert manager["path_with_escaped_slashes_action"] == "UNESCAPE_AND_REDIRECT"
    assert manager["rds"]["config_source"]["path_config_source"]["path"] == "/f/rds.yaml"
    assert manager["upgrade_configs"] == [{"upgrade_type": "websocket"}]


def test_the_client_address_settings_per_client_traffic_policy():
    assert client_settings(ClientDetection()) == {"use_remote_address": True}
    hops = client_settings(ClientDetection(trusted_hops=3))
    assert hops["use_remote_address"] is False
    xff = hops["original_ip_detection_extensions"][0]["typed_config"]
    assert xff["xff_num_trusted_hops"] == 2  # numTrustedHops N is N-1 hops of the extension
    cidrs = client_settings(ClientDetection(trusted_cidrs=("10.0.0.0/8", "::/0")))
    xff = cidrs["original_ip_detection_extensions"][0]["typed_config"]
    assert xff["xff_trusted_cidrs"]["cidrs"] == [
        {"address_prefix": "10.0.0.0", "prefix_len": 8},
        {"address_prefix": "::", "prefix_len": 0},
    ]


def test_clusters_carry_their_load_balancer_and_endpoints_in_eds_order():
    files = _files(_setup())
    maglev, ring = files["cds.yaml"]["resources"]
    policy = maglev["load_balancing_policy"]["policies"][0]["typed_extension_config"]
    assert policy["name"] == "envoy.load_balancing_policies.maglev"
    assert policy["typed_config"]["table_size"] == 65537
    policy = ring["load_balancing_policy"]["policies"][0]["typed_extension_config"]
    assert policy["typed_config"]["minimum_ring_size"] == 2048
    assert maglev["eds_cluster_config"]["eds_config"]["path_config_source"]["path"] == (
        "/f/eds-a.yaml"
    )
    endpoints = files["eds-a.yaml"]["resources"][0]["endpoints"][0]["lb_endpoints"]
    assert [e["endpoint"]["address"]["socket_address"]["address"] for e in endpoints] == [
        "10.0.0.3",
        "10.0.0.1",
    ]
    assert {e["load_balancing_weight"] for e in endpoints} == {1}


def test_hash_policies_map_to_envoys_route_fields_in_order():
    hosts = _files(_setup())["rds.yaml"]["resources"][0]["virtual_hosts"]
    route = hosts[-1]["routes"][-1]["route"]
    assert route["hash_policy"] == [
        {"connection_properties": {"source_ip": True}},
        {"header": {"header_name": ":path"}},
        {"cookie": {"name": "sid", "ttl": "60s"}},
        {"query_parameter": {"name": "u"}},
    ]


def test_routes_go_exact_first_then_the_longest_prefix_and_catch_all_hosts_last():
    hosts = _files(_setup())["rds.yaml"]["resources"][0]["virtual_hosts"]
    assert [vh["domains"] for vh in hosts] == [["shop.example", "shop.example:*"], ["*"]]
    assert [r["match"] for r in hosts[0]["routes"]] == [
        {"path_separated_prefix": "/api/v1"},
        {"path_separated_prefix": "/api"},
    ]
    assert [r["match"] for r in hosts[1]["routes"]] == [{"path": "/exact"}, {"prefix": "/"}]
    assert hosts[0]["routes"][1]["response_headers_to_add"][0]["header"] == {
        "key": "Access-Control-Allow-Origin",
        "value": "*",
    }


def test_the_bootstrap_reads_lds_and_cds_from_files_and_has_its_admin_port():
    data = yaml.safe_load(render_bootstrap("/f", "127.0.0.9", 9901))
    assert data["admin"]["address"]["socket_address"] == {
        "address": "127.0.0.9",
        "port_value": 9901,
    }
    assert data["dynamic_resources"]["lds_config"]["path_config_source"]["path"] == "/f/lds.yaml"
    assert data["dynamic_resources"]["cds_config"]["path_config_source"]["path"] == "/f/cds.yaml"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"routes": (EnvoyRoute("zz"),)}, "unknown cluster 'zz'"),
        ({"clusters": (EnvoyCluster("a", PODS, table_size=1000),), "routes": ()}, "not a prime"),
        ({"clusters": (EnvoyCluster("a", PODS), EnvoyCluster("a", PODS))}, "given twice"),
        ({"routes": (EnvoyRoute("a", "x"),)}, "must start with '/'"),
        ({"routes": (EnvoyRoute("a", "/", path_type="Regex"),)}, "Prefix or Exact"),
        ({"clusters": (EnvoyCluster("a b", PODS),), "routes": ()}, "cluster name"),
    ],
)
def test_what_envoy_would_refuse_is_refused_in_one_line(changes, message):
    with pytest.raises(ConfigError, match=message):
        render_resources(_setup(**changes), "/f", "v1")
