"""What a user writes on Envoy Gateway (and Contour) for each candidate: ``Plane.targets``.

The resources are checked against the fields and values of Envoy Gateway v1.9.0's CRDs
(BackendTrafficPolicy, ClientTrafficPolicy) and Gateway API's HTTPRoute (experimental
channel, for ``sessionPersistence``), written down here as JSON schemas that allow no
other field (a field the CRD does not know would be pruned by the API server, silently):
their enums, the Duration pattern, and the rules the CRDs state in CEL (a consistentHash
type needs its own field and no other; a Permanent cookie needs an absoluteTimeout).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from ingressbed import catalog, layouts, planes
from ingressbed.errors import NoEquivalent
from ingressbed.vocabulary import Setup

DURATION = {"type": "string", "pattern": r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"}


def closed(properties: dict[str, Any], required: tuple[str, ...] = (), **more: Any) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
        **more,
    }


def named(**more: Any) -> dict:
    return {
        "type": "array",
        "minItems": 1,
        "items": closed({"name": {"type": "string"}}, ("name",)),
    }


def needs(kind: str, field: str) -> dict:
    """CEL ``self.type == kind ? has(field) : !has(field)``."""
    return {
        "if": {"properties": {"type": {"const": kind}}},
        "then": {"required": [field]},
        "else": {"not": {"required": [field]}},
    }


METADATA = closed({"name": {"type": "string"}}, ("name",))
TARGET = closed(
    {"group": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"}},
    ("group", "kind", "name"),
)
CONSISTENT_HASH = closed(
    {
        "type": {"enum": ["SourceIP", "Header", "Headers", "Cookie", "QueryParams"]},
        "headers": named(),
        "queryParams": named(),
        "cookie": closed({"name": {"type": "string"}, "ttl": DURATION}, ("name",)),
        "tableSize": {"type": "integer", "minimum": 2, "maximum": 5000011},
    },
    ("type",),
    allOf=[
        needs("Headers", "headers"),
        needs("Cookie", "cookie"),
        needs("QueryParams", "queryParams"),
    ],
)
BTP = closed(
    {
        "apiVersion": {"const": "gateway.envoyproxy.io/v1alpha1"},
        "kind": {"const": "BackendTrafficPolicy"},
        "metadata": METADATA,
        "spec": closed(
            {
                "targetRefs": {"type": "array", "minItems": 1, "items": TARGET},
                "routingType": {"enum": ["Service", "Endpoint"]},
                "loadBalancer": closed(
                    {
                        "type": {
                            "enum": ["ConsistentHash", "LeastRequest", "Random", "RoundRobin"]
                        },
                        "consistentHash": CONSISTENT_HASH,
                    },
                    ("type",),
                    allOf=[needs("ConsistentHash", "consistentHash")],
                ),
            },
            ("targetRefs",),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
CTP = closed(
    {
        "apiVersion": {"const": "gateway.envoyproxy.io/v1alpha1"},
        "kind": {"const": "ClientTrafficPolicy"},
        "metadata": METADATA,
        "spec": closed(
            {
                "targetRefs": {"type": "array", "minItems": 1, "items": TARGET},
                "clientIPDetection": closed(
                    {"xForwardedFor": closed({"numTrustedHops": {"type": "integer", "minimum": 0}})}
                ),
            },
            ("targetRefs",),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
SESSION = closed(
    {
        "sessionName": {"type": "string", "maxLength": 128},
        "type": {"enum": ["Cookie", "Header"]},
        "absoluteTimeout": DURATION,
        "cookieConfig": closed({"lifetimeType": {"enum": ["Permanent", "Session"]}}),
    },
    **{
        "if": {"required": ["cookieConfig"]},
        "then": {"required": ["absoluteTimeout"]},
    },
)
HTTP_ROUTE = closed(
    {
        "apiVersion": {"const": "gateway.networking.k8s.io/v1"},
        "kind": {"const": "HTTPRoute"},
        "metadata": METADATA,
        "spec": closed(
            {
                "parentRefs": {"type": "array", "items": closed({"name": {"type": "string"}})},
                "hostnames": {"type": "array", "items": {"type": "string"}},
                "rules": {
                    "type": "array",
                    "items": closed(
                        {
                            "matches": {
                                "type": "array",
                                "items": closed(
                                    {
                                        "path": closed(
                                            {
                                                "type": {
                                                    "enum": [
                                                        "Exact",
                                                        "PathPrefix",
                                                        "RegularExpression",
                                                    ]
                                                },
                                                "value": {"type": "string", "pattern": "^/"},
                                            },
                                            ("type", "value"),
                                        )
                                    }
                                ),
                            },
                            "backendRefs": {
                                "type": "array",
                                "items": closed(
                                    {"name": {"type": "string"}, "port": {"type": "integer"}},
                                    ("name", "port"),
                                ),
                            },
                            "sessionPersistence": SESSION,
                        }
                    ),
                },
            }
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
SCHEMAS = {"BackendTrafficPolicy": BTP, "ClientTrafficPolicy": CTP, "HTTPRoute": HTTP_ROUTE}


def documents(setup: Setup, plane: str = "envoy") -> list[dict]:
    (target,) = planes.plane(plane).targets(setup)
    return list(yaml.safe_load_all(target.text))


def by_kind(docs: list[dict]) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in docs}


def three(**annotations: str) -> Setup:
    return layouts.setup("three-ports", annotations)


EXTRA = [
    three(**{"upstream-hash-by": "$http_x_user"}),
    three(**{"upstream-hash-by": "$arg_u$arg_v"}),
    three(**{"upstream-hash-by": "$cookie_sid"}),
    three(affinity="cookie", **{"session-cookie-max-age": "3600"}),
    three(affinity="cookie", **{"affinity-mode": "persistent", "session-cookie-max-age": "172800"}),
    layouts.setup(
        "one-port",
        {"upstream-hash-by": "$remote_addr"},
        controller={"use-forwarded-headers": "false"},
    ),
]


@pytest.mark.parametrize(
    "setup",
    [c.scenario.setup for c in catalog.load().candidates if c.id not in ("subset-3",)] + EXTRA,
)
def test_every_resource_has_only_fields_and_values_the_crds_take(setup: Setup) -> None:
    docs = documents(setup)
    assert docs
    for doc in docs:
        jsonschema.validate(doc, SCHEMAS[doc["kind"]])


def test_a_client_key_names_its_policies_and_the_client_address() -> None:
    docs = by_kind(documents(three(**{"upstream-hash-by": "$binary_remote_addr"})))
    balancer = docs["BackendTrafficPolicy"]["spec"]["loadBalancer"]
    assert balancer == {"type": "ConsistentHash", "consistentHash": {"type": "SourceIP"}}
    detection = docs["ClientTrafficPolicy"]["spec"]["clientIPDetection"]
    assert detection == {"xForwardedFor": {"numTrustedHops": 1}}
    refs = docs["BackendTrafficPolicy"]["spec"]["targetRefs"]
    assert refs == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "hellogo"}]


def test_without_forwarded_headers_no_client_policy_is_written() -> None:
    setup = layouts.setup("one-port", {"upstream-hash-by": "$remote_addr"},
                          controller={"use-forwarded-headers": "false"})  # fmt: skip
    assert "ClientTrafficPolicy" not in by_kind(documents(setup))


@pytest.mark.parametrize(
    ("key", "hashing"),
    [
        ("$request_uri", {"type": "Headers", "headers": [{"name": ":path"}]}),
        ("$host$request_uri",
         {"type": "Headers", "headers": [{"name": ":authority"}, {"name": ":path"}]}),
        ("$http_x_user", {"type": "Headers", "headers": [{"name": "x-user"}]}),
        ("$cookie_sid", {"type": "Cookie", "cookie": {"name": "sid"}}),
        ("$arg_u", {"type": "QueryParams", "queryParams": [{"name": "u"}]}),
    ],
)  # fmt: skip
def test_each_key_type(key: str, hashing: dict) -> None:
    docs = by_kind(documents(three(**{"upstream-hash-by": key})))
    assert docs["BackendTrafficPolicy"]["spec"]["loadBalancer"]["consistentHash"] == hashing


def test_cookie_affinity_and_the_others() -> None:
    balanced = by_kind(documents(three(affinity="cookie", **{"session-cookie-max-age": "3600"})))
    cookie = balanced["BackendTrafficPolicy"]["spec"]["loadBalancer"]["consistentHash"]["cookie"]
    assert cookie == {"name": "INGRESSCOOKIE", "ttl": "1h"}
    persistent = by_kind(documents(three(affinity="cookie", **{"affinity-mode": "persistent"})))
    assert "BackendTrafficPolicy" not in persistent  # Envoy Gateway's default balancer stays
    rules = persistent["HTTPRoute"]["spec"]["rules"]
    assert {str(r["sessionPersistence"]) for r in rules} == {
        str({"sessionName": "INGRESSCOOKIE", "type": "Cookie"})
    }
    service = by_kind(documents(three(**{"service-upstream": "true"})))["BackendTrafficPolicy"]
    assert service["spec"]["routingType"] == "Service"
    ewma = by_kind(documents(three(**{"load-balance": "ewma"})))["BackendTrafficPolicy"]
    assert ewma["spec"]["loadBalancer"] == {"type": "LeastRequest"}
    default = by_kind(documents(three()))["BackendTrafficPolicy"]
    assert default["spec"]["loadBalancer"] == {"type": "RoundRobin"}


def test_ring_hash_stands_for_contour() -> None:
    (target,) = planes.plane("envoy:ring-hash").targets(three(**{"upstream-hash-by": "$arg_u"}))
    (proxy,) = yaml.safe_load_all(target.text)
    assert target.controller == "Contour (HTTPProxy)"
    assert proxy["apiVersion"] == "projectcontour.io/v1" and proxy["kind"] == "HTTPProxy"
    policies = {str(r["loadBalancerPolicy"]) for r in proxy["spec"]["routes"]}
    assert policies == {
        str(
            {
                "strategy": "RequestHash",
                "requestHashPolicies": [{"queryParameterHashOptions": {"parameterName": "u"}}],
            }
        )
    }
    (target,) = planes.plane("envoy:ring-hash").targets(
        three(**{"upstream-hash-by": "$remote_addr"})
    )
    (proxy,) = yaml.safe_load_all(target.text)
    hashing = proxy["spec"]["routes"][0]["loadBalancerPolicy"]["requestHashPolicies"]
    assert hashing == [{"hashSourceIP": True}]
    assert any("num-trusted-hops" in note for note in target.notes)
    with pytest.raises(NoEquivalent, match="pseudo-header"):
        planes.plane("envoy:ring-hash").targets(three(**{"upstream-hash-by": "$request_uri"}))


def test_what_has_no_equivalent_is_refused_in_one_line() -> None:
    with pytest.raises(NoEquivalent) as caught:
        planes.plane("envoy").targets(
            three(**{"upstream-hash-by": "$uri", "upstream-hash-by-subset": "true"})
        )
    assert "\n" not in str(caught.value) and "subset" in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [
        lambda lb: lb["consistentHash"].pop("headers"),  # a type without its field
        lambda lb: lb["consistentHash"].update(cookie={"name": "x"}),  # a field of another type
        lambda lb: lb.update(hashPolicy="x"),  # a field the CRD does not have
        lambda lb: lb["consistentHash"].update(type="Path"),  # no such type
    ],
)
def test_the_schemas_refuse_what_the_crds_refuse(change) -> None:
    docs = by_kind(documents(three(**{"upstream-hash-by": "$request_uri"})))
    policy = docs["BackendTrafficPolicy"]
    change(policy["spec"]["loadBalancer"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, BTP)
