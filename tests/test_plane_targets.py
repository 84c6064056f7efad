"""What to write instead (``Plane.targets``): YAML a user applies on the controller a plane
stands for, checked against what those controllers publish.

Annotations have no published schema: their names are checked against the lists the
controllers document (below, the balancing and affinity part of each list, checked by name
against the whole file at the version named). F5's VirtualServer has a published CRD: the
fields the targets use are held below with the types ``k8s.nginx.org_virtualservers.yaml``
(v4.0.1) gives them, and unknown fields are refused (every target was also validated against
the whole CRD when this was written).
"""

from __future__ import annotations

import re

import jsonschema
import pytest
import yaml

from ingressbed import catalog, layouts, planes
from ingressbed.errors import NoEquivalent
from ingressbed.planes.base import Target
from ingressbed.vocabulary import DataPlane, Flavor

SUCCESSORS = [p for p in DataPlane if p.flavor in (Flavor.NGINX, Flavor.HAPROXY)]
CANDIDATES = catalog.load().candidates

#: documentation/annotations.md of haproxytech/kubernetes-ingress v3.2.11 (prefix haproxy.org/
#: on Services and Ingresses, bare in the ConfigMap).
HAPROXYTECH_KEYS = {
    "load-balance", "backend-config-snippet", "cookie-persistence",
    "cookie-persistence-no-dynamic", "src-ip-header", "forwarded-for", "scale-server-slots",
    "timeout-server", "pod-maxconn", "check",
}  # fmt: skip
#: docs/content/en/docs/configuration/keys.md of jcmoraisjr/haproxy-ingress v0.16.1 (prefix
#: haproxy-ingress.github.io/ on Services and Ingresses).
HAPROXY_INGRESS_KEYS = {
    "balance-algorithm", "config-backend", "assign-backend-server-id", "affinity",
    "session-cookie-name", "session-cookie-dynamic", "session-cookie-value-strategy",
    "session-cookie-strategy", "session-cookie-keywords", "cookie-key", "service-upstream",
    "backend-server-naming", "dynamic-scaling",
}  # fmt: skip
#: internal/configs/annotations.go and configmaps.go of nginx/kubernetes-ingress v4.0.1.
F5_ANNOTATIONS = {
    "nginx.org/lb-method", "nginx.org/max-fails", "nginx.org/fail-timeout",
    "nginx.org/max-conns", "nginx.org/use-cluster-ip", "nginx.org/websocket-services",
    "nginx.org/keepalive", "nginx.com/sticky-cookie-services",
}  # fmt: skip
F5_CONFIGMAP = {"lb-method", "max-fails", "real-ip-header", "set-real-ip-from", "real-ip-recursive"}
#: ParseLBMethod's open-source forms (internal/configs/parsing_helpers.go).
F5_LB_METHOD = re.compile(
    r"round_robin|least_conn|ip_hash|random|random two|random two least_conn|hash \S+( consistent)?"
)
#: The VirtualServer fields the targets write, typed as the CRD types them.
_UPSTREAM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "service", "port"],
    "properties": {
        "name": {"type": "string"},
        "service": {"type": "string"},
        "port": {"type": "integer"},
        "lb-method": {"type": "string"},
        "max-fails": {"type": "integer"},
        "use-cluster-ip": {"type": "boolean"},
    },
}
_ROUTE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string"},
        "action": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"pass": {"type": "string"}},
        },
    },
}
VIRTUAL_SERVER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "k8s.nginx.org/v1"},
        "kind": {"const": "VirtualServer"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string"},
                "upstreams": {"type": "array", "items": _UPSTREAM},
                "routes": {"type": "array", "items": _ROUTE},
            },
        },
    },
}


def all_targets() -> list[tuple[str, str, Target]]:
    found = []
    for candidate in CANDIDATES:
        for plane in SUCCESSORS:
            try:
                targets = planes.plane(plane).targets(candidate.scenario.setup)
            except NoEquivalent:
                continue
            found += [(candidate.id, plane.value, t) for t in targets]
    return found


TARGETS = all_targets()


