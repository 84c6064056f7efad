"""HAProxy 2.6 as the local backend runs it, rendered as the HAProxy-based controllers would.

HAProxy Technologies' ``load-balance`` and haproxy-ingress's ``balance-algorithm`` express an
ingress-nginx key as ``balance source``, ``uri``, ``uri whole`` or ``hdr(NAME)``
(docs/translation.md). Three renderings:

- ``haproxy``: ``hash-type consistent`` (both controllers set it only through a backend
  snippet), server ids by position;
- ``haproxy:pod-ids``: ``hash-type consistent`` and one stable id per pod, as
  haproxy-ingress's ``assign-backend-server-id``;
- ``haproxy:map-based``: HAProxy's default hash type, what the controllers give without a
  snippet (the hash modulo the server count).

No key: ``roundrobin`` (haproxy-ingress's own default is ``random(2)``). The candidates
that are not a key (docs/translation.md):

- ``affinity: cookie`` -> HAProxy's cookie persistence (``haproxy_cookie``): on ``haproxy``
  as HAProxy Technologies' ``cookie-persistence`` renders it, on ``haproxy:map-based`` as
  haproxy-ingress's defaults, on ``haproxy:pod-ids`` as haproxy-ingress with the pod's UID as
  the value; new visitors by ``roundrobin``;
- ``load-balance: ewma`` -> ``leastconn`` (``random(2)``, haproxy-ingress's default, on
  ``haproxy:pod-ids``): load-aware, by connections rather than latency;
- ``service-upstream`` -> one server per backend, the Service's address (haproxy-ingress's
  ``service-upstream``; HAProxy Technologies' controller has none);
- subsets and ingress-nginx's pre-0.33 key reading -> ``NoEquivalent``.

HAProxy runs in master-worker mode (``-W -db``), checked with ``haproxy -c`` and reloaded with
SIGUSR2.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError
from ingressbed.placement.haproxy import HaproxyPredictor, parse_balance, parse_server_ids
from ingressbed.placement.keys import hash_key
from ingressbed.placement.ring import Ring, RingKind
from ingressbed.placement.upstream import ROUND_ROBIN as ANY_ROUND_ROBIN
from ingressbed.placement.upstream import Pick, Upstream
from ingressbed.placement.variables import Request
from ingressbed.planes import haproxy_cfg, haproxy_targets, successors
from ingressbed.planes.base import (
    AnyUpstream,
    Balance,
    FlavorOptions,
    Plane,
    Program,
    RunContext,
    Target,
    require_endpoints,
)
from ingressbed.planes.haproxy_cfg import LEAST_CONN, RANDOM_TWO, ROUND_ROBIN, UNKEYED
from ingressbed.planes.haproxy_cookie import (
    HAPROXY_INGRESS,
    HAPROXY_INGRESS_POD_UID,
    HAPROXYTECH,
    CookieStyle,
    HaproxyCookie,
    HaproxyCookieUpstream,
    cookie_notes,
)
from ingressbed.planes.haproxy_keys import haproxy_balance
from ingressbed.vocabulary import (
    Capability,
    DataPlane,
    Endpoint,
    Flavor,
    Placement,
    Setup,
)

#: Server-id policies of the haproxy planes.
BY_POSITION, PER_POD = "position", "pod"

PROGRAM = Program(
    name="haproxy",
    variable="INGRESSBED_HAPROXY",
    package="Debian/Ubuntu: apt-get install haproxy",
    config="haproxy.cfg",
    log="haproxy.log",
    check_log="haproxy-c.out",
    files=("haproxy.cfg", "haproxy.log"),
    error_mark="[ALERT]",
    version_pattern=r"HAProxy version (\S+)",
    # -W: master-worker (the master stays, reloads on SIGUSR2); -db: in the foreground.
    argv=("{bin}", "-W", "-db", "-f", "{conf}", "-p", "{run}/haproxy.pid"),
    check=("{bin}", "-c", "-f", "{conf}"),
    reload_signal="SIGUSR2",
    error_logs=("haproxy.log",),
)

_CAPABILITIES = frozenset(
    {
        Capability.HASH,
        Capability.HASH_KEY,
        Capability.COOKIE,
        Capability.EWMA,
        Capability.SERVICE_UPSTREAM,
        Capability.WEBSOCKET,
        Capability.SCALE,
        Capability.KILL,
        Capability.CORS,
    }
)


def pod_server_id(address: str) -> int:
    """The stable server id of the pod at ``address``: its last 16 address bits, plus 1.

    A pod keeps its address for its life and the local backend never hands an address out
    twice in a run, so the id is the pod's own, on every port. haproxy-ingress's
    ``assign-backend-server-id`` hashes the pod's UID instead (FNV-1a, 31 bits): other
    numbers, the same property.
    """
    return (int(ipaddress.ip_address(address)) & 0xFFFF) + 1


@dataclass(frozen=True)
class HaproxyUpstream:
    """An HAProxy backend: ``HaproxyPredictor`` with the plane's ids and hash-type."""

    endpoints: tuple[Endpoint, ...]
    predictor: HaproxyPredictor

    def pick(self, request: Request) -> Pick:
        chosen = self.predictor.pick(request)
        return Pick.anywhere(ANY_ROUND_ROBIN) if chosen is None else Pick.to(chosen)

    def shares(self) -> dict[Endpoint, float]:
        if len(self.endpoints) == 1:
            return {self.endpoints[0]: 1.0}
        # Hash values are spread evenly over 32 bits, and so is a Weyl sequence (golden
        # ratio steps): it covers every residue of the table and every arc of the ring.
        steps = 1 << 16
        counts = Counter(
            self.predictor.pick_index((i * 0x9E3779B1) & 0xFFFFFFFF) for i in range(steps)
        )
        return {e: counts.get(i, 0) / steps for i, e in enumerate(self.endpoints)}

    def repeat_chance(self) -> float:
        return 1.0

    def ring(self) -> Ring[Endpoint] | None:
        return None


