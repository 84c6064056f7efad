"""How each data plane balances an ingress-nginx candidate (pure: no I/O).

A candidate is written for ingress-nginx (``upstream-hash-by``, round robin). Moving it to
another controller means translating it, and the translation decides where requests go.
``PlaneBalance.of(plane, setup)`` states that translation for one data plane, the way the
successor controllers render it (docs/translation.md):

- ``ingress-nginx``: as written (the Lua balancer's ring);
- ``nginx`` (F5 NGINX Ingress ``nginx.org/lb-method``): ``hash KEY consistent``; with
  ``nginx:hash`` plain ``hash KEY``; with ``nginx:ip-hash`` ``ip_hash``, which ignores the
  key; no key: ``round_robin`` (F5's own default is ``random two least_conn``);
- ``haproxy`` (HAProxy Technologies' ``load-balance``, haproxy-ingress's
  ``balance-algorithm``): the key becomes ``balance source``, ``uri``, ``uri whole`` or
  ``hdr(NAME)``; ``hash-type consistent``, which both controllers only set through a backend
  snippet (``haproxy:map-based``: HAProxy's default, what they give without one); server
  ids by position (``haproxy:pod-ids``: one stable id per pod, as haproxy-ingress's
  ``assign-backend-server-id``); no key: ``roundrobin`` (haproxy-ingress's own default is
  ``random(2)``).

What a translation changes is said in ``notes``; a key a data plane cannot express is a
``ConfigError`` naming it. The same ``PlaneBalance`` renders the local data plane's
configuration and builds the placement model's picks (``upstream``), so the two cannot
disagree about what was asked.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError
from ingressbed.expectations import Placement
from ingressbed.placement.haproxy import HaproxyPredictor
from ingressbed.placement.predictor import Predictor
from ingressbed.placement.ring import Ring
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import DataPlane, Endpoint, Flavor, Setup

#: nginx methods (``Predictor``'s names) and HAProxy's round-robin balance.
HASH_CONSISTENT, HASH, IP_HASH, ROUND_ROBIN = "hash-consistent", "hash", "ip-hash", "round-robin"
HAPROXY_ROUND_ROBIN = "roundrobin"
#: Server-id policies of the haproxy planes.
BY_POSITION, PER_POD = "position", "pod"

_HTTP_VARIABLE = re.compile(r"\$http_([a-z0-9_]+)\Z")
#: ingress-nginx keys the HAProxy controllers' balance settings express as one of the
#: balances the bed models (source, uri, hdr), with what the translation changes.
_HAPROXY_KEYS: dict[str, tuple[str, str]] = {
    "$remote_addr": ("source", ""),
    "$binary_remote_addr": ("source", ""),
    "$request_uri": (
        "uri whole",
        "`uri whole` hashes the target as HAProxy holds it: HTTP/2 and absolute-form requests "
        "include scheme and host, `$request_uri` never does",
    ),
    "$uri": (
        "uri",
        "`balance uri` hashes the request target up to `?` as sent (HTTP/2: with scheme "
        "and host); `$uri` was the decoded, normalized path",
    ),
    "$host": (
        "hdr(host)",
        "`hdr(host)` hashes the Host header as sent, case and port kept; `$host` was "
        "lowercased without the port",
    ),
    "$http_host": ("hdr(host)", ""),
    "$host$request_uri": (
        "uri whole",
        "the controllers' balance settings hash host and URI together only with `balance "
        "hash EXPR`, which the bed does not model: `uri whole` hashes path and query, so the "
        "same page on two hosts is one key",
    ),
}
#: Samples behind ``shares`` where no exact figure exists (seeded: the same every run).
SHARE_SAMPLES = 20000


class Upstream(Protocol):
    """One balanced upstream (a Service port) as a data plane holds it."""

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The servers, in the data plane's order."""
        ...

    def pick(self, request: Request) -> Endpoint | None:
        """The endpoint for ``request``; None: no fixed pick (round robin)."""
        ...

    def shares(self) -> dict[Endpoint, float]:
        """The chance a fresh key lands on each endpoint."""
        ...

    def ring(self) -> Ring[Endpoint] | None:
        """The CRC-32 ring, where the pick is one (exact cross-port odds), else None."""
        ...


