"""Backends as ingress-nginx posts them to its Lua balancer, typed (pure).

The controller posts a JSON list of ``Backend`` objects to ``/configuration/backends``
(the same document ``/dbg backends all`` prints). ``Backend.to_json`` writes one in that
shape, field names and omissions included (Go's ``omitempty``: an empty string, false,
zero or empty list is left out where the controller's struct says so), so a document the
bed builds and one taken from a real controller go through the same Lua code:

.. code-block:: json

    {"name": "default-hellogo-8080", "port": 8080, "sslPassthrough": false,
     "endpoints": [{"address": "10.0.0.1", "port": "8080"}],
     "sessionAffinityConfig": {"name": "cookie", "mode": "balanced",
       "cookieSessionAffinity": {"name": "INGRESSCOOKIE", "locations": {"_": ["/"]}}},
     "upstreamHashByConfig": {"upstream-hash-by": "$request_uri"},
     "load-balance": "ewma", "noServer": false,
     "trafficShapingPolicy": {"weight": 0, "weightTotal": 0, "header": "",
       "headerValue": "", "headerPattern": "", "cookie": ""},
     "alternativeBackends": ["default-hellogo-canary-8080"]}

Which balancer a backend gets (``Backend.algorithm``), as the controller's Lua decides:
cookie affinity first (``sticky_balanced`` or ``sticky_persistent``), then
``upstream-hash-by`` (``chash``, or ``chashsubset`` with subsets), then ``load-balance``
(``round_robin`` by default, or ``ewma``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ingressbed.placement.cookie import BALANCED, DEFAULT_COOKIE_NAME, PERSISTENT
from ingressbed.placement.subset import DEFAULT_SUBSET_SIZE
from ingressbed.vocabulary import Endpoint

#: ``load-balance`` values the balancer has.
LOAD_BALANCE = ("round_robin", "ewma")
#: The balancer names, as ``Backend.algorithm`` gives them.
ALGORITHMS = ("round_robin", "ewma", "chash", "chashsubset", "sticky_balanced", "sticky_persistent")

_NO_LOCATIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True)
class CookieAffinity:
    """``affinity: cookie`` with its ``session-cookie-*`` settings.

    ``locations`` maps a host (``_`` for the default server) to the location paths, as
    written in the Ingress, on which the cookie is issued. ``path`` None: the cookie's
    Path is the location path. ``expires`` and ``max_age`` are whole seconds as text
    (the annotations' values). ``secure`` False: Secure only over HTTPS.
    """

    mode: str = BALANCED
    name: str = DEFAULT_COOKIE_NAME
    locations: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _NO_LOCATIONS)
    path: str | None = None
    expires: str = ""
    max_age: str = ""
    domain: str = ""
    samesite: str = ""
    conditional_samesite_none: bool = False
    secure: bool = False
    change_on_failure: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``sessionAffinityConfig`` object."""
        cookie: dict[str, Any] = {"name": self.name}
        optional: dict[str, Any] = {
            "expires": self.expires,
            "maxage": self.max_age,
            "locations": {host: list(paths) for host, paths in self.locations.items()},
            "secure": self.secure,
            "path": self.path or "",
            "domain": self.domain,
            "samesite": self.samesite,
            "conditional_samesite_none": self.conditional_samesite_none,
            "change_on_failure": self.change_on_failure,
        }
        cookie.update({key: value for key, value in optional.items() if value})
        return {"name": "cookie", "mode": self.mode, "cookieSessionAffinity": cookie}


@dataclass(frozen=True)
class TrafficShaping:
    """A canary backend's ``trafficShapingPolicy`` (the ``canary-*`` annotations)."""

    weight: int = 0
    weight_total: int = 0
    header: str = ""
    header_value: str = ""
    header_pattern: str = ""
    cookie: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``trafficShapingPolicy`` object (every field present, as the controller's)."""
        return {
            "weight": self.weight,
            "weightTotal": self.weight_total,
            "header": self.header,
            "headerValue": self.header_value,
            "headerPattern": self.header_pattern,
            "cookie": self.cookie,
        }


@dataclass(frozen=True)
class Backend:
    """One backend (a Service port) as the balancer sees it.

    ``endpoints`` are in the controller's order. ``hash_by`` empty: no hashing.
    ``load_balance`` empty: the default (round robin). A canary backend has
    ``no_server=True`` and a ``traffic_shaping``; its main backend names it in
    ``alternative_backends``.
    """

    name: str
    endpoints: tuple[Endpoint, ...] = ()
    port: int | str = 0
    hash_by: str = ""
    subset: bool = False
    subset_size: int = DEFAULT_SUBSET_SIZE
    load_balance: str = ""
    affinity: CookieAffinity | None = None
    traffic_shaping: TrafficShaping = field(default_factory=TrafficShaping)
    alternative_backends: tuple[str, ...] = ()
    no_server: bool = False

    @property
    def algorithm(self) -> str:
        """The balancer the Lua code builds for this backend (one of ``ALGORITHMS``)."""
        if self.affinity is not None:
            return "sticky_persistent" if self.affinity.mode == PERSISTENT else "sticky_balanced"
        if self.hash_by:
            return "chashsubset" if self.subset else "chash"
        return self.load_balance or "round_robin"

    def describe(self) -> str:
        """One line: how the local plane balances this backend."""
        count = len(self.endpoints)
        pods = f"{count} endpoint{'' if count == 1 else 's'}"
        algorithm = self.algorithm
        if self.affinity is not None:
            what = f"cookie {self.affinity.name} ({self.affinity.mode})"
            if self.hash_by:
                what += f", upstream-hash-by {self.hash_by!r} unused (sticky beats hash)"
        elif algorithm == "chash":
            what = f"chash on {self.hash_by!r}"
        elif algorithm == "chashsubset":
            what = f"chash on {self.hash_by!r} to groups of {self.subset_size}"
        else:
            what = algorithm
        line = f"{self.name}: {what} over {pods}" if count else f"{self.name}: no endpoints (503)"
        if self.alternative_backends:
            line += f"; canary {', '.join(self.alternative_backends)}"
        if self.no_server:
            line += f"; {_shaping(self.traffic_shaping)}"
        return line

    def to_json(self) -> dict[str, Any]:
        """The backend in the controller's JSON shape."""
        hashing: dict[str, Any] = {}
        if self.hash_by:
            hashing["upstream-hash-by"] = self.hash_by
        if self.subset:
            hashing["upstream-hash-by-subset"] = True
            hashing["upstream-hash-by-subset-size"] = self.subset_size
        affinity = (
            self.affinity.to_json()
            if self.affinity is not None
            else {"name": "", "mode": "", "cookieSessionAffinity": {"name": ""}}
        )
        out: dict[str, Any] = {"name": self.name, "port": self.port, "sslPassthrough": False}
        if self.endpoints:
            out["endpoints"] = [{"address": e.address, "port": str(e.port)} for e in self.endpoints]
        out["sessionAffinityConfig"] = affinity
        out["upstreamHashByConfig"] = hashing
        if self.load_balance:
            out["load-balance"] = self.load_balance
        out["noServer"] = self.no_server
        out["trafficShapingPolicy"] = self.traffic_shaping.to_json()
        if self.alternative_backends:
            out["alternativeBackends"] = list(self.alternative_backends)
        return out


def _shaping(policy: TrafficShaping) -> str:
    parts = []
    if policy.header:
        if policy.header_value:
            parts.append(f"header {policy.header}: {policy.header_value}")
        elif policy.header_pattern:
            parts.append(f"header {policy.header} ~ {policy.header_pattern}")
        else:
            parts.append(f"header {policy.header}: always/never")
    if policy.cookie:
        parts.append(f"cookie {policy.cookie}: always/never")
    total = max(policy.weight_total, 100)
    parts.append(f"weight {policy.weight}/{total}")
    return "canary by " + ", then ".join(parts)


def document(backends: Sequence[Backend]) -> str:
    """The JSON text the controller would post for ``backends``."""
    return json.dumps([backend.to_json() for backend in backends])
