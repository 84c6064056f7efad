"""What a user writes to get the Envoy planes' rendering of a candidate (pure).

``envoy``: Envoy Gateway (v1.9.0) resources, copy-paste ready:

- an ``HTTPRoute`` per host (Gateway API v1): each Ingress rule a rule with its path
  match and backendRef, and ``sessionPersistence`` (experimental channel) for
  ``affinity-mode: persistent``;
- a ``BackendTrafficPolicy`` on those routes: ``loadBalancer`` (``ConsistentHash`` of the
  key's type, ``RoundRobin``, ``LeastRequest``) and ``routingType: Service``;
- a ``ClientTrafficPolicy`` on the Gateway where the client address comes from
  X-Forwarded-For (``clientIPDetection.xForwardedFor.numTrustedHops: 1``).

``envoy:ring-hash``: Contour's ``HTTPProxy`` (``projectcontour.io/v1``), whose
``RequestHash`` and ``Cookie`` strategies give Envoy's ring hash.

The Gateway is called ``eg`` (the name in Envoy Gateway's quickstart): replace it with
yours. The notes the translation gives (``NOTES``) say what each choice changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from ingressbed.errors import NoEquivalent
from ingressbed.planes.base import Plane, Target
from ingressbed.vocabulary import SERVICE_NAME, Route, Setup

if TYPE_CHECKING:
    from ingressbed.planes.envoy import EnvoyBalance

GATEWAY = "eg"
_GATEWAY_API = "gateway.networking.k8s.io"
_EG_API = "gateway.envoyproxy.io/v1alpha1"
#: What validated the resources.
CHECKED = (
    "the fields and values of Envoy Gateway v1.9.0's CRDs (BackendTrafficPolicy, "
    "ClientTrafficPolicy) and of Gateway API's HTTPRoute (experimental channel for "
    "sessionPersistence), as tests/test_envoy_targets.py holds them"
)

COOKIE_NOTES = (
    "ConsistentHash Cookie with a ttl: on a first visit Envoy sets the cookie itself, its "
    "value made from the connection's two addresses, so every cookie-less request on one "
    "keep-alive connection gets the same pod",
    "the cookie holds 16 hex digits (ingress-nginx: `<key>|<hash>`) and no Path",
    "hash-based like `balanced`: a new pod takes about its share of the sessions",
)
SESSION_NOTES = (
    "HTTPRoute sessionPersistence (Gateway API experimental channel): Envoy's stateful "
    "session pins the exact ip:port that answered, as `persistent` pins its endpoint",
    "the cookie is the base64 of a small protobuf naming ip:port (ingress-nginx: a hash)",
    "a visitor without the cookie gets least request (Envoy Gateway's default), not the "
    "candidate's load-balance",
)
SERVICE_NOTES = (
    "routingType: Service: one endpoint, the Service address; kube-proxy picks a pod per "
    "upstream connection, and Envoy keeps those connections open across clients",
)
EWMA_NOTES = (
    "no EWMA in Envoy Gateway: LeastRequest (its default) sends a request to the less busy "
    "of two random pods, counted in requests in flight, not latency",
)
ROUND_ROBIN_NOTES = (
    "RoundRobin written out: without a BackendTrafficPolicy Envoy Gateway balances LeastRequest",
)


def refuse_canaries(setup: Setup) -> None:
    """Refuse a setup with a canary Ingress.

    Raises:
        NoEquivalent: canary weights have no Envoy Gateway form that keeps the hash.
    """
    if any(ingress.is_canary for ingress in setup.ingresses):
        raise NoEquivalent(
            "canary weights: Envoy Gateway turns weighted backendRefs into weighted clusters "
            "picked at random per request, and the hash applies only inside the one picked "
            "(v1.9.0), so no canary keeps a client's pod"
        )


def gateway_duration(seconds: int) -> str:
    """Seconds as a Gateway API Duration (``1h30m``; each figure 5 digits at most)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def _match(route: Route) -> dict[str, Any]:
    kind = "Exact" if route.path_type == "Exact" else "PathPrefix"
    return {"path": {"type": kind, "value": route.path or "/"}}


