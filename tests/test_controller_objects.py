"""Reading pasted Ingresses and Services of every API version into the controller model."""

from __future__ import annotations

import pytest
import yaml

from ingressbed import k8s_manifests, layouts
from ingressbed.controller import (
    BackendRef,
    IngressPath,
    from_ingress_spec,
    ingress_from_dict,
    read_objects,
    service_from_dict,
)
from ingressbed.errors import ConfigError
from ingressbed.objects import HELLOGO_PORT_NAMES

BETA = """
apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: kuaizhan-wap
  namespace: kuaizhan-cl
  annotations:
    kubernetes.io/ingress.class: "nginx"
    nginx.ingress.kubernetes.io/upstream-hash-by: "$host$request_uri"
spec:
  backend: {serviceName: fallback, servicePort: http}
  tls: [{hosts: [a.example.com], secretName: a}]
  rules:
  - host:
    http:
      paths:
      - path: /
        backend: {serviceName: html-render-pre, servicePort: 80}
  - host: b.example.com
"""

V1 = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: app, port: {name: http}}}
  rules:
  - host: app.example.com
    http:
      paths:
      - {path: /a, pathType: Exact, backend: {service: {name: app, port: {number: 80}}}}
      - {path: /r, pathType: Prefix, backend: {resource: {kind: Bucket, name: b}}}
"""


def test_a_v1beta1_ingress_keeps_what_the_controller_reads():
    found = ingress_from_dict(yaml.safe_load(BETA), order=3)
    assert (found.key, found.order, found.api_version) == (
        "kuaizhan-cl/kuaizhan-wap",
        3,
        "extensions/v1beta1",
    )
    assert found.ingress_class == "nginx"
    assert found.default_backend == BackendRef("fallback", "http")
    assert found.tls_hosts == ("a.example.com",)
    assert found.rules[0].host == ""
    # v1beta1 paths without a type get the API server's default
    assert found.rules[0].paths == (
        IngressPath("/", "ImplementationSpecific", BackendRef("html-render-pre", 80)),
    )
    assert (found.rules[1].host, found.rules[1].http) == ("b.example.com", False)


def test_a_v1_ingress_with_named_ports_and_a_resource_backend():
    found = ingress_from_dict(yaml.safe_load(V1))
    assert found.key == "default/web"
    assert found.default_backend == BackendRef("app", "http")
    assert found.rules[0].paths[0] == IngressPath("/a", "Exact", BackendRef("app", 80))
    assert found.rules[0].paths[1].backend is None  # the controller skips resource backends


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(kind="Service"), "kind: 'Service' is not Ingress"),
        (lambda d: d.update(apiVersion="v1"), "apiVersion: 'v1' is not one of"),
        (
            lambda d: d["spec"]["rules"][0]["http"]["paths"][0].pop("pathType"),
            "Ingress web: spec.rules[0].http.paths[0]: networking.k8s.io/v1 needs a pathType",
        ),
        (
            lambda d: d["spec"]["rules"][0]["http"]["paths"][0].update(pathType="Regex"),
            "pathType: 'Regex' is not one of Exact, Prefix, ImplementationSpecific",
        ),
        (
            lambda d: d["spec"]["rules"][0]["http"]["paths"][0].update(path="a"),
            "path: 'a' must start with /",
        ),
        (
            lambda d: d["spec"]["rules"][0]["http"]["paths"][0]["backend"].update(serviceName="x"),
            "networking.k8s.io/v1 uses service.name and service.port, not serviceName",
        ),
        (
            lambda d: d["metadata"].update(
                annotations={"nginx.ingress.kubernetes.io/canary": True}
            ),
            "annotation nginx.ingress.kubernetes.io/canary: the value must be a string",
        ),
        (lambda d: d["spec"].update(rulez=[]), "spec: unknown field 'rulez'"),
        (
            lambda d: d["spec"]["rules"][0]["http"]["paths"][0].update(backend=None),
            "paths[0].backend: expected a mapping, got nothing (null)",
        ),
        (lambda d: d.update(metadata=None), "Ingress: metadata: expected a mapping"),
    ],
)
def test_a_malformed_ingress_is_one_line_naming_the_field(change, message):
    doc = yaml.safe_load(V1)
    change(doc)
    with pytest.raises(ConfigError) as caught:
        ingress_from_dict(doc)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_service_with_defaults_and_a_named_target_port():
    found = service_from_dict(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "app", "namespace": "shop"},
            "spec": {"ports": [{"port": 80}, {"name": "ws", "port": 81, "targetPort": "web"}]},
        }
    )
    assert (found.key, found.type, found.cluster_ip) == ("shop/app", "ClusterIP", "")
    assert [(p.port, p.target, p.protocol) for p in found.ports] == [
        (80, 80, "TCP"),
        (81, "web", "TCP"),
    ]
    with pytest.raises(ConfigError, match=r"Service app: spec\.type: 'Cluster' is not one of"):
        service_from_dict(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "app"},
                "spec": {"type": "Cluster"},
            }
        )


def test_pasted_objects_keep_their_written_order_and_name_the_rest():
    docs = list(
        yaml.safe_load_all(
            V1 + "\n---\n" + BETA + "\n---\nkind: Deployment\nmetadata: {name: d}\n---\n"
        )
    )
    found = read_objects(docs)
    assert [(i.key, i.order) for i in found.ingresses] == [
        ("default/web", 0),
        ("kuaizhan-cl/kuaizhan-wap", 1),
    ]
    assert found.skipped == ("Deployment d",)


def test_the_beds_one_ingress_setup_maps_onto_the_model():
    spec = layouts.setup("three-ports", {"upstream-hash-by": "$binary_remote_addr"}).ingress
    ingress, service = from_ingress_spec(spec)
    assert ingress.key == "default/hellogo"
    assert dict(ingress.annotations) == dict(spec.annotations)
    assert [(p.path, p.backend) for r in ingress.rules for p in r.paths] == [
        (r.path, BackendRef("hellogo", r.service_port)) for r in spec.routes
    ]
    assert [(p.name, p.port) for p in service.ports] == [
        ("http", 8080),
        ("http2", 9090),
        ("ws", 8081),
    ]


def test_hellogo_port_names_are_the_manifests_names():
    assert dict(HELLOGO_PORT_NAMES) == k8s_manifests.PORT_NAMES


def test_null_lists_read_as_empty_as_the_api_server_reads_them():
    doc = yaml.safe_load(V1)
    doc["spec"] = None
    assert ingress_from_dict(doc).rules == ()
    doc["spec"] = {"rules": [{"host": "a.example.com", "http": {"paths": None}}], "tls": None}
    assert ingress_from_dict(doc).rules[0].paths == ()
