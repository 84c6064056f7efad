"""The configuration in force, explained for a maintainer triaging a report (pure).

``explanation(config)`` is plain data (for JSON): the Ingresses in force and the ones
the controller refuses, then per backend which Ingress created it, its endpoints, the
balancer it gets, the hash key, subset, cookie affinity (mode, cookie name, every
attribute, the ``Set-Cookie`` per location and whether a browser sends it back), canary,
``service-upstream`` and ``load-balance`` in force, and the notes about it; per server
the locations and the backend each uses. ``explain(config)`` renders it as text, the
way ``ingressbed repro --explain`` prints it; ``explain_change`` renders a live change.
"""

from __future__ import annotations

from typing import Any

from ingressbed.controller import cookies
from ingressbed.controller.changes import Change
from ingressbed.controller.model import (
    DEFAULT_BACKEND,
    DEFAULT_SERVER,
    Backend,
    Configuration,
    Note,
)

Data = dict[str, Any]
_BALANCERS = {
    "round_robin": "round robin",
    "ewma": "ewma",
    "chash": "consistent hash on the key",
    "chashsubset": "consistent hash of the key onto a group, a random member per request",
    "sticky_balanced": "cookie affinity; a session's key is placed on the ring",
    "sticky_persistent": "cookie affinity; the cookie names the pod",
}


def _note(note: Note) -> Data:
    return {
        "kind": note.kind.value,
        "ingress": note.ingress,
        "annotation": note.annotation,
        "value": note.value,
        "reason": note.reason,
        "backend": note.backend,
        "text": note.text(),
    }


def _cookie(backend: Backend, config: Configuration) -> Data:
    affinity = backend.affinity
    cookie = affinity.cookie
    locations = []
    for host, paths in sorted(cookie.locations.items()):
        for location_path in dict.fromkeys(paths):
            path = cookies.cookie_path(cookie, location_path)
            sent, why = cookies.returned(path, location_path)
            locations.append(
                {
                    "host": host,
                    "path": location_path,
                    "cookie_path": path,
                    "set_cookie": cookies.set_cookie(backend, location_path),
                    "browser_sends_back": sent,
                    "why": why,
                }
            )
    return {
        "mode": affinity.mode or "balanced",
        "mode_from": backend.mode_from,
        "cookie_from": list(backend.cookie_from),
        "name": cookie.name,
        "expires": cookie.expires,
        "max_age": cookie.max_age,
        "path": cookie.path,
        "domain": cookie.domain,
        "samesite": cookie.samesite,
        "conditional_samesite_none": cookie.conditional_samesite_none,
        "secure": cookie.secure,
        "change_on_failure": cookie.change_on_failure,
        "locations": locations,
    }


def _canary(backend: Backend, config: Configuration) -> Data:
    shaping = backend.traffic_shaping
    primaries = [b.name for b in config.backends if backend.name in b.alternatives]
    return {
        "main": primaries,
        "header": shaping.header,
        "header_value": shaping.header_value,
        "header_pattern": shaping.header_pattern,
        "cookie": shaping.cookie,
        "weight": shaping.weight,
        "weight_total": max(shaping.weight_total, 100),
        "affinity": backend.affinity.type == "cookie",
    }


def _backend(backend: Backend, config: Configuration) -> Data:
    kind = backend.implementation
    data: Data = {
        "name": backend.name,
        "service": f"{backend.namespace}/{backend.service}" if backend.service else "",
        "port": backend.port,
        "created_by": backend.created_by,
        "endpoints": [str(e) for e in backend.endpoints],
        "serves_503": backend.serves_503 and backend.name != DEFAULT_BACKEND,
        "balancer": kind,
        "hash_by": None,
        "affinity": None,
        "canary": _canary(backend, config) if backend.no_server else None,
        "alternatives": list(backend.alternatives),
        "service_upstream": backend.service_upstream,
        "load_balance": backend.load_balance,
        "notes": [_note(n) for n in config.notes_about(backend=backend.name)],
    }
    if backend.hash_by.key:
        data["hash_by"] = {
            "key": backend.hash_by.key,
            "subset": backend.hash_by.subset,
            "subset_size": backend.hash_by.subset_size if backend.hash_by.subset else None,
            "in_force": kind in ("chash", "chashsubset"),
        }
    if backend.affinity.type == "cookie":
        data["affinity"] = _cookie(backend, config)
    return data


def explanation(config: Configuration) -> Data:
    """The configuration in force as plain data (JSON-ready).

    Args:
        config: the configuration the model built.

    Returns:
        ``version``, ``ingresses``, ``rejected``, ``backends``, ``servers``, ``notes``.
    """
    return {
        "version": config.version,
        "ingresses": list(config.ingresses),
        "rejected": [_note(n) for n in config.rejected],
        "backends": [_backend(b, config) for b in config.backends],
        "servers": [
            {
                "host": s.hostname,
                "created_by": s.ingress,
                "regex_because": list(s.regex_because),
                "locations": [
                    {
                        "nginx": loc.nginx,
                        "backend": loc.backend,
                        "ingress": loc.ingress,
                        "ingress_path": loc.ingress_path,
                        "default": loc.is_default_backend,
                        "rewrite_target": loc.rewrite_target,
                    }
                    for loc in s.locations
                ],
            }
            for s in config.servers
        ],
        "notes": [_note(n) for n in config.notes],
    }