def _check_documents(target: Target) -> None:
    for document in yaml.safe_load_all(target.text):
        if document.get("kind") == "VirtualServer":
            jsonschema.validate(document, VIRTUAL_SERVER)
            for upstream in document["spec"]["upstreams"]:
                assert F5_LB_METHOD.fullmatch(upstream.get("lb-method", "round_robin"))
            continue
        annotations = document.get("metadata", {}).get("annotations", {})
        data = document.get("data", {})
        assert annotations or data, target.text
        assert all(isinstance(v, str) for v in [*annotations.values(), *data.values()])
        if target.controller.startswith("HAProxy Technologies"):
            assert {k.removeprefix("haproxy.org/") for k in annotations} <= HAPROXYTECH_KEYS
            assert set(data) <= HAPROXYTECH_KEYS
        elif target.controller.startswith("haproxy-ingress"):
            names = {k.removeprefix("haproxy-ingress.github.io/") for k in annotations}
            assert names <= HAPROXY_INGRESS_KEYS and not data
        else:
            assert set(annotations) <= F5_ANNOTATIONS and set(data) <= F5_CONFIGMAP
            assert F5_LB_METHOD.fullmatch(annotations.get("nginx.org/lb-method", "round_robin"))


@pytest.mark.parametrize(
    ("candidate", "plane", "target"),
    TARGETS,
    ids=[f"{c}-{p}-{t.controller.split()[0]}" for c, p, t in TARGETS],
)
def test_every_target_is_what_its_controller_takes(candidate, plane, target):
    assert target.checked, "each target says what it was checked against"
    if not target.text:  # nothing to write: the notes say why
        assert target.notes and target.notes[0].startswith("no equivalent")
        return
    assert target.text.startswith("# "), "each document says where it goes"
    _check_documents(target)


def test_targets_cover_every_successor_plane_and_candidate():
    seen = {(c, p) for c, p, _ in TARGETS}
    for plane in SUCCESSORS:
        covered = {c for c, p in seen if p == plane.value}
        assert len(covered) >= 9, plane  # 13 candidates, at most 4 with no equivalent
    assert planes.plane("ingress-nginx").targets(CANDIDATES[0].scenario.setup) == []


def test_the_per_pod_cookie_target_for_haproxy_ingress():
    (target,) = planes.plane("haproxy:pod-ids").targets(
        layouts.setup("three-ports", {"affinity": "cookie"}, host=None)
    )
    assert target.text == (
        "# Service hellogo: kubectl patch service hellogo --type merge --patch-file FILE\n"
        "metadata:\n"
        "  annotations:\n"
        "    haproxy-ingress.github.io/affinity: cookie\n"
        "    haproxy-ingress.github.io/session-cookie-name: INGRESSCOOKIE\n"
        "    haproxy-ingress.github.io/balance-algorithm: roundrobin\n"
        "    haproxy-ingress.github.io/session-cookie-dynamic: 'false'\n"
        "    haproxy-ingress.github.io/session-cookie-value-strategy: pod-uid\n"
    )


def test_a_client_key_brings_the_client_address_settings():
    setup = layouts.setup("three-ports", {"upstream-hash-by": "$binary_remote_addr"}, host=None)
    setup = type(setup)(setup.ingress, {"use-forwarded-headers": "true"}, setup.replicas)
    tech, ingress = planes.plane("haproxy").targets(setup)
    assert "haproxy.org/backend-config-snippet: |\n      hash-type consistent\n" in tech.text
    assert "data:\n  src-ip-header: X-Forwarded-For\n" in tech.text
    assert any("last X-Forwarded-For" in note for note in tech.notes)
    assert (
        "config-backend: |\n      hash-type consistent\n"
        "      http-request set-src hdr_ip(x-forwarded-for,1)\n"
    ) in ingress.text
    annotations, virtual = planes.plane("nginx").targets(setup)
    assert "nginx.org/lb-method: hash $binary_remote_addr consistent\n" in annotations.text
    assert "real-ip-header: X-Forwarded-For" in annotations.text
    assert "nginx.org/websocket-services: hellogo" in annotations.text  # the /ws route
    assert "real-ip-header: X-Forwarded-For" in virtual.text
    ip_hash = planes.plane("nginx:ip-hash").targets(setup)[0]
    assert "nginx.org/lb-method: ip_hash\n" in ip_hash.text


def test_no_equivalent_on_one_controller_is_a_note():
    setup = layouts.setup("one-port", {"service-upstream": "true"})
    tech, ingress = planes.plane("haproxy:map-based").targets(setup)
    assert tech.text == "" and "always makes the Service's endpoints" in tech.notes[0]
    assert "haproxy-ingress.github.io/service-upstream: 'true'" in ingress.text
