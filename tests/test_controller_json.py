"""The backends document in the controller's JSON shape, written and read back."""

from __future__ import annotations

import json

import pytest

from ingressbed.controller import compare, from_backends_json, to_backends_json
from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Endpoint
from tests.controller_helpers import build_all, ingress, service

HOST = "app.example.com"

#: Written by hand in the shape controller-v1.15.1 posts to /configuration/backends (Go's
#: encoding of its Backend: field order, omitted empty fields, ports of endpoints as strings).
DUMP = """
[
  {
    "name": "shop-cart-80",
    "service": {
      "metadata": {"creationTimestamp": null},
      "spec": {
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
        "selector": {"app": "cart"},
        "clusterIP": "10.96.14.2",
        "clusterIPs": ["10.96.14.2"],
        "type": "ClusterIP",
        "sessionAffinity": "None"
      },
      "status": {"loadBalancer": {}}
    },
    "port": 80,
    "sslPassthrough": false,
    "endpoints": [
      {"address": "10.244.0.7", "port": "8080"}, {"address": "fd00::8", "port": "8080"}
    ],
    "sessionAffinityConfig": {
      "name": "cookie",
      "mode": "persistent",
      "cookieSessionAffinity": {
        "name": "route",
        "maxage": "3600",
        "locations": {"shop.example.com": ["/cart", "/api/?(.*)"]},
        "path": "/",
        "samesite": "Lax",
        "change_on_failure": true
      }
    },
    "upstreamHashByConfig": {"upstream-hash-by": "$remote_addr", "upstream-hash-by-subset-size": 3},
    "load-balance": "round_robin",
    "noServer": false,
    "trafficShapingPolicy": {
      "weight": 0, "weightTotal": 0, "header": "", "headerValue": "", "headerPattern": "",
      "cookie": ""
    },
    "alternativeBackends": ["shop-cart-v2-80"]
  },
  {
    "name": "shop-cart-v2-80",
    "service": {
      "metadata": {"creationTimestamp": null}, "spec": {}, "status": {"loadBalancer": {}}
    },
    "port": "http",
    "sslPassthrough": false,
    "sessionAffinityConfig": {"name": "", "mode": "", "cookieSessionAffinity": {"name": ""}},
    "upstreamHashByConfig": {"upstream-hash-by-subset": true, "upstream-hash-by-subset-size": 2},
    "load-balance": "ewma",
    "noServer": true,
    "trafficShapingPolicy": {
      "weight": 5, "weightTotal": 1000, "header": "X-Canary", "headerValue": "yes",
      "headerPattern": "", "cookie": "canary"
    }
  },
  {
    "name": "upstream-default-backend",
    "port": 0,
    "sslPassthrough": false,
    "endpoints": [{"address": "127.0.0.1", "port": "8181"}],
    "sessionAffinityConfig": {"name": "", "mode": "", "cookieSessionAffinity": {"name": ""}},
    "upstreamHashByConfig": {},
    "noServer": false,
    "trafficShapingPolicy": {
      "weight": 0, "weightTotal": 0, "header": "", "headerValue": "", "headerPattern": "",
      "cookie": ""
    }
  }
]
"""


def test_a_dump_reads_into_the_model_and_writes_back_unchanged():
    document = json.loads(DUMP)
    backends = from_backends_json(document)
    cart, canary, default = backends
    assert cart.endpoints == (Endpoint("10.244.0.7", 8080), Endpoint("fd00::8", 8080))
    assert (cart.affinity.type, cart.affinity.mode, cart.implementation) == (
        "cookie",
        "persistent",
        "sticky_persistent",
    )
    assert dict(cart.affinity.cookie.locations) == {"shop.example.com": ("/cart", "/api/?(.*)")}
    assert cart.affinity.cookie.change_on_failure and cart.service_spec is not None
    assert cart.service_spec.cluster_ip == "10.96.14.2"
    assert canary.port == "http" and canary.no_server and canary.serves_503
    assert canary.traffic_shaping.weight_total == 1000
    assert canary.implementation == "ewma"  # a subset without a key is no hash
    assert default.service_spec is None
    assert to_backends_json(backends) == document