def sample_requests(count: int, seed: int = 11) -> list[Request]:
    """``count`` varied requests (client, host, path and query), the same for a seed."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        client = str(ipaddress.IPv4Address(rng.getrandbits(32) | 0x01000000))
        out.append(
            Request(
                client_ip=client,
                host=f"h{rng.randrange(1000)}.example",
                request_uri=f"/p/{rng.getrandbits(40):x}?v={i}",
            )
        )
    return out


def _sampled_shares(upstream: Upstream) -> dict[Endpoint, float]:
    counts = Counter(upstream.pick(r) for r in sample_requests(SHARE_SAMPLES))
    return {e: counts.get(e, 0) / SHARE_SAMPLES for e in upstream.endpoints}


@dataclass(frozen=True)
class NginxUpstream:
    """ingress-nginx's or nginx's upstream: ``Predictor`` with the plane's method."""

    endpoints: tuple[Endpoint, ...]
    predictor: Predictor | None  # None: round robin

    def pick(self, request: Request) -> Endpoint | None:
        return None if self.predictor is None else self.predictor.pick(request)

    def shares(self) -> dict[Endpoint, float]:
        if self.predictor is None:
            return {e: 1 / len(self.endpoints) for e in self.endpoints}
        if self.predictor.method == HASH_CONSISTENT:
            return self.predictor.ring.shares()
        return _sampled_shares(self)

    def ring(self) -> Ring[Endpoint] | None:
        if self.predictor is None or self.predictor.method != HASH_CONSISTENT:
            return None
        return self.predictor.ring


@dataclass(frozen=True)
class HaproxyUpstream:
    """An HAProxy backend: ``HaproxyPredictor`` with the plane's ids and hash-type."""

    endpoints: tuple[Endpoint, ...]
    predictor: HaproxyPredictor | None  # None: roundrobin

    def pick(self, request: Request) -> Endpoint | None:
        return None if self.predictor is None else self.predictor.pick(request)

    def shares(self) -> dict[Endpoint, float]:
        predictor = self.predictor
        if predictor is None or len(self.endpoints) == 1:
            return {e: 1 / len(self.endpoints) for e in self.endpoints}
        # Hash values are spread evenly over 32 bits, and so is a Weyl sequence (golden
        # ratio steps): it covers every residue of the table and every arc of the ring.
        steps = 1 << 16
        counts = Counter(predictor.pick_index((i * 0x9E3779B1) & 0xFFFFFFFF) for i in range(steps))
        return {e: counts.get(i, 0) / steps for i, e in enumerate(self.endpoints)}

    def ring(self) -> Ring[Endpoint] | None:
        return None


def pod_server_id(address: str) -> int:
    """The stable server id of the pod at ``address``: its last 16 address bits, plus 1.

    A pod keeps its address for its life and the local backend never hands an address out
    twice in a run, so the id is the pod's own, on every port. haproxy-ingress's
    ``assign-backend-server-id`` hashes the pod's UID instead (FNV-1a, 31 bits): other
    numbers, the same property.
    """
    return (int(ipaddress.ip_address(address)) & 0xFFFF) + 1


