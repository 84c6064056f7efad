"""What ingress-nginx shows, read without I/O: backends, endpoint order, its location.

Pure functions over the JSON the controller and the API server return, shared by the kind
and cluster backends and tested in milliseconds: the backend JSON of ``/dbg backends get``
and whether it already serves a setup, the endpoint order the controller derives from
EndpointSlices, the checksum line of nginx.conf, where a controller keeps its ConfigMap,
and the capabilities of a controller version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ingressbed import k8s_manifests as km
from ingressbed.placement.subset import DEFAULT_SUBSET_SIZE
from ingressbed.tools import normalize_version, version_tuple
from ingressbed.vocabulary import ALL_CAPABILITIES, Address, Capability, Endpoint, IngressSpec

Obj = dict[str, Any]


def order_slice_endpoints(slices: list[Obj], port_name: str, target_port: int) -> list[Endpoint]:
    """The endpoints of one Service port in the order ingress-nginx builds them.

    Mirrors ``getEndpointsFromSlices`` (internal/ingress/controller/endpointslices.go,
    controller-v1.15.1), which does no sorting of its own:

    - slices in the order the informer cache lists them (a Go map: arbitrary when there
      is more than one slice; here sorted by name, so exact only for a single slice, i.e.
      up to 100 endpoints per Service by default);
    - per slice, the TCP ports whose name equals the Service port's name, or, for any
      other port, the Service's numeric targetPort;
    - endpoints in the slice's own order, skipping those whose ``ready`` is false
      (``ready`` unset counts as ready); per endpoint every port, then every address;
    - ``address:port`` seen before is skipped.

    The slice order itself comes from the EndpointSlice controller: existing endpoints
    keep their place, new ones are appended in no defined order.
    """
    seen: set[str] = set()
    out: list[Endpoint] = []
    for eps in sorted(slices, key=lambda s: s.get("metadata", {}).get("name", "")):
        ports: list[int] = []
        slice_ports = eps.get("ports") or []
        if not slice_ports:
            ports.append(target_port)
        for sp in slice_ports:
            if (sp.get("protocol") or "TCP") != "TCP":
                continue
            port = 0
            if not port_name or sp.get("name") == port_name:
                port = int(sp.get("port") or 0)
            ports.append(port or target_port)
        for ep in eps.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for port in ports:
                for addr in ep.get("addresses") or []:
                    e = Endpoint(addr, port)
                    if str(e) not in seen:
                        seen.add(str(e))
                        out.append(e)
    return out


def parse_dbg_backend(text: str) -> Obj | None:
    """The backend JSON ``/dbg backends get NAME`` printed, or None when it has none."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def backend_endpoints(backend: Mapping[str, Any]) -> list[Endpoint]:
    """The endpoints of a controller backend, in the balancer's order."""
    return [Endpoint(e["address"], int(e["port"])) for e in backend.get("endpoints") or []]


def nginx_conf_checksum(conf: str) -> str | None:
    """The ``# Configuration checksum:`` the controller writes at the top of nginx.conf."""
    for line in conf.splitlines()[:40]:
        if line.startswith("# Configuration checksum:"):
            return line.split(":", 1)[1].strip()
    return None


def full_capabilities(controller_version: str) -> frozenset[Capability]:
    """What an ingress-nginx backend can do; LEGACY_HASH only below 0.33."""
    caps = set(ALL_CAPABILITIES)
    if version_tuple(controller_version) >= (0, 33):
        caps.discard(Capability.LEGACY_HASH)
    return frozenset(caps)


def backend_mismatches(
    backend: Mapping[str, Any] | None,
    spec: IngressSpec,
    port: int,
    pod_ips: set[str],
    default_load_balance: str,
) -> list[str]:
    """Why the controller's backend for ``port`` does not serve ``spec`` yet ([] = it does)."""
    if backend is None:
        return ["no backend yet"]
    problems: list[str] = []
    hashing = backend.get("upstreamHashByConfig") or {}
    want_hash = spec.annotation("upstream-hash-by") or ""
    if hashing.get("upstream-hash-by", "") != want_hash:
        problems.append(f"upstream-hash-by {hashing.get('upstream-hash-by', '')!r}")
    want_subset = (spec.annotation("upstream-hash-by-subset") or "").lower() == "true"
    if bool(hashing.get("upstream-hash-by-subset", False)) != want_subset:
        problems.append(f"subset {hashing.get('upstream-hash-by-subset', False)}")
    want_size = subset_size(spec) if want_subset else 0
    got_size = int(hashing.get("upstream-hash-by-subset-size") or 0) if want_subset else 0
    if got_size != want_size:
        problems.append(f"subset-size {got_size}")
    session = backend.get("sessionAffinityConfig") or {}
    affinity = session.get("name", "")
    if affinity != (spec.annotation("affinity") or ""):
        problems.append(f"affinity {affinity!r}")
    elif affinity == "cookie":
        mode = session.get("mode") or "balanced"
        if mode != (spec.annotation("affinity-mode") or "balanced"):
            problems.append(f"affinity-mode {mode!r}")
    lb = spec.annotation("load-balance") or default_load_balance
    if backend.get("load-balance", lb) != lb:
        problems.append(f"load-balance {backend.get('load-balance')!r}")
    eps = backend_endpoints(backend)
    if (spec.annotation("service-upstream") or "").lower() == "true":
        if len(eps) != 1:
            problems.append(f"{len(eps)} endpoints, service-upstream wants 1")
    elif {e.address for e in eps} != pod_ips or any(e.port != port for e in eps):
        problems.append(f"endpoints {sorted(str(e) for e in eps)} vs pods {sorted(pod_ips)}")
    return problems


