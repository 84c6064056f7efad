"""Reading what ingress-nginx shows: endpoint order, /dbg backends, nginx.conf (pure)."""

from __future__ import annotations

import json

from ingressbed.backends import ingress_nginx as ing
from ingressbed.vocabulary import Address, Capability, Endpoint, IngressSpec, Route


def _slice(name, endpoints, ports=(("http", 8080), ("http2", 9090), ("ws", 8081))):
    return {
        "metadata": {"name": name},
        "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports],
        "endpoints": endpoints,
    }


def _ep(ip, ready=True):
    ep = {"addresses": [ip]}
    if ready is not None:
        ep["conditions"] = {"ready": ready}
    return ep


def test_slice_order_is_kept_not_sorted():
    s = _slice("hellogo-abc", [_ep("10.0.0.9"), _ep("10.0.0.2"), _ep("10.0.0.5")])
    got = ing.order_slice_endpoints([s], "http", 8080)
    assert got == [
        Endpoint("10.0.0.9", 8080),
        Endpoint("10.0.0.2", 8080),
        Endpoint("10.0.0.5", 8080),
    ]


def test_not_ready_endpoints_are_skipped_and_unset_ready_counts_as_ready():
    s = _slice("a", [_ep("10.0.0.1", False), _ep("10.0.0.2", None), _ep("10.0.0.3")])
    assert [e.address for e in ing.order_slice_endpoints([s], "ws", 8081)] == [
        "10.0.0.2",
        "10.0.0.3",
    ]


def test_each_port_of_the_service_gets_its_own_port_and_duplicates_go():
    s = _slice("a", [_ep("10.0.0.1"), _ep("10.0.0.2")])
    got = ing.order_slice_endpoints([s], "http2", 9090)
    assert got == [Endpoint("10.0.0.1", 9090), Endpoint("10.0.0.2", 9090)]


def test_slices_without_ports_use_the_target_port_and_are_taken_by_name():
    a = _slice("b-slice", [_ep("10.0.0.2")], ports=())
    b = _slice("a-slice", [_ep("10.0.0.1"), _ep("10.0.0.2")], ports=())
    got = ing.order_slice_endpoints([a, b], "http", 8080)
    assert got == [Endpoint("10.0.0.1", 8080), Endpoint("10.0.0.2", 8080)]


DBG = {
    "name": "ns-hellogo-8080",
    "endpoints": [{"address": "10.0.0.3", "port": "8080"}, {"address": "10.0.0.1", "port": "8080"}],
    "sessionAffinityConfig": {"name": "", "mode": "", "cookieSessionAffinity": {"name": ""}},
    "upstreamHashByConfig": {"upstream-hash-by": "$binary_remote_addr"},
    "load-balance": "round_robin",
    "noServer": False,
}


def test_dbg_output_is_parsed_or_none():
    assert ing.parse_dbg_backend(json.dumps(DBG, indent=2) + "\n") == DBG
    assert ing.parse_dbg_backend("A backend of this name was not found.\n") is None
    assert ing.backend_endpoints(DBG) == [Endpoint("10.0.0.3", 8080), Endpoint("10.0.0.1", 8080)]


SPEC = IngressSpec(
    "x",
    (Route("/8080", 8080, "h"),),
    {"nginx.ingress.kubernetes.io/upstream-hash-by": "$binary_remote_addr"},
)


def test_backend_serves_the_setup_when_hash_and_pods_match():
    assert ing.backend_mismatches(DBG, SPEC, 8080, {"10.0.0.1", "10.0.0.3"}, "round_robin") == []


def test_backend_mismatches_name_what_differs():
    assert ing.backend_mismatches(None, SPEC, 8080, set(), "round_robin") == ["no backend yet"]
    cookie = IngressSpec("x", SPEC.routes, {"nginx.ingress.kubernetes.io/affinity": "cookie"})
    problems = ing.backend_mismatches(DBG, cookie, 8080, {"10.0.0.1"}, "ewma")
    text = " ".join(problems)
    assert "upstream-hash-by" in text and "affinity" in text
    assert "load-balance" in text and "endpoints" in text


def test_service_upstream_wants_one_peer():
    spec = IngressSpec("x", SPEC.routes, {"nginx.ingress.kubernetes.io/service-upstream": "true"})
    one = dict(DBG, upstreamHashByConfig={}, endpoints=[{"address": "10.96.0.10", "port": "8080"}])
    assert ing.backend_mismatches(one, spec, 8080, {"10.0.0.1"}, "round_robin") == []


def test_nginx_conf_checksum():
    conf = "\n# Configuration checksum: 1234567\n\n# setup custom paths\n"
    assert ing.nginx_conf_checksum(conf) == "1234567"
    assert ing.nginx_conf_checksum("worker_processes 1;\n") is None


def test_controller_location_reads_configmap_and_version():
    dep = {
        "metadata": {"namespace": "edge"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "args": [
                                "/nginx-ingress-controller",
                                "--configmap=$(POD_NAMESPACE)/my-nginx",
                            ],
                            "image": "registry.k8s.io/ingress-nginx/controller:v1.12.3@sha256:"
                            + "f" * 64,
                        }
                    ]
                }
            }
        },
    }
    assert ing.controller_location(dep) == ("edge", "my-nginx", "v1.12.3")


def test_load_balancer_address():
    svc = {"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}}
    assert ing.load_balancer_address(svc) == Address("lb.example", 80)
    assert ing.load_balancer_address({"status": {"loadBalancer": {}}}) is None


def test_ingress_conflicts_only_across_namespaces():
    ours = {
        "metadata": {"namespace": "a", "name": "x"},
        "spec": {"rules": [{"host": "h", "http": {"paths": [{"path": "/8080"}]}}]},
    }
    same_ns = {**ours, "metadata": {"namespace": "a", "name": "y"}}
    other = {**ours, "metadata": {"namespace": "b", "name": "z"}}
    assert ing.ingress_conflicts(ours, [same_ns]) == []
    assert ing.ingress_conflicts(ours, [other]) == ["h/8080 (b/z)"]


def test_legacy_hash_only_below_0_33():
    assert Capability.LEGACY_HASH not in ing.full_capabilities("v1.15.1")
    assert Capability.LEGACY_HASH in ing.full_capabilities("0.25.0")
    assert ing.full_capabilities("v1.11.8") >= {
        Capability.HASH,
        Capability.SUBSET,
        Capability.COOKIE,
        Capability.EWMA,
        Capability.SERVICE_UPSTREAM,
        Capability.WEBSOCKET,
        Capability.SCALE,
        Capability.KILL,
        Capability.CORS,
    }
