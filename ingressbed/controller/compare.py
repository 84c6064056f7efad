"""The model's backends beside a real controller's, as differences a maintainer can read (pure).

``compare(model, controller)`` lines up two backend lists (the model's, and one read
with ``from_backends_json`` from a real controller's ``/dbg backends all``) by name and
says, one line each, where they differ in what decides balancing: the port, how many
endpoints (pod addresses differ from one bed to another), cookie affinity and every
cookie attribute and location, the hash key and subset, ``load-balance``, the canary
settings and alternatives. Service specs are not compared. Build the model in the
namespace the cluster used, so backend names match.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingressbed.controller.model import Backend


def _fields(backend: Backend) -> dict[str, object]:
    cookie = backend.affinity.cookie
    shaping = backend.traffic_shaping
    return {
        "port": str(backend.port),
        "endpoint count": len(backend.endpoints),
        "affinity": backend.affinity.type,
        "affinity mode": backend.affinity.mode,
        "cookie name": cookie.name,
        "cookie path": cookie.path,
        "cookie expires": cookie.expires,
        "cookie max-age": cookie.max_age,
        "cookie domain": cookie.domain,
        "cookie samesite": cookie.samesite,
        "cookie secure": cookie.secure,
        "cookie conditional samesite none": cookie.conditional_samesite_none,
        "cookie change on failure": cookie.change_on_failure,
        "cookie locations": {h: sorted(p) for h, p in sorted(cookie.locations.items())},
        "upstream-hash-by": backend.hash_by.key,
        "upstream-hash-by-subset": backend.hash_by.subset,
        "upstream-hash-by-subset-size": backend.hash_by.subset_size,
        "load-balance": backend.load_balance,
        "noServer": backend.no_server,
        "canary weight": shaping.weight,
        "canary weight total": shaping.weight_total,
        "canary header": shaping.header,
        "canary header value": shaping.header_value,
        "canary header pattern": shaping.header_pattern,
        "canary cookie": shaping.cookie,
        "alternative backends": list(backend.alternatives),
    }


def compare(model: Iterable[Backend], controller: Iterable[Backend]) -> tuple[str, ...]:
    """Where the model's backends and a real controller's differ.

    Args:
        model: the model's backends (``Configuration.backends``).
        controller: a real controller's (``from_backends_json`` of ``/dbg backends all``).

    Returns:
        One line per difference, in backend-name order; empty when they agree.
    """
    ours = {b.name: b for b in model}
    theirs = {b.name: b for b in controller}
    lines: list[str] = []
    for name in sorted(set(ours) | set(theirs)):
        if name not in theirs:
            lines.append(f"backend {name}: only in the model")
            continue
        if name not in ours:
            lines.append(f"backend {name}: only in the controller")
            continue
        mine, real = _fields(ours[name]), _fields(theirs[name])
        lines += [
            f"backend {name}: {key}: model {mine[key]!r}, controller {real[key]!r}"
            for key in mine
            if mine[key] != real[key]
        ]
    return tuple(lines)
