"""Backends documents for the local ingress-nginx plane: the controller's JSON shape, and
what ``read_document`` accepts and refuses (pure)."""

from __future__ import annotations

import json

import pytest

from ingressbed.errors import ConfigError
from ingressbed.ingress_nginx_lua.backends import (
    Backend,
    CookieAffinity,
    TrafficShaping,
    document,
)
from ingressbed.ingress_nginx_lua.backends_read import read_document, replace_endpoints
from ingressbed.vocabulary import Endpoint

PODS = (Endpoint("10.0.0.1", 8080), Endpoint("10.0.0.2", 8080))

# The shape of a real controller's /dbg backends all (controller-v1.15.1): a Service spec
# per backend, the default backend, a canary with its policy, every field the Go struct
# writes. Values are made up.
PRODUCTION = """[
  {
    "name": "shop-web-8080",
    "service": {"metadata": {"creationTimestamp": null},
                "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 8080,
                                    "targetPort": 8080}],
                         "selector": {"app": "web"}, "clusterIP": "10.96.1.2",
                         "type": "ClusterIP", "sessionAffinity": "None"},
                "status": {"loadBalancer": {}}},
    "port": 8080,
    "sslPassthrough": false,
    "endpoints": [{"address": "10.244.1.7", "port": "8080"},
                  {"address": "10.244.2.9", "port": "8080"}],
    "sessionAffinityConfig": {"name": "cookie", "mode": "persistent",
      "cookieSessionAffinity": {"name": "route", "expires": "172800", "maxage": "172800",
        "locations": {"shop.example.com": ["/"]}, "samesite": "None",
        "conditional_samesite_none": true, "change_on_failure": true}},
    "upstreamHashByConfig": {"upstream-hash-by": "$request_uri"},
    "noServer": false,
    "trafficShapingPolicy": {"weight": 0, "weightTotal": 0, "header": "", "headerValue": "",
                             "headerPattern": "", "cookie": ""},
    "alternativeBackends": ["shop-web-canary-8080"]
  },
  {
    "name": "shop-web-canary-8080",
    "service": {"metadata": {"creationTimestamp": null}, "spec": {"type": "ClusterIP"},
                "status": {"loadBalancer": {}}},
    "port": 8080,
    "sslPassthrough": false,
    "endpoints": [{"address": "10.244.3.4", "port": "8080"}],
    "sessionAffinityConfig": {"name": "", "mode": "", "cookieSessionAffinity": {"name": ""}},
    "upstreamHashByConfig": {},
    "load-balance": "ewma",
    "noServer": true,
    "trafficShapingPolicy": {"weight": 10, "weightTotal": 1000, "header": "X-Canary",
                             "headerValue": "yes", "headerPattern": "", "cookie": "canary"}
  },
  {
    "name": "upstream-default-backend",
    "port": 0,
    "sslPassthrough": false,
    "endpoints": [{"address": "127.0.0.1", "port": "8181"}],
    "sessionAffinityConfig": {"name": "", "mode": "", "cookieSessionAffinity": {"name": ""}},
    "upstreamHashByConfig": {},
    "noServer": false,
    "trafficShapingPolicy": {"weight": 0, "weightTotal": 0, "header": "", "headerValue": "",
                             "headerPattern": "", "cookie": ""}
  }
]"""


def test_a_real_controllers_document_reads_as_it_is():
    web, canary, default = read_document(PRODUCTION)
    assert web.algorithm == "sticky_persistent"  # affinity beats hash
    assert web.endpoints == (Endpoint("10.244.1.7", 8080), Endpoint("10.244.2.9", 8080))
    assert web.affinity == CookieAffinity(
        mode="persistent",
        name="route",
        locations={"shop.example.com": ("/",)},
        expires="172800",
        max_age="172800",
        samesite="None",
        conditional_samesite_none=True,
        change_on_failure=True,
    )
    assert web.alternative_backends == ("shop-web-canary-8080",)
    assert canary.no_server and canary.algorithm == "ewma"
    assert canary.traffic_shaping == TrafficShaping(10, 1000, "X-Canary", "yes", "", "canary")
    assert default.algorithm == "round_robin"
    assert [b.describe() for b in (web, canary, default)] == [
        "shop-web-8080: cookie route (persistent), upstream-hash-by '$request_uri' unused "
        "(sticky beats hash) over 2 endpoints; canary shop-web-canary-8080",
        "shop-web-canary-8080: ewma over 1 endpoint; canary by header X-Canary: yes, "
        "then cookie canary: always/never, then weight 10/1000",
        "upstream-default-backend: round_robin over 1 endpoint",
    ]