def _rule(route: Route, balance: EnvoyBalance) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "matches": [_match(route)],
        "backendRefs": [{"name": SERVICE_NAME, "port": route.service_port}],
    }
    if balance.session is not None:
        persistence: dict[str, Any] = {"sessionName": balance.session.name, "type": "Cookie"}
        if balance.session.ttl is not None:
            persistence["absoluteTimeout"] = gateway_duration(balance.session.ttl)
            persistence["cookieConfig"] = {"lifetimeType": "Permanent"}
        rule["sessionPersistence"] = persistence
    return rule


def _routes(setup: Setup, balance: EnvoyBalance) -> list[dict[str, Any]]:
    by_host: dict[str | None, list[Route]] = {}
    for route in setup.ingress.routes:
        by_host.setdefault(route.host or None, []).append(route)
    out = []
    for number, (host, routes) in enumerate(by_host.items()):
        spec: dict[str, Any] = {"parentRefs": [{"name": GATEWAY}]}
        if host:
            spec["hostnames"] = [host]
        spec["rules"] = [_rule(route, balance) for route in routes]
        name = setup.ingress.name if number == 0 else f"{setup.ingress.name}-{number}"
        out.append(
            {
                "apiVersion": f"{_GATEWAY_API}/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": name},
                "spec": spec,
            }
        )
    return out


def _load_balancer(balance: EnvoyBalance) -> dict[str, Any]:
    if not balance.policies:
        kind = "RoundRobin" if balance.method == "round-robin" else "LeastRequest"
        return {"type": kind}
    hashing: dict[str, Any] = {"type": balance.hash_type}
    if balance.hash_type == "Headers":
        hashing["headers"] = [{"name": p.name} for p in balance.policies]
    elif balance.hash_type == "QueryParams":
        hashing["queryParams"] = [{"name": p.name} for p in balance.policies]
    elif balance.hash_type == "Cookie":
        (policy,) = balance.policies
        cookie: dict[str, Any] = {"name": policy.name}
        if policy.ttl is not None:
            cookie["ttl"] = gateway_duration(policy.ttl)
        hashing["cookie"] = cookie
    return {"type": "ConsistentHash", "consistentHash": hashing}


def gateway_resources(setup: Setup, balance: EnvoyBalance) -> list[dict[str, Any]]:
    """The Envoy Gateway resources for ``balance``: HTTPRoutes, their BackendTrafficPolicy,
    and the ClientTrafficPolicy where the client comes from X-Forwarded-For."""
    routes = _routes(setup, balance)
    out = list(routes)
    if balance.session is None:  # sessionPersistence alone keeps Envoy Gateway's default
        refs = [
            {"group": _GATEWAY_API, "kind": "HTTPRoute", "name": r["metadata"]["name"]}
            for r in routes
        ]
        spec: dict[str, Any] = {"targetRefs": refs}
        if balance.service:
            spec["routingType"] = "Service"
        spec["loadBalancer"] = _load_balancer(balance)
        out.append(
            {
                "apiVersion": _EG_API,
                "kind": "BackendTrafficPolicy",
                "metadata": {"name": setup.ingress.name},
                "spec": spec,
            }
        )
    if balance.client.mode == "xff-hops":
        out.append(
            {
                "apiVersion": _EG_API,
                "kind": "ClientTrafficPolicy",
                "metadata": {"name": "client-address"},
                "spec": {
                    "targetRefs": [{"group": _GATEWAY_API, "kind": "Gateway", "name": GATEWAY}],
                    "clientIPDetection": {
                        "xForwardedFor": {"numTrustedHops": balance.client.trusted_hops}
                    },
                },
            }
        )
    return out


