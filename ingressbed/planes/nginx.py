"""Plain nginx as the local backend runs it, rendered as F5 NGINX Ingress renders a candidate.

Three renderings of ``upstream-hash-by: KEY`` (F5's ``nginx.org/lb-method``):

- ``nginx``: ``hash KEY consistent`` (the ring of nginx's upstream hash module: 160 CRC-32
  points per server, nodes ``host NUL port``);
- ``nginx:hash``: plain ``hash KEY`` (the key's CRC-32 modulo the server count);
- ``nginx:ip-hash``: ``ip_hash``, which hashes the client address whatever the key says.

No key: round robin (F5's own default is ``random two least_conn``). The candidates that
are not a key (docs/translation.md): ``load-balance: ewma`` -> ``least_conn`` (F5's
``nginx.org/lb-method: least_conn``); ``service-upstream`` -> one server per upstream, the
Service's address (F5's ``nginx.org/use-cluster-ip``); ``affinity: cookie`` (sticky cookies
are NGINX Plus only), subsets and ingress-nginx's pre-0.33 key reading -> ``NoEquivalent``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError, NoEquivalent
from ingressbed.placement.keys import hash_key
from ingressbed.placement.predictor import Predictor
from ingressbed.placement.ring import Ring, RingKind
from ingressbed.placement.upstream import ROUND_ROBIN as ANY_ROUND_ROBIN
from ingressbed.placement.upstream import Pick, Upstream
from ingressbed.placement.variables import Request
from ingressbed.planes import nginx_conf, nginx_targets, successors
from ingressbed.planes.base import (
    AnyUpstream,
    Balance,
    FlavorOptions,
    Plane,
    Program,
    RunContext,
    Target,
    require_endpoints,
    sampled_shares,
)
from ingressbed.planes.nginx_conf import (
    HASH,
    HASH_CONSISTENT,
    IP_HASH,
    LEAST_CONN,
    ROUND_ROBIN,
    UNKEYED,
)
from ingressbed.planes.settings import positive
from ingressbed.vocabulary import Capability, DataPlane, Endpoint, Flavor, Placement, Setup

PROGRAM = Program(
    name="nginx",
    variable="INGRESSBED_NGINX",
    package="Debian/Ubuntu: apt-get install nginx-light",
    config="nginx.conf",
    log="nginx.out",
    check_log="nginx-t.out",
    files=("nginx.conf", "error.log", "access.log", "nginx.out"),
    error_mark="[emerg]",
    version_pattern=r"nginx/(\S+)",
    argv=("{bin}", "-p", "{run}", "-c", "{conf}", "-g", "daemon off;"),
    check=("{bin}", "-t", "-q", "-p", "{run}", "-c", "{conf}"),
    reload_signal="SIGHUP",
    error_logs=("error.log", "nginx.out"),
)

_CAPABILITIES = frozenset(
    {
        Capability.HASH,
        Capability.HASH_KEY,
        Capability.EWMA,
        Capability.SERVICE_UPSTREAM,
        Capability.WEBSOCKET,
        Capability.SCALE,
        Capability.KILL,
        Capability.CORS,
    }
)


@functools.lru_cache(maxsize=128)
def _position_shares(method: str, hash_by: str, weights: tuple[int, ...]) -> tuple[float, ...]:
    """Each server position's share of the sample requests under ``hash`` or ``ip_hash``.

    Both pick a position in the ``server`` list from the key (or the client address) and
    the weights, never from the servers' addresses, so one sample serves every upstream
    with these weights: the shares are sampled once per (method, key, weights).
    """
    stand_ins = [Endpoint(f"10.255.{i // 250}.{i % 250 + 1}", 1) for i in range(len(weights))]
    weighted = dict(zip(stand_ins, weights, strict=True))
    predictor = Predictor(RingKind.NGINX, stand_ins, hash_by, method=method, weights=weighted)
    shares = sampled_shares(NginxUpstream(tuple(stand_ins), predictor))
    return tuple(shares[e] for e in stand_ins)


@dataclass(frozen=True)
class NginxUpstream:
    """nginx's upstream: ``Predictor`` with the plane's method."""

    endpoints: tuple[Endpoint, ...]
    predictor: Predictor

    def pick(self, request: Request) -> Pick:
        chosen = self.predictor.pick(request)
        return Pick.anywhere(ANY_ROUND_ROBIN) if chosen is None else Pick.to(chosen)

    def shares(self) -> dict[Endpoint, float]:
        if self.predictor.method == HASH_CONSISTENT:
            return self.predictor.ring.shares()
        by_position = _position_shares(
            self.predictor.method, self.predictor.key.expr, self.predictor.weight_list
        )
        out: dict[Endpoint, float] = dict.fromkeys(self.endpoints, 0.0)
        for endpoint, share in zip(self.predictor.endpoints, by_position, strict=True):
            out[endpoint] += share
        return out

    def repeat_chance(self) -> float:
        return 1.0

    def ring(self) -> Ring[Endpoint] | None:
        return self.predictor.ring if self.predictor.method == HASH_CONSISTENT else None


@dataclass(frozen=True)
class NginxBalance(Balance):
    """nginx's balancing of a candidate: ``method`` is one of ``hash-consistent``,
    ``hash``, ``ip-hash``, ``round-robin``; ``hash_by`` the key (None for ``ip_hash`` and
    round robin)."""

    plane: DataPlane
    method: str
    hash_by: str | None = None
    notes: tuple[str, ...] = ()
    weights: tuple[int, ...] | None = None  # per server, in endpoint order (None: all 1)
    #: ``service-upstream``: the one server of each upstream is the Service's address.
    service_upstream: bool = False

    @property
    def hashed(self) -> bool:
        return self.method not in UNKEYED

    @property
    def consistent(self) -> bool:
        return self.method == HASH_CONSISTENT

    @property
    def minimal_moves(self) -> bool:
        return self.consistent  # ring nodes are the pods' own addresses

    @property
    def port_blind(self) -> bool:
        # plain hash and ip_hash pick a list position; the ring places nodes by address
        # and port, so each Service port is its own ring.
        return self.hashed and self.method != HASH_CONSISTENT

    @property
    def reads_client(self) -> bool:
        return self.method == IP_HASH or "remote_addr" in (self.hash_by or "")

    @property
    def reads_key(self) -> bool:
        return self.method != IP_HASH

    def translated_key(self) -> str:
        return "ip_hash" if self.method == IP_HASH else ""

    def translation(self) -> str | None:
        return None if self.method == HASH_CONSISTENT else self.describe()

    def describe(self) -> str:
        if self.service_upstream:
            return f"{self.plane}: one server per upstream, the Service's address"
        if self.method == ROUND_ROBIN:
            return f"{self.plane}: round robin"
        if self.method == LEAST_CONN:
            return f"{self.plane}: least_conn"
        if self.method == IP_HASH:
            return f"{self.plane}: ip_hash"
        consistent = " consistent" if self.method == HASH_CONSISTENT else ""
        return f"{self.plane}: hash {self.hash_by}{consistent}"

    def upstream(self, endpoints: Sequence[Endpoint]) -> Upstream:
        eps = require_endpoints(endpoints)
        if self.service_upstream:
            return AnyUpstream(eps, successors.VIA_SERVICE)
        if self.method == ROUND_ROBIN:
            return AnyUpstream(eps, ANY_ROUND_ROBIN)
        if self.method == LEAST_CONN:
            return AnyUpstream(eps, "least_conn: the server with the fewest connections")
        weights = None
        if self.weights is not None:
            if len(self.weights) != len(eps):
                raise ConfigError(f"{len(self.weights)} weights for {len(eps)} endpoints")
            weights = dict(zip(eps, self.weights, strict=True))
        predictor = Predictor(
            RingKind.NGINX, eps, self.hash_by or "", method=self.method, weights=weights
        )
        return NginxUpstream(eps, predictor)

    def key(self, request: Request) -> bytes:
        if self.method == IP_HASH:
            return request.client_ip.encode()
        if not self.hash_by:
            return b""
        return hash_key(self.hash_by, request, flavor=RingKind.NGINX)


@dataclass(frozen=True)
class NginxPlane(successors.SuccessorPlane):
    """One rendering of plain nginx (see the module docstring)."""

    method: str = HASH_CONSISTENT

    def for_key(
        self, hash_by: str | None, *, controller_version: str | None = None
    ) -> NginxBalance:
        key = hash_by or None
        if key is None:
            return NginxBalance(self.name, ROUND_ROBIN)
        if self.method == IP_HASH:
            said = ["ip_hash hashes the first three octets of an IPv4 client: a /24 is one key"]
            if key not in ("$remote_addr", "$binary_remote_addr"):
                said.append(f"ip_hash ignores the key {key}: the client address picks the pod")
            return NginxBalance(self.name, IP_HASH, None, tuple(said))
        notes: tuple[str, ...] = ()
        if self.method == HASH:
            notes = ("plain hash: the key modulo the server count; a new pod moves most keys",)
        return NginxBalance(self.name, self.method, key, notes)

    def translate(self, setup: Setup, *, controller_version: str | None = None) -> NginxBalance:
        balancing = Balancing.of(setup)
        successors.refuse_ingress_nginx_only(
            self.name, balancing, controller_version, "F5 NGINX Ingress"
        )
        placement = balancing.placement
        if placement in (Placement.HASH, Placement.ROUND_ROBIN):
            return self.for_key(balancing.hash_by if placement == Placement.HASH else None)
        if balancing.uses_cookie:
            raise NoEquivalent(
                f"{self.name} has no equivalent of affinity: cookie: sticky cookies are NGINX "
                "Plus only (nginx.com/sticky-cookie-services, a VirtualServer's sessionCookie); "
                "the open-source nginx has no cookie persistence"
            )
        if placement == Placement.EWMA:
            note = (
                "least_conn weighs servers by their open connections, not by latency as ewma "
                "does (F5's default, random two least_conn, draws two servers first)"
            )
            return NginxBalance(self.name, LEAST_CONN, notes=(note,))
        note = (
            "one server per upstream, the Service's address (F5's nginx.org/use-cluster-ip): "
            "kube-proxy picks a pod per connection, and nginx reuses its upstream connections"
        )
        return NginxBalance(self.name, ROUND_ROBIN, notes=(note,), service_upstream=True)

    def render(
        self,
        setup: Setup,
        balance: Balance,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> dict[str, str]:
        assert isinstance(balance, NginxBalance), balance
        servers = successors.servers(balance.service_upstream, endpoints, run)
        text = nginx_conf.render(setup, balance, servers, run.listen, run.run_dir, run.generation)
        return {PROGRAM.config: text}

    def targets(self, setup: Setup) -> list[Target]:
        balance = self.translate(setup)
        return [
            nginx_targets.ingress_annotations(setup, balance),
            nginx_targets.virtual_server(setup, balance),
        ]

    def workers(self, setup: Setup) -> int:
        return positive(setup, "worker-processes", "1")


#: The placement flavor of this family (``ingressbed predict --flavor nginx``).
FLAVOR = Flavor.NGINX
_RENDERINGS = {
    HASH_CONSISTENT: DataPlane.NGINX,
    HASH: DataPlane.NGINX_HASH,
    IP_HASH: DataPlane.NGINX_IP_HASH,
}


def flavor_balance(options: FlavorOptions, count: int) -> NginxBalance:
    """nginx's ``hash KEY [consistent]`` or ``ip_hash`` from ``--flavor nginx`` options.

    Raises:
        ConfigError: an option nginx does not take, a missing key, or a bad value.
    """
    options.refuse(
        ("balance", "hash_type", "server_ids"),
        "applies to the haproxy flavor only (give --flavor haproxy)",
    )
    options.refuse(("controller_version",), "applies to the ingress-nginx flavor only")
    if options.subset_size is not None:
        raise ConfigError("subset hashing exists only in ingress-nginx, not in nginx")
    method = options.method or HASH_CONSISTENT
    if method not in _RENDERINGS:
        raise ConfigError(f"--method {method!r}: use one of {', '.join(_RENDERINGS)}")
    if method == IP_HASH and options.hash_by is not None:
        raise ConfigError("--method ip-hash hashes the client address: drop --hash-by")
    if method != IP_HASH and options.hash_by is None:
        raise ConfigError("--hash-by is required with --flavor nginx (e.g. '$remote_addr')")
    weights = options.weight_list(count)
    return NginxBalance(
        _RENDERINGS[method],
        method,
        options.hash_by,
        weights=None if weights is None else tuple(weights),
    )


_STANDS_FOR = "plain nginx from the OS, as F5 NGINX Ingress renders nginx.org/lb-method"
#: The end of every nginx plane's paragraph: the candidates that are not a key.
_NOT_A_KEY = (
    " Without a key: ewma becomes `nginx.org/lb-method: least_conn`, service-upstream "
    "`nginx.org/use-cluster-ip`; sticky cookies are NGINX Plus only, so cookie affinity has no "
    "equivalent."
)

PLANES: tuple[Plane, ...] = (
    NginxPlane(
        DataPlane.NGINX,
        f"{_STANDS_FOR} `hash KEY consistent`",
        PROGRAM,
        _CAPABILITIES,
        about=(
            "F5 NGINX Ingress renders the key as `nginx.org/lb-method: hash KEY consistent`: "
            "nginx's own consistent hash (ketama points per server), one upstream per Service "
            "port. A key keeps its pod while the pods stay, and adding a pod moves about the "
            "new pod's share of the keys." + _NOT_A_KEY
        ),
        method=HASH_CONSISTENT,
    ),
    NginxPlane(
        DataPlane.NGINX_HASH,
        f"{_STANDS_FOR} `hash KEY`",
        PROGRAM,
        _CAPABILITIES,
        about=(
            "`nginx.org/lb-method: hash KEY` without `consistent`: the key's hash modulo the "
            "number of servers. Keys stay put while the pods stay; adding or removing a pod "
            "moves most of them." + _NOT_A_KEY
        ),
        method=HASH,
    ),
    NginxPlane(
        DataPlane.NGINX_IP_HASH,
        f"{_STANDS_FOR} `ip_hash` (the client address, whatever the key)",
        PROGRAM,
        _CAPABILITIES - {Capability.HASH_KEY},
        about=(
            "`nginx.org/lb-method: ip_hash`: the key in the annotation is ignored and the "
            "client address picks the pod, its first three octets only, so a whole /24 shares "
            "a pod. Anything keyed by URL or host (per-pod caches) loses its affinity." + _NOT_A_KEY
        ),
        method=IP_HASH,
        model_capabilities=frozenset({Capability.HASH}),
    ),
)

__all__ = ["PLANES", "PROGRAM", "NginxBalance", "NginxPlane", "NginxUpstream"]