_UNKEYED_WHY = {
    ROUND_ROBIN: ANY_ROUND_ROBIN,
    LEAST_CONN: "leastconn: the server with the fewest connections",
    RANDOM_TWO: "random(2): the less busy of two random servers",
}


@dataclass(frozen=True)
class HaproxyBalance(Balance):
    """HAProxy's balancing of a candidate: ``method`` is the ``balance`` line (``source``,
    ``uri whole``, ``hdr(host)``, ``roundrobin``), ``hash_type`` ``consistent`` or
    ``map-based``, ``server_ids`` ``position`` or ``pod``."""

    plane: DataPlane
    method: str
    hash_by: str | None = None
    notes: tuple[str, ...] = ()
    hash_type: str = ""
    server_ids: str = ""
    #: ``--flavor haproxy`` only: explicit ``id N`` per server (None: automatic) and weights.
    explicit_ids: tuple[int | None, ...] | None = None
    weights: tuple[int, ...] | None = None
    #: The ingress-nginx key the balance was translated from (what "the same key" means).
    source_key: str | None = None
    #: Cookie persistence (``affinity: cookie``), None without.
    cookie: HaproxyCookie | None = None
    #: ``service-upstream``: the one server of each backend is the Service's address.
    service_upstream: bool = False

    @property
    def hashed(self) -> bool:
        return self.method not in UNKEYED

    @property
    def consistent(self) -> bool:
        return self.hashed and self.hash_type == "consistent"

    @property
    def minimal_moves(self) -> bool:
        # With ids by position a pod leaving renumbers the pods after it, and their nodes move.
        return self.consistent and self.server_ids != BY_POSITION

    @property
    def port_blind(self) -> bool:
        # Nodes and the map table depend on server ids and weights, never on addresses.
        return self.hashed

    @property
    def reads_client(self) -> bool:
        return self.method == "source" or "remote_addr" in (self.hash_by or "")

    def translated_key(self) -> str:
        return f"balance {self.method}" if self.hashed and self.method != "source" else ""

    def describe(self) -> str:
        if self.cookie is not None:
            return f"{self.plane}: {self.cookie.line()}, new visitors by balance {self.method}"
        if self.service_upstream:
            return f"{self.plane}: one server per backend, the Service's address"
        if not self.hashed:
            return f"{self.plane}: balance {self.method}"
        ids = "ids per pod" if self.server_ids == PER_POD else "ids by position"
        return f"{self.plane}: balance {self.method}, hash-type {self.hash_type}, {ids}"

    def ids(self, endpoints: Sequence[Endpoint]) -> list[int | None]:
        """The explicit ``id N`` per server (None: HAProxy's automatic id, by position).

        Raises:
            ConfigError: two pods would share an id.
        """
        if self.explicit_ids is not None:
            return list(self.explicit_ids)
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
        eps = require_endpoints(endpoints)
        if self.cookie is not None:
            return HaproxyCookieUpstream(tuple(dict.fromkeys(eps)), self.cookie)
        if self.service_upstream:
            return AnyUpstream(eps, successors.VIA_SERVICE)
        if not self.hashed:
            return AnyUpstream(eps, _UNKEYED_WHY[self.method])
        predictor = HaproxyPredictor(
            eps, self.method, self.hash_type, server_ids=self.ids(eps), weights=self.weights
        )
        return HaproxyUpstream(eps, predictor)

    def key(self, request: Request) -> bytes:
        if self.method == "source":
            return request.client_ip.encode()
        if not self.source_key:
            return b""
        return hash_key(self.source_key, request, flavor=RingKind.NGINX)