def test_one_backend_as_dbg_backends_get_prints_it():
    one = json.loads(DUMP)[2]
    assert [b.name for b in from_backends_json(one)] == ["upstream-default-backend"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d[0].pop("name"), "item 0: name: every backend needs a name"),
        (lambda d: d[0].update(endpoint=[]), "backend 'shop-cart-80': endpoint: not a field"),
        (
            lambda d: d[0]["endpoints"][0].update(port="http"),
            "backend 'shop-cart-80': endpoints[0].port: 'http' is not a port number",
        ),
        (
            lambda d: d[1].update(noServer="yes"),
            "backend 'shop-cart-v2-80': noServer: expected bool",
        ),
    ],
)
def test_a_malformed_dump_is_one_line_naming_backend_and_field(change, message):
    document = json.loads(DUMP)
    change(document)
    with pytest.raises(ConfigError) as caught:
        from_backends_json(document)
    assert message in str(caught.value)
    with pytest.raises(ConfigError, match="expected a list of backends"):
        from_backends_json("[]")


def test_a_built_configuration_is_posted_in_the_controllers_shape():
    config = build_all(
        [
            ingress(
                "web",
                [(HOST, "/", "app", 80)],
                {"affinity": "cookie", "session-cookie-path": "/", "upstream-hash-by": "$uri"},
            ),
            ingress(
                "canary",
                [(HOST, "/", "app-v2", 80)],
                {"canary": "true", "canary-by-cookie": "beta", "canary-weight": "10"},
                order=1,
            ),
        ],
        [service("app", clusterIP="10.96.0.9"), service("app-v2")],
    )
    posted = to_backends_json(config)
    assert [b["name"] for b in posted] == [
        "default-app-80",
        "default-app-v2-80",
        "upstream-default-backend",
    ]
    main, alt, default = posted
    assert main == {
        "name": "default-app-80",
        "service": {
            "metadata": {"creationTimestamp": None},
            "spec": {
                "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "clusterIP": "10.96.0.9",
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        },
        "port": 80,
        "sslPassthrough": False,
        "endpoints": [{"address": f"10.0.0.{i}", "port": "8080"} for i in (1, 2, 3)],
        "sessionAffinityConfig": {
            "name": "cookie",
            "mode": "",
            "cookieSessionAffinity": {
                "name": "INGRESSCOOKIE",
                "locations": {HOST: ["/"]},
                "path": "/",
            },
        },
        "upstreamHashByConfig": {"upstream-hash-by": "$uri", "upstream-hash-by-subset-size": 3},
        "load-balance": "round_robin",
        "noServer": False,
        "trafficShapingPolicy": {
            "weight": 0,
            "weightTotal": 0,
            "header": "",
            "headerValue": "",
            "headerPattern": "",
            "cookie": "",
        },
        "alternativeBackends": ["default-app-v2-80"],
    }
    assert alt["noServer"] is True
    assert alt["sessionAffinityConfig"] == main["sessionAffinityConfig"]
    assert alt["trafficShapingPolicy"]["cookie"] == "beta"
    assert alt["trafficShapingPolicy"]["weightTotal"] == 100
    assert "service" not in default and default["upstreamHashByConfig"] == {}
    assert "load-balance" not in default
    assert from_backends_json(json.loads(json.dumps(posted)))[0].hash_by.key == "$uri"


def test_the_model_and_a_controller_dump_are_compared_field_by_field():
    config = build_all(
        [ingress("web", [(HOST, "/", "app", 80)], {"upstream-hash-by": "$uri"})], [service("app")]
    )
    dumped = json.loads(json.dumps(to_backends_json(config)))
    assert compare(config.backends, from_backends_json(dumped)) == ()
    dumped[0]["upstreamHashByConfig"]["upstream-hash-by"] = "$host"
    dumped[0]["endpoints"].pop()
    dumped.pop()  # the default backend
    assert compare(config.backends, from_backends_json(dumped)) == (
        "backend default-app-80: endpoint count: model 3, controller 2",
        "backend default-app-80: upstream-hash-by: model '$uri', controller '$host'",
        "backend upstream-default-backend: only in the model",
    )