def _contour_policy(balance: EnvoyBalance) -> tuple[dict[str, Any], list[str]]:
    """HTTPProxy ``loadBalancerPolicy`` for ``balance``, and what Contour changes."""
    notes: list[str] = []
    if balance.service or balance.session is not None:
        what = "routingType Service" if balance.service else "sessionPersistence"
        raise NoEquivalent(f"Contour's HTTPProxy has no {what}")
    if not balance.policies:
        kind = "RoundRobin" if balance.method == "round-robin" else "WeightedLeastRequest"
        return {"strategy": kind}, notes
    if balance.hash_type == "Cookie":
        notes.append(
            "Contour's Cookie strategy sets its own cookie, X-Contour-Session-Affinity, "
            "as a session cookie: the candidate's name and lifetime are not kept"
        )
        return {"strategy": "Cookie"}, notes
    hashes: list[dict[str, Any]] = []
    for policy in balance.policies:
        if policy.kind == "source-ip":
            hashes.append({"hashSourceIP": True})
        elif policy.kind == "query":
            hashes.append({"queryParameterHashOptions": {"parameterName": policy.name}})
        elif policy.name.startswith(":"):
            raise NoEquivalent(
                f"Contour hashes request headers by name; it offers no {policy.name} pseudo-header"
            )
        else:
            hashes.append({"headerHashOptions": {"headerName": policy.name}})
    if any(p.kind == "source-ip" for p in balance.policies):
        notes.append(
            "Contour reads the client from X-Forwarded-For only with num-trusted-hops in its "
            "configuration file (network.num-trusted-hops: 1)"
        )
    return {"strategy": "RequestHash", "requestHashPolicies": hashes}, notes


def contour_resources(
    setup: Setup, balance: EnvoyBalance
) -> tuple[list[dict[str, Any]], list[str]]:
    """Contour HTTPProxies for ``balance`` (one per host; a rule without a host gets the
    placeholder ``hellogo.example.com``), and what Contour changes.

    Raises:
        NoEquivalent: a choice Contour's HTTPProxy cannot express.
    """
    policy, notes = _contour_policy(balance)
    by_host: dict[str | None, list[Route]] = {}
    for route in setup.ingress.routes:
        by_host.setdefault(route.host or None, []).append(route)
    out = []
    for number, (host, routes) in enumerate(by_host.items()):
        entries = []
        for route in routes:
            condition = "exact" if route.path_type == "Exact" else "prefix"
            entries.append(
                {
                    "conditions": [{condition: route.path or "/"}],
                    "services": [{"name": SERVICE_NAME, "port": route.service_port}],
                    "loadBalancerPolicy": policy,
                }
            )
        name = setup.ingress.name if number == 0 else f"{setup.ingress.name}-{number}"
        out.append(
            {
                "apiVersion": "projectcontour.io/v1",
                "kind": "HTTPProxy",
                "metadata": {"name": name},
                "spec": {"virtualhost": {"fqdn": host or "hellogo.example.com"}, "routes": entries},
            }
        )
    if any(host is None for host in by_host):
        notes.append("an HTTPProxy needs a host name: replace hellogo.example.com with yours")
    return out, notes


def targets(plane: Plane, setup: Setup, balance: EnvoyBalance) -> list[Target]:
    """What to write on the controller ``plane`` stands for to get ``balance``.

    Raises:
        NoEquivalent: that controller cannot express it (named).
    """
    if plane.name.rendering == "ring-hash":
        resources, notes = contour_resources(setup, balance)
        text = yaml.safe_dump_all(resources, sort_keys=False)
        return [Target("Contour (HTTPProxy)", text, "", (*balance.notes, *notes))]
    text = yaml.safe_dump_all(gateway_resources(setup, balance), sort_keys=False)
    return [Target("Envoy Gateway v1.9", text, CHECKED, balance.notes)]
