"""A user's Ingress in any API version -> the bed's IngressSpec (pure, no bed)."""

from __future__ import annotations

import pytest

from ingressbed.errors import ScenarioError
from ingressbed.scenario.ingress import from_block
from ingressbed.scenario.nodes import Source
from ingressbed.vocabulary import Route

BETA = """\
apiVersion: {version}
kind: Ingress
metadata:
  name: web
  annotations:
    kubernetes.io/ingress.class: nginx
    nginx.ingress.kubernetes.io/upstream-hash-by: $request_uri
    nginx.ingress.kubernetes.io/proxy-read-timeout: 300
spec:
  rules:
  - host: shop.example.test
    http:
      paths:
      - path: /api
        backend: {{serviceName: api, servicePort: 9090}}
      - path: /
        backend: {{serviceName: html-render-pre, servicePort: 80}}
      - path: /named
        backend: {{serviceName: html-render-pre, servicePort: http}}
"""

V1 = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    kubernetes.io/ingress.class: nginx
    nginx.ingress.kubernetes.io/upstream-hash-by: $request_uri
    nginx.ingress.kubernetes.io/proxy-read-timeout: 300
spec:
  ingressClassName: public
  rules:
  - host: shop.example.test
    http:
      paths:
      - path: /api
        pathType: ImplementationSpecific
        backend: {service: {name: api, port: {number: 9090}}}
      - path: /
        pathType: ImplementationSpecific
        backend: {service: {name: html-render-pre, port: {number: 80}}}
      - path: /named
        pathType: ImplementationSpecific
        backend: {service: {name: html-render-pre, port: {name: http}}}
"""

HOST = "shop.example.test"
EXPECTED = (
    Route("/api", 9090, HOST, "ImplementationSpecific"),
    Route("/", 8080, HOST, "ImplementationSpecific"),
    Route("/named", 8080, HOST, "ImplementationSpecific"),
)


def _block(text: str, first_line: int = 10):
    """Convert ``text`` as if it were a ``|`` block starting after line ``first_line``."""
    outer = "ingress: |\n" + "".join(f"  {line}\n" for line in text.splitlines())
    src = Source("s.yaml", offset=first_line - 1)
    node = src.compose_all(outer)[0].value[0][1]
    return from_block(src, node)


@pytest.mark.parametrize(
    "text",
    [
        BETA.format(version="extensions/v1beta1"),
        BETA.format(version="networking.k8s.io/v1beta1"),
        V1,
    ],
    ids=["extensions-v1beta1", "networking-v1beta1", "networking-v1"],
)
def test_every_api_version_converts_to_the_same_routes(text):
    converted = _block(text)
    assert converted.spec.name == "web"
    assert converted.spec.routes == EXPECTED
    assert dict(converted.spec.annotations) == {
        "nginx.ingress.kubernetes.io/upstream-hash-by": "$request_uri",
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "300",  # kept as written
    }
    notes = "\n".join(converted.notes)
    assert "service api:9090 -> hellogo:9090" in notes
    assert "service html-render-pre:80 -> hellogo:8080 (not a hellogo port" in notes
    assert "service html-render-pre:http -> hellogo:8080 (a named port" in notes
    assert "kubernetes.io/ingress.class left out" in notes
    # Lines are the scenario file's: the block starts on line 11.
    assert converted.annotation_lines["nginx.ingress.kubernetes.io/upstream-hash-by"] == 17


def test_empty_host_and_default_backend():
    text = """\
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: kuaizhan-wap}
spec:
  backend: {serviceName: fallback, servicePort: 9090}
  rules:
  - host:
    http:
      paths:
      - backend: {serviceName: html-render-pre, servicePort: 80}
"""
    routes = _block(text).spec.routes
    assert routes == (
        Route("/", 8080, None, "ImplementationSpecific"),
        Route("/", 9090, None, "Prefix"),
    )


def test_other_kinds_in_the_block_are_ignored():
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n---\n" + V1
    assert _block(text).spec.routes == EXPECTED


def test_a_mapping_instead_of_text_is_accepted():
    src = Source("s.yaml")
    node = src.compose_all("ingress:\n" + "".join(f"  {ln}\n" for ln in V1.splitlines()))[0]
    assert from_block(src, node.value[0][1]).spec.routes == EXPECTED


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("kind: Ingress", "kind: Service", 12, "needs an Ingress"),
        ("networking.k8s.io/v1", "networking.k8s.io/v2", 11, "not an Ingress version"),
        ("name: web", "nam: web", 14, "metadata has no 'name'"),
        ("        pathType: ImplementationSpecific\n", "", 25, "needs a pathType"),
        ("{number: 9090}", "{numbr: 9090}", 27, "unknown key 'numbr'"),
        ("{number: 9090}", "{number: 0}", 27, "port number must be 1..65535"),
        ("{name: api, port:", "{nam: api, port:", 27, "unknown key 'nam'"),
        ("- path: /api", "- path: api", 25, "must start with /"),
        ("pathType: ImplementationSpecific", "pathType: Regex", 26, "not one of Exact"),
    ],
)
def test_an_invalid_ingress_points_at_its_line(old, new, line, words):
    assert old in V1
    with pytest.raises(ScenarioError) as info:
        _block(V1.replace(old, new, 1))
    message = str(info.value)
    assert message.startswith(f"s.yaml:{line}: "), message
    assert words in message, message


def test_no_routes_and_several_ingresses_are_errors():
    empty = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec: {}\n"
    with pytest.raises(ScenarioError, match="routes nothing"):
        _block(empty)
    with pytest.raises(ScenarioError, match="holds 2 Ingress objects"):
        _block(V1 + "---\n" + V1)