def _backend_lines(b: Data) -> list[str]:
    head = f"backend {b['name']}"
    if b["name"] == DEFAULT_BACKEND:
        return [f"{head}: the controller's default backend (404)"]
    where = f"Service {b['service']} port {b['port']}" if b["service"] else "no Service"
    lines = [f"{head}: {where}, created by {b['created_by'] or '-'}"]
    if b["serves_503"]:
        lines.append("  endpoints: none: every request gets 503")
    else:
        lines.append(f"  endpoints: {', '.join(b['endpoints'])}")
    if b["service_upstream"]:
        lines.append("  service-upstream: the Service's ClusterIP; kube-proxy picks the pod")
    lines.append(f"  balancer: {b['balancer']} ({_BALANCERS.get(b['balancer'], b['balancer'])})")
    hashing = b["hash_by"]
    if hashing:
        subset = f", subsets of {hashing['subset_size']}" if hashing["subset"] else ""
        used = "" if hashing["in_force"] else " (not used: cookie affinity wins)"
        lines.append(f"  hash key: {hashing['key']}{subset}{used}")
    affinity = b["affinity"]
    canary = b["canary"]
    if affinity:
        lines += _affinity_lines(affinity, canary["main"] if canary else [])
    if canary:
        lines += _canary_lines(canary)
    if b["alternatives"]:
        lines.append(f"  canary backends: {', '.join(b['alternatives'])}")
    lines += [f"  {n['text']}" for n in b["notes"]]
    return lines


def _affinity_lines(a: Data, canary_of: list[str]) -> list[str]:
    mode = a["mode"] + (f" (from {a['mode_from']})" if a["mode_from"] else " (default)")
    if a["cookie_from"]:
        origin = f"cookie settings from {a['cookie_from'][-1]}"
        if len(a["cookie_from"]) > 1:
            origin += f", the last of {', '.join(a['cookie_from'])}"
    else:
        origin = f"a copy of {', '.join(canary_of) or 'the main backend'}'s (canary)"
    lines = [f"  affinity: cookie {a['name']}, mode {mode}; {origin}"]
    for loc in a["locations"]:
        verdict = "sent back" if loc["browser_sends_back"] else "NOT sent back"
        lines.append(f"    on {loc['host']} {loc['path']}: Set-Cookie: {loc['set_cookie']}")
        lines.append(f"      browser: {verdict}: {loc['why']}")
    if a["change_on_failure"]:
        lines.append("    change-on-failure: a session on a failing pod gets a new cookie")
    return lines


def _canary_lines(c: Data) -> list[str]:
    rules = []
    if c["header"]:
        if c["header_value"]:
            rules.append(f"header {c['header']}: {c['header_value']} -> canary")
        elif c["header_pattern"]:
            rules.append(f"header {c['header']} matching {c['header_pattern']} -> canary")
        else:
            rules.append(f"header {c['header']}: always -> canary, never -> main")
    if c["cookie"]:
        rules.append(f"cookie {c['cookie']}: always -> canary, never -> main")
    rules.append(f"else {c['weight']} of {c['weight_total']} requests -> canary")
    main = ", ".join(c["main"]) or "no main backend (not merged)"
    lines = [f"  canary of {main}: {'; '.join(rules)}"]
    if c["affinity"]:
        lines.append(
            "    with cookie affinity: a cookie issued by the main or the canary backend keeps "
            "its client there, before any header, cookie or weight rule"
        )
    return lines


def explain(config: Configuration) -> str:
    """The configuration in force as text, as ``ingressbed repro --explain`` prints it.

    Args:
        config: the configuration the model built.

    Returns:
        Lines of text (ending in a newline).
    """
    data = explanation(config)
    lines = [
        f"ingress-nginx {data['version']} (controller model): Ingresses in force, oldest first: "
        + (", ".join(data["ingresses"]) or "none")
    ]
    lines += [f"refused: {r['ingress']}: {r['reason']}" for r in data["rejected"]]
    for b in data["backends"]:
        lines.append("")
        lines += _backend_lines(b)
    for s in data["servers"]:
        lines.append("")
        name = "_ (catch-all)" if s["host"] == DEFAULT_SERVER else s["host"]
        head = f"server {name}" + (f", defined by {s['created_by']}" if s["created_by"] else "")
        if s["regex_because"]:
            head += (
                f"; every location is a regex because of {', '.join(s['regex_because'])} "
                "(use-regex or rewrite-target)"
            )
        lines.append(head)
        for loc in s["locations"]:
            owner = (
                f"{loc['ingress']} path {loc['ingress_path']}"
                if loc["ingress"]
                else "the controller's 404"
            )
            default = ", no path of its own" if loc["default"] and loc["ingress"] else ""
            rewrite = f", rewrite to {loc['rewrite_target']}" if loc["rewrite_target"] else ""
            lines.append(
                f"  location {loc['nginx']} -> {loc['backend']} ({owner}{default}{rewrite})"
            )
    others = [n for n in data["notes"] if not n["backend"] and n["kind"] != "rejected"]
    if others:
        lines += ["", "notes:"]
        lines += [f"  {n['text']}" for n in others]
    return "\n".join(lines).rstrip() + "\n"


def explain_change(change: Change) -> str:
    """A live change as text: reload or not, how backends changed, what stays stale.

    Args:
        change: what ``changes.apply`` returned.

    Returns:
        Lines of text (ending in a newline).
    """
    if change.reload:
        lines = ["nginx reloads: " + "; ".join(change.reasons)]
    else:
        lines = ["no reload: the backends are posted to the Lua balancers"]
    for b in change.backends:
        what = {"added": "added", "removed": "removed", "endpoints": "endpoints only"}.get(
            b.kind, "changes " + ", ".join(b.fields)
        )
        lines.append(f"  backend {b.backend}: {what}")
    lines += [f"  stale: {s.text()}" for s in change.stale]
    return "\n".join(lines) + "\n"