@dataclass(frozen=True)
class PlaneBalance:
    """How ``plane`` balances one setup: the translated method, key, hash type and ids.

    ``method``: for ingress-nginx and nginx one of ``hash-consistent``, ``hash``,
    ``ip-hash``, ``round-robin``; for haproxy the ``balance`` line (``source``, ``uri
    whole``, ``hdr(host)``, ``roundrobin``). ``hash_by`` is the nginx key (None where
    the plane does not read one). ``notes`` say what the translation changes.
    """

    plane: DataPlane
    method: str
    hash_by: str | None = None
    hash_type: str = ""
    server_ids: str = ""
    notes: tuple[str, ...] = ()
    controller_version: str | None = None

    @property
    def hashed(self) -> bool:
        """Whether a request's pick is fixed by the request (the model predicts it)."""
        return self.method not in (ROUND_ROBIN, HAPROXY_ROUND_ROBIN)

    @property
    def consistent(self) -> bool:
        """Whether a new pod takes keys only for itself (a ring), rather than re-dealing
        them all (the hash modulo the server count)."""
        if not self.hashed:
            return False
        if self.plane.flavor == Flavor.HAPROXY:
            return self.hash_type == "consistent"
        return self.method == HASH_CONSISTENT

    @property
    def minimal_moves(self) -> bool:
        """Whether a pod leaving or joining moves only the keys it had or takes: a ring
        whose nodes belong to the pod (its address, or a per-pod HAProxy id). With ids by
        position a pod leaving renumbers the pods after it, and their nodes move."""
        return self.consistent and self.server_ids != BY_POSITION

    @property
    def port_blind(self) -> bool:
        """Whether the pick ignores the servers' addresses and ports (position or id only):
        then every Service port listing the same pods in the same order gives a key the same
        pod. nginx's and ingress-nginx's rings place nodes by address and port: they split."""
        return self.hashed and not (
            self.plane.flavor != Flavor.HAPROXY and self.method == HASH_CONSISTENT
        )

    @property
    def reads_client(self) -> bool:
        """Whether the pick depends on the client address."""
        if self.method in ("source", IP_HASH):
            return True
        return bool(self.hash_by) and "remote_addr" in (self.hash_by or "")

    def describe(self) -> str:
        """One line: ``haproxy: balance source, hash-type consistent, ids per pod``."""
        if self.plane.flavor == Flavor.HAPROXY:
            if not self.hashed:
                return f"{self.plane}: balance roundrobin"
            ids = "ids per pod" if self.server_ids == PER_POD else "ids by position"
            return f"{self.plane}: balance {self.method}, hash-type {self.hash_type}, {ids}"
        if not self.hashed:
            return f"{self.plane}: round robin"
        if self.method == IP_HASH:
            return f"{self.plane}: ip_hash"
        consistent = " consistent" if self.method == HASH_CONSISTENT else ""
        return f"{self.plane}: hash {self.hash_by}{consistent}"

    def ids(self, endpoints: Sequence[Endpoint]) -> list[int | None]:
        """The explicit ``id N`` per server (None: HAProxy's automatic id, by position).

        Raises:
            ConfigError: two pods would share an id.
        """
        if self.server_ids != PER_POD:
            return [None] * len(endpoints)
        ids = [pod_server_id(e.address) for e in endpoints]
        if len(set(ids)) != len(ids):
            raise ConfigError(
                "two pods map to one HAProxy server id (their addresses share the last 16 "
                f"bits): {', '.join(e.address for e in endpoints)}"
            )
        return list(ids)

    def upstream(self, endpoints: Sequence[Endpoint]) -> Upstream:
        """The placement of one upstream with ``endpoints`` in the data plane's order.

        Raises:
            ConfigError: no endpoints, or a key the model cannot evaluate.
        """
        eps = tuple(endpoints)
        if not eps:
            raise ConfigError("an upstream without endpoints has no placement")
        if self.plane.flavor == Flavor.HAPROXY:
            if not self.hashed:
                return HaproxyUpstream(eps, None)
            return HaproxyUpstream(
                eps,
                HaproxyPredictor(eps, self.method, self.hash_type, server_ids=self.ids(eps)),
            )
        if not self.hashed:
            return NginxUpstream(eps, None)
        predictor = Predictor(
            self.plane.flavor,
            eps,
            self.hash_by or "$remote_addr",
            controller_version=self.controller_version,
            method=self.method,
        )
        return NginxUpstream(eps, predictor)

    @classmethod
    def of(cls, plane: str, setup: Setup, *, controller_version: str | None = None) -> PlaneBalance:
        """The translation of ``setup``'s balancing for ``plane``.

        Raises:
            ConfigError: an unknown plane, or a key ``plane`` cannot hash on (named).
        """
        balancing = Balancing.of(setup)
        hashed = balancing.placement == Placement.HASH and bool(balancing.hash_by)
        key = balancing.hash_by if hashed else None
        found = cls.for_key(plane, key, controller_version=controller_version)
        if balancing.placement in (Placement.HASH, Placement.ROUND_ROBIN):
            return found
        # Cookie affinity, subsets, ewma and service-upstream are ingress-nginx's own
        # balancer: the placement model handles them there (Balancing), and no local data
        # plane serves them (the backend lacks the capability).
        note = f"{balancing.placement} is not a key translation: ingress-nginx's own balancer"
        return dataclasses.replace(found, notes=(*found.notes, note))

    @classmethod
    def for_key(
        cls, plane: str, hash_by: str | None, *, controller_version: str | None = None
    ) -> PlaneBalance:
        """The translation of ``upstream-hash-by: hash_by`` (None: round robin) for ``plane``.

        Raises:
            ConfigError: an unknown plane, or a key ``plane`` cannot hash on (named).
        """
        try:
            data_plane = DataPlane(plane)
        except ValueError:
            known = ", ".join(p.value for p in DataPlane)
            raise ConfigError(f"unknown data plane {plane!r}; known: {known}") from None
        key = hash_by or None
        if data_plane.flavor == Flavor.HAPROXY:
            return _haproxy(data_plane, key)
        if data_plane == DataPlane.INGRESS_NGINX:
            method = HASH_CONSISTENT if key else ROUND_ROBIN
            return cls(data_plane, method, key, controller_version=controller_version)
        if key is None:
            return cls(data_plane, ROUND_ROBIN)
        if data_plane == DataPlane.NGINX_IP_HASH:
            note = ""
            if key not in ("$remote_addr", "$binary_remote_addr"):
                note = f"ip_hash ignores the key {key}: the client address picks the pod"
            return cls(
                data_plane,
                IP_HASH,
                None,
                notes=(
                    "ip_hash hashes the first three octets of an IPv4 client: a /24 is one key",
                    *([note] if note else []),
                ),
            )
        method = HASH if data_plane == DataPlane.NGINX_HASH else HASH_CONSISTENT
        notes = ("plain hash: the key modulo the server count; a new pod moves most keys",)
        return cls(data_plane, method, key, notes=notes if method == HASH else ())


