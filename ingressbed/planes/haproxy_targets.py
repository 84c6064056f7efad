"""What to write on the HAProxy-based controllers for what an HAProxy plane runs (pure).

Two controllers (docs/translation.md has the sources read):

- HAProxy Technologies' kubernetes-ingress (v3.2): annotations ``haproxy.org/...`` on the
  Service (``load-balance``, ``cookie-persistence``, ``backend-config-snippet``), the
  ConfigMap's ``src-ip-header``;
- haproxy-ingress (v0.16): annotations ``haproxy-ingress.github.io/...`` on the Service
  (``balance-algorithm``, ``config-backend``, ``assign-backend-server-id``, ``affinity``,
  ``session-cookie-*``, ``service-upstream``).

Annotations have no published schema; the names are those the controllers document
(``tests/test_plane_targets.py`` holds the lists and checks every target against them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingressbed.planes.base import Target
from ingressbed.planes.haproxy_cfg import ROUND_ROBIN
from ingressbed.planes.haproxy_cookie import HAPROXY_INGRESS_POD_UID, HAPROXYTECH
from ingressbed.planes.targets import (
    annotations_patch,
    configmap_patch,
    documents,
    reads_forwarded_client,
    service_name,
)
from ingressbed.vocabulary import Setup

if TYPE_CHECKING:
    from ingressbed.planes.haproxy import HaproxyBalance

HAPROXYTECH_NAME = "HAProxy Technologies' kubernetes-ingress v3.2"
HAPROXY_INGRESS_NAME = "haproxy-ingress v0.16"
#: What the names were checked against.
CHECKED = "annotation names as the controller documents them (annotations have no schema)"
#: Where the client address comes from, as the bed renders ``use-forwarded-headers``.
_SET_SRC = "http-request set-src hdr_ip(x-forwarded-for,1)"


def haproxytech(setup: Setup, balance: HaproxyBalance) -> Target:
    """HAProxy Technologies' controller: the Service's annotations, and its ConfigMap."""
    if balance.service_upstream:
        return Target(
            HAPROXYTECH_NAME,
            "",
            CHECKED,
            (
                "no equivalent of service-upstream: the controller always makes the Service's "
                "endpoints its servers; haproxy-ingress's service-upstream is the nearest",
            ),
        )
    notes: list[str] = []
    annotations: dict[str, str] = {}
    if balance.cookie is not None:
        annotations["haproxy.org/cookie-persistence"] = balance.cookie.name
        notes.append("new visitors are balanced by load-balance, roundrobin by default")
        if balance.cookie.style is not HAPROXYTECH:
            notes.append(
                "the controller's fixed dynamic-cookie-key gives other cookie values than "
                "haproxy-ingress's, with the same behaviour"
            )
    else:
        annotations["haproxy.org/load-balance"] = balance.method
    if balance.hashed and balance.hash_type == "consistent":
        annotations["haproxy.org/backend-config-snippet"] = "hash-type consistent\n"
        notes.append(
            "the snippet needs config snippets enabled; a Backend custom resource with "
            "hash_type consistent does the same"
        )
        notes.append(
            "the controller fills each Service port's server slots in its own order, so server "
            "ids (and a key's pod) can differ between ports; the bed runs the best case, one "
            "order for every port"
        )
    parts = [annotations_patch("Service", service_name(setup), annotations)]
    if reads_forwarded_client(setup, balance.reads_client):
        parts.append(
            configmap_patch("the controller's ConfigMap", {"src-ip-header": "X-Forwarded-For"})
        )
        notes.append(
            "src-ip-header takes the last X-Forwarded-For address, the bed (like ingress-nginx) "
            "the leftmost: they agree while one proxy adds one address"
        )
    return Target(HAPROXYTECH_NAME, documents(parts), CHECKED, tuple(notes))


def haproxy_ingress(setup: Setup, balance: HaproxyBalance, *, pod_ids: bool) -> Target:
    """haproxy-ingress: the Service's annotations (``pod_ids``: one server id per pod)."""
    prefix = "haproxy-ingress.github.io/"
    notes: list[str] = []
    annotations: dict[str, str] = {}
    backend_lines: list[str] = []
    if balance.service_upstream:
        annotations[prefix + "service-upstream"] = "true"
    elif balance.cookie is not None:
        annotations[prefix + "affinity"] = "cookie"
        annotations[prefix + "session-cookie-name"] = balance.cookie.name
        annotations[prefix + "balance-algorithm"] = ROUND_ROBIN
        if balance.cookie.style is HAPROXY_INGRESS_POD_UID:
            annotations[prefix + "session-cookie-dynamic"] = "false"
            annotations[prefix + "session-cookie-value-strategy"] = "pod-uid"
        elif balance.cookie.style is HAPROXYTECH:
            notes.append(
                "haproxy-ingress's dynamic-cookie-key (its cookie-key, Ingress by default) gives "
                "other cookie values than HAProxy Technologies', with the same behaviour"
            )
    else:
        annotations[prefix + "balance-algorithm"] = balance.method
        if balance.hashed and balance.hash_type == "consistent":
            backend_lines.append("hash-type consistent")
        if balance.hashed and pod_ids:
            annotations[prefix + "assign-backend-server-id"] = "true"
    if reads_forwarded_client(setup, balance.reads_client):
        backend_lines.append(_SET_SRC)
        notes.append("the client is the leftmost X-Forwarded-For address, as the bed takes it")
    if backend_lines:
        annotations[prefix + "config-backend"] = "".join(f"{line}\n" for line in backend_lines)
    if balance.hashed and not pod_ids:
        notes.append(
            "servers are numbered by their place in the sorted endpoint list: a pod inserted in "
            "the middle renumbers the pods after it at the next reload"
        )
    text = annotations_patch("Service", service_name(setup), annotations)
    return Target(HAPROXY_INGRESS_NAME, text, CHECKED, tuple(notes))