@dataclass(frozen=True)
class HaproxyPlane(successors.SuccessorPlane):
    """One rendering of HAProxy (see the module docstring)."""

    hash_type: str = "consistent"
    server_ids: str = BY_POSITION
    #: How the controller it stands for renders ``affinity: cookie``.
    cookie_style: CookieStyle = HAPROXYTECH
    #: The balance ``load-balance: ewma`` becomes (the nearest load-aware one).
    ewma: str = LEAST_CONN
    #: The controllers it stands for, for the refusals.
    successor: str = "HAProxy Technologies' controller and haproxy-ingress"
    #: Whether its targets include HAProxy Technologies' controller (haproxy-ingress always).
    haproxytech: bool = True

    def for_key(
        self, hash_by: str | None, *, controller_version: str | None = None
    ) -> HaproxyBalance:
        key = hash_by or None
        if key is None:
            return HaproxyBalance(self.name, ROUND_ROBIN)
        balance, note = haproxy_balance(key)
        notes = [note] if note else []
        if self.hash_type == "map-based":
            notes.append("map-based: the hash modulo the server count; a new pod moves most keys")
        if self.server_ids == BY_POSITION:
            notes.append("ids by position: removing a pod renumbers the pods after it")
        return HaproxyBalance(
            self.name, balance, None, tuple(notes), self.hash_type, self.server_ids, source_key=key
        )

    def translate(self, setup: Setup, *, controller_version: str | None = None) -> HaproxyBalance:
        balancing = Balancing.of(setup)
        successors.refuse_ingress_nginx_only(
            self.name, balancing, controller_version, self.successor
        )
        placement = balancing.placement
        if placement in (Placement.HASH, Placement.ROUND_ROBIN):
            return self.for_key(balancing.hash_by if placement == Placement.HASH else None)
        if balancing.uses_cookie:
            cookie = HaproxyCookie(balancing.cookie_name, self.cookie_style)
            return HaproxyBalance(
                self.name,
                ROUND_ROBIN,
                notes=cookie_notes(setup, placement, self.cookie_style),
                cookie=cookie,
            )
        if placement == Placement.EWMA:
            note = (
                f"`balance {self.ewma}` weighs servers by their open connections, not by "
                "latency as ewma does: a slow pod is avoided while it holds requests"
            )
            return HaproxyBalance(self.name, self.ewma, notes=(note,))
        note = (
            "one server per backend, the Service's address: kube-proxy picks a pod per "
            "connection (haproxy-ingress's service-upstream; HAProxy Technologies' controller "
            "always lists the pods)"
        )
        return HaproxyBalance(self.name, ROUND_ROBIN, notes=(note,), service_upstream=True)

    def render(
        self,
        setup: Setup,
        balance: Balance,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> dict[str, str]:
        assert isinstance(balance, HaproxyBalance), balance
        servers = successors.servers(balance.service_upstream, endpoints, run)
        text = haproxy_cfg.render(setup, balance, servers, run.listen, run.run_dir, run.generation)
        return {PROGRAM.config: text}

    def targets(self, setup: Setup) -> list[Target]:
        balance = self.translate(setup)
        pod_ids = self.server_ids == PER_POD
        found = [haproxy_targets.haproxy_ingress(setup, balance, pod_ids=pod_ids)]
        if self.haproxytech:
            found.insert(0, haproxy_targets.haproxytech(setup, balance))
        return found


#: The placement flavor of this family (``ingressbed predict --flavor haproxy``).
FLAVOR = Flavor.HAPROXY


def flavor_balance(options: FlavorOptions, count: int) -> HaproxyBalance:
    """A backend's ``balance`` / ``hash-type`` / server ids from ``--flavor haproxy`` options.

    Raises:
        ConfigError: an option HAProxy does not take, no ``--balance``, or a bad value.
    """
    options.refuse(
        ("hash_by", "method", "subset_size"),
        "does not apply to the haproxy flavor: it hashes what --balance names",
    )
    options.refuse(("controller_version",), "applies to the ingress-nginx flavor only")
    if not options.balance:
        raise ConfigError("the haproxy flavor needs --balance (source, uri, hdr(NAME), ...)")
    parse_balance(options.balance)  # a balance the model does not hash on: named here
    hash_type = options.hash_type or "map-based"
    ids = None if options.server_ids is None else tuple(parse_server_ids(options.server_ids))
    weights = options.weight_list(count)
    plane = DataPlane.HAPROXY_MAP_BASED if hash_type.startswith("map") else DataPlane.HAPROXY
    return HaproxyBalance(
        plane,
        options.balance,
        hash_type=hash_type,
        server_ids=BY_POSITION,
        explicit_ids=ids,
        weights=None if weights is None else tuple(weights),
    )


_STANDS_FOR = "HAProxy 2.6 from the OS, as HAProxy Technologies' and haproxy-ingress's balance"

#: What the fake backend can stand in for on these planes: the model places hashes and
#: cookies (ewma and service-upstream place nothing per request, and the fake runs neither
#: slow pods nor a Service proxy).
_MODEL = frozenset({Capability.HASH, Capability.HASH_KEY, Capability.COOKIE})

PLANES: tuple[Plane, ...] = (
    HaproxyPlane(
        DataPlane.HAPROXY,
        f"{_STANDS_FOR}, hash-type consistent, server ids by position",
        PROGRAM,
        _CAPABILITIES,
        about=(
            "HAProxy-based controllers turn the key into `balance source`, `uri`, `uri whole` or "
            "`hdr(NAME)` with `hash-type consistent`. Servers are numbered by their position in "
            "the list, so removing a pod renumbers the ones after it and moves their keys too. "
            "Cookie affinity is HAProxy Technologies' `cookie-persistence` (a dynamic cookie per "
            "server: it pins the pod until the pod leaves), ewma becomes `leastconn`, and "
            "service-upstream haproxy-ingress's one server per Service."
        ),
        model_capabilities=_MODEL,
    ),
    HaproxyPlane(
        DataPlane.HAPROXY_POD_IDS,
        f"{_STANDS_FOR}, hash-type consistent, one stable server id per pod",
        PROGRAM,
        _CAPABILITIES,
        about=(
            "As `haproxy`, but each pod keeps one server id for its life (haproxy-ingress's "
            "`assign-backend-server-id`): a pod's place on the hash ring follows the pod, not "
            "its position in the list, so changing one pod moves only that pod's keys. Cookie "
            "affinity is haproxy-ingress's with the pod's UID as the cookie value, ewma its "
            "default `random(2)`."
        ),
        model_capabilities=_MODEL,
        server_ids=PER_POD,
        cookie_style=HAPROXY_INGRESS_POD_UID,
        ewma=RANDOM_TWO,
        successor="haproxy-ingress",
        haproxytech=False,
    ),
    HaproxyPlane(
        DataPlane.HAPROXY_MAP_BASED,
        f"{_STANDS_FOR}, HAProxy's default hash-type (map-based)",
        PROGRAM,
        _CAPABILITIES,
        about=(
            "HAProxy's default `hash-type map-based`: the hash modulo the number of servers. "
            "Even spread, but adding or removing a pod moves most clients and pages. Cookie "
            "affinity is haproxy-ingress's default (dynamic cookies), ewma becomes `leastconn`."
        ),
        model_capabilities=_MODEL,
        hash_type="map-based",
        cookie_style=HAPROXY_INGRESS,
    ),
)