def subset_size(spec: IngressSpec) -> int:
    """The subset size the controller uses for ``spec`` (its parser turns 0 or none into 3)."""
    raw = spec.annotation("upstream-hash-by-subset-size") or ""
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_SUBSET_SIZE


HashConfig = tuple[str, bool, int]


def hash_config(spec: IngressSpec) -> HashConfig | None:
    """What a chash/chashsubset balancer reads once, at creation: key, subset, size.

    None when the backend is not hashed (no key, or cookie affinity, which takes precedence
    in the controller's balancer choice).
    """
    key = spec.annotation("upstream-hash-by") or ""
    if not key or (spec.annotation("affinity") or "") == "cookie":
        return None
    subset = (spec.annotation("upstream-hash-by-subset") or "").lower() == "true"
    return key, subset, subset_size(spec) if subset else 0


def stale_balancer_ports(old: IngressSpec | None, new: IngressSpec) -> list[int]:
    """Ports whose live hash balancer would keep ``old``'s configuration if ``new`` is applied.

    ingress-nginx creates a chash balancer with the key it reads then, and later syncs only
    refresh its endpoints; a change of key (or subset settings) alone makes no nginx reload.
    So when a port is hashed before and after and the hash configuration differs, the
    balancer must be made afresh (the backend removed first). A change from or to an
    unhashed backend changes the algorithm, and the controller replaces the balancer itself.
    """
    if old is None:
        return []
    before, after = hash_config(old), hash_config(new)
    if before is None or after is None or before == after:
        return []
    return [port for port in new.ports if port in old.ports]


_BACKEND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def parse_backend_names(text: str) -> set[str] | None:
    """Backend names printed by ``/dbg backends list`` (one per line), or None when the
    output is not such a list.

    ``/dbg`` prints its errors on stdout and exits 0 ("Nginx returned code 503", a failed
    request, a JSON error); read as names they would make every backend look gone. The
    controller always holds ``upstream-default-backend``, so an empty list is no answer
    either.
    """
    names = {line.strip() for line in text.splitlines() if line.strip()}
    if not names or not all(_BACKEND_NAME.fullmatch(name) for name in names):
        return None
    return names


def ingress_conflicts(ours: Mapping[str, Any], others: Sequence[Mapping[str, Any]]) -> list[str]:
    """``host path`` pairs of ``ours`` that an Ingress of another namespace also claims."""

    def claims(ing: Mapping[str, Any]) -> set[tuple[str, str]]:
        out = set()
        for rule in (ing.get("spec") or {}).get("rules") or []:
            for p in ((rule.get("http") or {}).get("paths")) or []:
                out.add((rule.get("host") or "*", p.get("path") or "/"))
        return out

    mine = claims(ours)
    ns = ours["metadata"]["namespace"]
    hits = []
    for other in others:
        meta = other.get("metadata") or {}
        if meta.get("namespace") == ns:
            continue
        for host, path in sorted(mine & claims(other)):
            hits.append(f"{host}{path} ({meta.get('namespace')}/{meta.get('name')})")
    return hits


def controller_location(deployment: Mapping[str, Any]) -> tuple[str, str, str]:
    """(namespace, ConfigMap name, version) of an ingress-nginx controller Deployment."""
    ns = str(deployment["metadata"]["namespace"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    configmap = km.CONTROLLER_CONFIGMAP
    for arg in container.get("args") or []:
        if arg.startswith("--configmap="):
            value = arg.split("=", 1)[1].replace("$(POD_NAMESPACE)", ns)
            configmap = value.rsplit("/", 1)[-1]
    image = str(container.get("image", "")).split("@")[0].rsplit("/", 1)[-1]
    match = re.search(r":(v?\d+\.\d+\.\d+)", image)
    version = normalize_version(match.group(1)) if match else "unknown"
    return ns, configmap, version


def load_balancer_address(service: Mapping[str, Any]) -> Address | None:
    """Port 80 of the first load-balancer ingress of a Service, if it has one."""
    lb = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    for entry in lb:
        host = entry.get("ip") or entry.get("hostname")
        if host:
            return Address(str(host), 80)
    return None