def haproxy_balance(hash_by: str) -> tuple[str, str]:
    """HAProxy's ``balance`` for an ingress-nginx key, and what the translation changes.

    Raises:
        ConfigError: a key HAProxy 2.6 cannot hash on.
    """
    key = hash_by.strip()
    if key in _HAPROXY_KEYS:
        return _HAPROXY_KEYS[key]
    header = _HTTP_VARIABLE.match(key)
    if header:
        name = header.group(1).replace("_", "-")
        return (
            f"hdr({name})",
            f"`hdr({name})` hashes the header's first comma-separated value; `{key}` was the "
            "whole header",
        )
    known = ", ".join(sorted(_HAPROXY_KEYS)) + ", $http_NAME"
    raise ConfigError(
        f"upstream-hash-by {hash_by!r} has no HAProxy balance the controllers offer and the "
        f"model knows (source, uri, hdr); translatable keys: {known}"
    )


def _haproxy(plane: DataPlane, key: str | None) -> PlaneBalance:
    if key is None:
        return PlaneBalance(plane, HAPROXY_ROUND_ROBIN)
    balance, note = haproxy_balance(key)
    hash_type = "map-based" if plane == DataPlane.HAPROXY_MAP_BASED else "consistent"
    ids = PER_POD if plane == DataPlane.HAPROXY_POD_IDS else BY_POSITION
    notes = [note] if note else []
    if hash_type == "map-based":
        notes.append("map-based: the hash modulo the server count; a new pod moves most keys")
    if ids == BY_POSITION:
        notes.append("ids by position: removing a pod renumbers the pods after it")
    return PlaneBalance(plane, balance, None, hash_type, ids, tuple(notes))
