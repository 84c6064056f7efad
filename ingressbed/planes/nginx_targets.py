"""What to write on F5 NGINX Ingress (v4.0) for what an nginx plane runs (pure).

Two ways to say the same upstream, both open source:

- the Ingress's annotations: ``nginx.org/lb-method``, ``nginx.org/max-fails``,
  ``nginx.org/use-cluster-ip``, ``nginx.org/websocket-services`` (annotations have no
  published schema; the names are those the controller reads, ``internal/configs``);
- a VirtualServer (``k8s.nginx.org/v1``), whose upstreams take ``lb-method``,
  ``max-fails`` and ``use-cluster-ip``, validated against the controller's published CRD
  (``tests/test_plane_targets.py`` holds the fields it uses).

The controller's ConfigMap carries the client address (``real-ip-header``,
``set-real-ip-from``, ``real-ip-recursive``) where the pick reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingressbed.planes.base import Target
from ingressbed.planes.nginx_conf import HASH_CONSISTENT, IP_HASH, LEAST_CONN
from ingressbed.planes.targets import (
    configmap_patch,
    documents,
    dump,
    reads_forwarded_client,
    service_name,
)
from ingressbed.vocabulary import WS_PORT, Setup

if TYPE_CHECKING:
    from ingressbed.planes.nginx import NginxBalance

F5_NAME = "F5 NGINX Ingress v4.0"
F5_VS_NAME = "F5 NGINX Ingress v4.0, VirtualServer"
CHECKED = "annotation names as the controller reads them (annotations have no schema)"
CHECKED_CRD = "the VirtualServer CRD (k8s.nginx.org_virtualservers.yaml) of v4.0.1"
#: The host a VirtualServer needs where the Ingress has none.
PLACEHOLDER_HOST = "hellogo.example.com"


def lb_method(balance: NginxBalance) -> str:
    """``nginx.org/lb-method``'s value (a VirtualServer upstream's ``lb-method``)."""
    if balance.method == IP_HASH:
        return "ip_hash"
    if balance.method == LEAST_CONN:
        return "least_conn"
    if balance.hashed:
        consistent = " consistent" if balance.method == HASH_CONSISTENT else ""
        return f"hash {balance.hash_by}{consistent}"
    return "round_robin"


def _realip(setup: Setup, balance: NginxBalance) -> tuple[list[str], list[str]]:
    """The ConfigMap patch (and its note) where the pick reads a forwarded client."""
    if not reads_forwarded_client(setup, balance.reads_client):
        return [], []
    data = {
        "real-ip-header": "X-Forwarded-For",
        "set-real-ip-from": "0.0.0.0/0",
        "real-ip-recursive": "true",
    }
    note = "trust X-Forwarded-For only from your own proxies: 0.0.0.0/0 trusts every peer"
    return [configmap_patch("the controller's ConfigMap", data)], [note]


def _common_notes(balance: NginxBalance) -> list[str]:
    notes = ["max-fails 0: a failing pod is never skipped, as ingress-nginx's balancer (F5's "
             "default, 1, skips it for 10 s and moves its keys)"]  # fmt: skip
    if not balance.hashed and not balance.service_upstream and balance.method != LEAST_CONN:
        notes.append("without lb-method F5 balances by random two least_conn, not round robin")
    return notes


def ingress_annotations(setup: Setup, balance: NginxBalance) -> Target:
    """The Ingress's ``nginx.org/...`` annotations (and the ConfigMap where needed)."""
    annotations: dict[str, str] = {}
    if balance.service_upstream:
        annotations["nginx.org/use-cluster-ip"] = "true"
    else:
        annotations["nginx.org/lb-method"] = lb_method(balance)
    annotations["nginx.org/max-fails"] = "0"
    if any(r.service_port == WS_PORT for r in setup.ingress.routes):
        annotations["nginx.org/websocket-services"] = service_name(setup)
    name = setup.ingress.name
    head = f"# Ingress {name}: kubectl patch ingress {name} --type merge --patch-file FILE\n"
    realip, notes = _realip(setup, balance)
    text = documents([head + dump({"metadata": {"annotations": annotations}}), *realip])
    return Target(F5_NAME, text, CHECKED, (*_common_notes(balance), *notes))


def virtual_server(setup: Setup, balance: NginxBalance) -> Target:
    """The same as a VirtualServer: one upstream per Service port, one route per path."""
    service = service_name(setup)
    upstreams = []
    for port in setup.ingress.ports:
        upstream: dict[str, object] = {"name": f"{service}-{port}", "service": service}
        upstream["port"] = port
        if balance.service_upstream:
            upstream["use-cluster-ip"] = True
        else:
            upstream["lb-method"] = lb_method(balance)
        upstream["max-fails"] = 0
        upstreams.append(upstream)
    routes = [
        {"path": route.path or "/", "action": {"pass": f"{service}-{route.service_port}"}}
        for route in setup.ingress.routes
    ]
    hosts = [r.host for r in setup.ingress.routes if r.host]
    resource = {
        "apiVersion": "k8s.nginx.org/v1",
        "kind": "VirtualServer",
        "metadata": {"name": setup.ingress.name},
        "spec": {"host": hosts[0] if hosts else PLACEHOLDER_HOST, "upstreams": upstreams,
                 "routes": routes},
    }  # fmt: skip
    notes = _common_notes(balance)
    if not hosts:
        notes.append(f"a VirtualServer needs a host: {PLACEHOLDER_HOST} stands for yours")
    if len(set(hosts)) > 1:
        notes.append("a VirtualServer serves one host: write one per host")
    notes.append("a route path is a prefix as written: /8080 matches /8080x too")
    realip, realip_notes = _realip(setup, balance)
    head = "# kubectl apply -f FILE\n"
    text = documents([head + dump(resource), *realip])
    return Target(F5_VS_NAME, text, CHECKED_CRD, (*notes, *realip_notes))