def test_the_bed_writes_the_controllers_shape_and_reads_it_back():
    backends = [
        Backend("a-8080", PODS, port=8080, hash_by="$binary_remote_addr"),
        Backend("b-8080", PODS, port=8080, hash_by="$host", subset=True, subset_size=2),
        Backend(
            "c-8080",
            PODS,
            port=8080,
            affinity=CookieAffinity(locations={"_": ("/c",)}, path="/", secure=True),
            alternative_backends=("c-canary-8080",),
        ),
        Backend("c-canary-8080", PODS[:1], no_server=True, traffic_shaping=TrafficShaping(50)),
        Backend("d-8080", (), load_balance="ewma"),
    ]
    raw = json.loads(document(backends))
    assert raw[0] == {
        "name": "a-8080",
        "port": 8080,
        "sslPassthrough": False,
        "endpoints": [
            {"address": "10.0.0.1", "port": "8080"},
            {"address": "10.0.0.2", "port": "8080"},
        ],
        "sessionAffinityConfig": {"name": "", "mode": "", "cookieSessionAffinity": {"name": ""}},
        "upstreamHashByConfig": {"upstream-hash-by": "$binary_remote_addr"},
        "noServer": False,
        "trafficShapingPolicy": {
            "weight": 0,
            "weightTotal": 0,
            "header": "",
            "headerValue": "",
            "headerPattern": "",
            "cookie": "",
        },
    }
    assert raw[1]["upstreamHashByConfig"] == {
        "upstream-hash-by": "$host",
        "upstream-hash-by-subset": True,
        "upstream-hash-by-subset-size": 2,
    }
    assert raw[2]["sessionAffinityConfig"] == {
        "name": "cookie",
        "mode": "balanced",
        "cookieSessionAffinity": {
            "name": "INGRESSCOOKIE",
            "locations": {"_": ["/c"]},
            "secure": True,
            "path": "/",
        },
    }
    assert raw[2]["alternativeBackends"] == ["c-canary-8080"]
    assert "endpoints" not in raw[4] and raw[4]["load-balance"] == "ewma"
    assert read_document(document(backends)) == backends
    assert [b.algorithm for b in backends] == [
        "chash",
        "chashsubset",
        "sticky_balanced",
        "round_robin",
        "ewma",
    ]
    assert backends[4].describe() == "d-8080: no endpoints (503)"


def test_replace_endpoints_keeps_everything_else():
    raw = json.loads(PRODUCTION)
    local = [Endpoint("127.5.5.10", 8080), Endpoint("127.5.5.11", 8080)]
    moved = replace_endpoints(raw, {"shop-web-8080": local, "shop-web-canary-8080": []})
    assert moved[0]["endpoints"] == [
        {"address": "127.5.5.10", "port": "8080"},
        {"address": "127.5.5.11", "port": "8080"},
    ]
    assert "endpoints" not in moved[1]
    assert {k: v for k, v in moved[0].items() if k != "endpoints"} == {
        k: v for k, v in raw[0].items() if k != "endpoints"
    }
    assert raw == json.loads(PRODUCTION)  # the input is untouched
    with pytest.raises(ConfigError, match=r"^no backend named nope in the document$"):
        replace_endpoints(raw, {"nope": local})


def _with(change: dict, index: int = 0) -> str:
    raw = json.loads(PRODUCTION)
    for path, value in change.items():
        target = raw[index]
        *parents, last = path.split(".")
        for key in parents:
            target = target[key]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "backends: not JSON (Expecting property name enclosed in double quotes)"),
        ('{"name": "a"}', "backends: expected a JSON list of backends (what /dbg backends all "
         "prints), not a JSON object"),
        ("[1]", "backends: item 1 is a JSON number, not a backend object"),
        ('[{"port": 80}]', "backends: item 1 has no name"),
        (_with({"upstreamHashBy": {}}), "backends: backend shop-web-8080: unknown field "
         "'upstreamHashBy' (a controller Backend has alternativeBackends, endpoints, "),
        (_with({"endpoints": [{"address": "web-1.shop", "port": "8080"}]}),
         "backends: backend shop-web-8080: endpoint 1: address 'web-1.shop' is not an IP "
         "address (the local plane resolves no names)"),
        (_with({"endpoints": [{"address": "10.0.0.1", "port": "http"}]}),
         "backends: backend shop-web-8080: endpoint 1: port 'http' is not in 1-65535"),
        (_with({"service.spec.type": "ExternalName"}),
         "backends: backend shop-web-8080: an ExternalName Service is resolved by DNS in the "
         "controller; the local plane balances pod addresses only"),
        (_with({"sslPassthrough": True}),
         "backends: backend shop-web-8080: sslPassthrough is not emulated by the local plane"),
        (_with({"load-balance": "least_conn"}),
         "backends: backend shop-web-8080: load-balance 'least_conn' is not round_robin or "
         "ewma (the controller would fall back to round_robin with a warning)"),
        (_with({"sessionAffinityConfig.name": "ip"}),
         "backends: backend shop-web-8080: affinity 'ip' is not 'cookie', the only one there is"),
        (_with({"sessionAffinityConfig.mode": "sticky"}),
         "backends: backend shop-web-8080: affinity mode 'sticky' is not balanced or "
         "persistent (the controller would take it as balanced)"),
        (_with({"sessionAffinityConfig.cookieSessionAffinity.maxage": "1h"}),
         "backends: backend shop-web-8080: cookieSessionAffinity.maxage '1h' is not a whole "
         "number of seconds"),
        (_with({"sessionAffinityConfig.cookieSessionAffinity.changeonfailure": True}),
         "backends: backend shop-web-8080: cookieSessionAffinity: unknown field "
         "'changeonfailure' (known: change_on_failure, conditional_samesite_none, "),
        (_with({"upstreamHashByConfig.upstream-hash-by-subset-size": 0}),
         "backends: backend shop-web-8080: upstream-hash-by-subset-size 0 is not a whole "
         "number >= 1"),
        (_with({"trafficShapingPolicy.weight": "10"}, 1),
         "backends: backend shop-web-canary-8080: trafficShapingPolicy.weight '10' is not a "
         "whole number"),
        (_with({"alternativeBackends": ["gone-8080"]}),
         "backends: backend shop-web-8080: alternativeBackends names gone-8080, which the "
         "document does not hold"),
        (json.dumps([*json.loads(PRODUCTION), json.loads(PRODUCTION)[2]]),
         "backends: backend upstream-default-backend is listed twice"),
    ],
)  # fmt: skip
def test_what_the_local_plane_cannot_do_is_refused_in_one_line(text, message):
    with pytest.raises(ConfigError) as caught:
        read_document(text)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
