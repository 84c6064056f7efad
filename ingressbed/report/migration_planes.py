"""What each data plane does to an ingress-nginx candidate, in words (pure).

``ABOUT`` holds one fixed paragraph per data plane; ``translation`` states how one
candidate is rendered there, from ``PlaneBalance`` (the same translation the local data
planes are configured with), rebuilt from the annotations a report records.
"""

from __future__ import annotations

from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError
from ingressbed.expectations import Placement
from ingressbed.report.results import CandidateResult
from ingressbed.translation import PlaneBalance
from ingressbed.vocabulary import ANNOTATION_PREFIX, IngressSpec, Setup

#: The data plane being left; the default baseline of a migration report.
BASELINE = "ingress-nginx"

#: One paragraph per data plane: how it balances what an ingress-nginx Ingress asks for.
ABOUT: dict[str, str] = {
    "ingress-nginx": (
        "ingress-nginx balances in Lua: `upstream-hash-by` builds a consistent-hash ring per "
        "Service port, so one key can pick different pods on different ports; without a key "
        "it is round robin. Cookie affinity, subsets, EWMA and service-upstream are its own."
    ),
    "nginx": (
        "F5 NGINX Ingress renders the key as `nginx.org/lb-method: hash KEY consistent`: "
        "nginx's own consistent hash (ketama points per server), one upstream per Service "
        "port. A key keeps its pod while the pods stay, and adding a pod moves about the "
        "new pod's share of the keys."
    ),
    "nginx:hash": (
        "`nginx.org/lb-method: hash KEY` without `consistent`: the key's hash modulo the "
        "number of servers. Keys stay put while the pods stay; adding or removing a pod "
        "moves most of them."
    ),
    "nginx:ip-hash": (
        "`nginx.org/lb-method: ip_hash`: the key in the annotation is ignored and the "
        "client address picks the pod, its first three octets only, so a whole /24 shares "
        "a pod. Anything keyed by URL or host (per-pod caches) loses its affinity."
    ),
    "haproxy": (
        "HAProxy-based controllers turn the key into `balance source`, `uri`, `uri whole` or "
        "`hdr(NAME)` with `hash-type consistent`. Servers are numbered by their position in "
        "the list, so removing a pod renumbers the ones after it and moves their keys too."
    ),
    "haproxy:pod-ids": (
        "As `haproxy`, but each pod keeps one server id for its life (haproxy-ingress's "
        "`assign-backend-server-id`): a pod's place on the hash ring follows the pod, not "
        "its position in the list, so changing one pod moves only that pod's keys."
    ),
    "haproxy:map-based": (
        "HAProxy's default `hash-type map-based`: the hash modulo the number of servers. "
        "Even spread, but adding or removing a pod moves most clients and pages."
    ),
}


def about(plane: str) -> str:
    """The paragraph of ``plane`` (a plain note for a plane this bed does not know)."""
    return ABOUT.get(plane, f"No description of data plane {plane!r} in this version.")


def _setup(candidate: CandidateResult) -> Setup:
    annotations = {
        key if key.startswith(ANNOTATION_PREFIX) else ANNOTATION_PREFIX + key: value
        for key, value in candidate.annotations.items()
    }
    return Setup(IngressSpec(candidate.id, (), annotations), dict(candidate.controller))


def translation(candidate: CandidateResult, plane: str) -> tuple[str, tuple[str, ...]] | None:
    """How ``plane`` renders ``candidate``'s balancing, and what the rendering changes.

    Only hash keys and round robin translate one to one; for cookie affinity, subsets,
    EWMA and service-upstream, None (each successor has its own feature, or none).
    """
    setup = _setup(candidate)
    if Balancing.of(setup).placement not in (Placement.HASH, Placement.ROUND_ROBIN):
        return None
    try:
        balance = PlaneBalance.of(plane, setup)
    except ConfigError as exc:
        return f"no translation: {exc}", ()
    return balance.describe().partition(": ")[2], balance.notes
