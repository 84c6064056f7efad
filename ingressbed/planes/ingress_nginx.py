"""ingress-nginx itself: the candidate as written, placed as its Lua balancer places it.

The placement comes from the candidate's annotations (``balancing.Balancing``):

- ``upstream-hash-by``: the chash ring (``address:port`` nodes, 160 CRC-32 points each,
  never skipping a peer), the key in the grammar of the controller release;
- ``upstream-hash-by-subset``: the key picks a group of ``size`` endpoints, the member is
  drawn at random per request;
- ``affinity: cookie``: balanced (the cookie's key on the same ring) or persistent (the
  cookie names its ``ip:port``); a visitor without a cookie gets a random pod;
- round robin, ewma, service-upstream: no fixed pod per request.

On kind and cluster the real controller runs. On the local backend the bed runs its own
implementation of the controller's rules (``ingress_nginx_conf``: the controller model,
``ingressbed.controller``) and of its Lua balancer (``ingressbed.ingress_nginx_lua``) on
the OS's nginx with Debian's Lua module: labelled ``(local)`` beside a kind run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ingressbed import controller
from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError
from ingressbed.placement.cookie import (
    BALANCED,
    DEFAULT_COOKIE_NAME,
    backend_name,
    balanced_cookie,
    persistent_cookie,
    split_cookie,
)
from ingressbed.placement.keys import hash_key, is_legacy
from ingressbed.placement.predictor import Predictor
from ingressbed.placement.ring import Ring, RingKind
from ingressbed.placement.subset import SubsetRing
from ingressbed.placement.upstream import AT_RANDOM, RANDOM, ROUND_ROBIN, Pick, Upstream
from ingressbed.placement.variables import Request, cookie
from ingressbed.planes import ingress_nginx_conf as local
from ingressbed.planes.base import (
    AnyUpstream,
    Balance,
    FlavorOptions,
    Plane,
    Post,
    Program,
    RunContext,
    ServicePort,
    Session,
    require_endpoints,
)
from ingressbed.planes.settings import positive
from ingressbed.vocabulary import (
    SERVICE_NAME,
    Capability,
    DataPlane,
    Endpoint,
    Flavor,
    Placement,
    Setup,
)

#: The namespace the bed's backends are named in where nothing says otherwise.
DEFAULT_NAMESPACE = "default"
#: ``Pick.why`` for a visitor the balancer has not pinned yet.
NO_COOKIE = "no affinity cookie: a random pod"


@dataclass(frozen=True)
class RingUpstream:
    """``upstream-hash-by``: one pod per key, the Lua chash ring."""

    endpoints: tuple[Endpoint, ...]
    predictor: Predictor

    def pick(self, request: Request) -> Pick:
        chosen = self.predictor.pick(request)
        return Pick.anywhere(RANDOM) if chosen is None else Pick.to(chosen)

    def shares(self) -> dict[Endpoint, float]:
        return self.predictor.ring.shares()

    def repeat_chance(self) -> float:
        return 1.0

    def ring(self) -> Ring[Endpoint] | None:
        return self.predictor.ring


@dataclass(frozen=True)
class SubsetUpstream:
    """``upstream-hash-by-subset``: the key picks a group, the member is random."""

    endpoints: tuple[Endpoint, ...]
    predictor: Predictor

    def pick(self, request: Request) -> Pick:
        return Pick.group(self.predictor.pick_group(request))

    def _groups(self) -> SubsetRing:
        assert self.predictor.subsets is not None
        return self.predictor.subsets

    def _weighted(self) -> list[tuple[float, dict[str, float]]]:
        """Per group: its ring share and each member address's chance within it."""
        subsets = self._groups()
        share = subsets.ring.shares()
        out = []
        for name, members in subsets.groups.items():
            weights: dict[str, float] = {}
            for member in members:
                weights[member.address] = weights.get(member.address, 0.0) + 1 / len(members)
            out.append((share[name], weights))
        return out

    def shares(self) -> dict[Endpoint, float]:
        per_address: dict[str, float] = {}
        for share, weights in self._weighted():
            for address, weight in weights.items():
                per_address[address] = per_address.get(address, 0.0) + share * weight
        return {e: per_address.get(e.address, 0.0) for e in dict.fromkeys(self.endpoints)}

    def repeat_chance(self) -> float:
        return sum(
            share * sum(w * w for w in weights.values()) for share, weights in self._weighted()
        )

    def ring(self) -> Ring[Endpoint] | None:
        return None


@dataclass(frozen=True)
class CookieUpstream:
    """``affinity: cookie``: the cookie pins the pod; a visitor without one gets a random pod.

    ``balanced`` places the cookie's key on the chash ring; ``persistent`` finds the
    endpoint whose ``md5hex(backend .. ip:port)`` the key is (none listed: a random pod
    and a new cookie).
    """

    endpoints: tuple[Endpoint, ...]
    mode: str
    cookie_name: str
    #: A visitor without a cookie gets a random pod (the balancer's random key).
    new_visitors: ClassVar[str] = AT_RANDOM
    backend: str

    @property
    def _ring(self) -> Ring[Endpoint]:
        return Ring.build(RingKind.LUA, self.endpoints)

    def session(self, request: Request) -> str | None:
        """The session key the request's affinity cookie carries (the last of that name)."""
        value = request.cookies.get(self.cookie_name)
        if value is None:
            header = request.cookie_header()
            found = cookie(header, self.cookie_name) if header else None
            value = None if found is None else found.decode()
        return split_cookie(value)[0] if value is not None else None

    def pick(self, request: Request) -> Pick:
        key = self.session(request)
        if key is None:
            return Pick.anywhere(NO_COOKIE)
        if self.mode == BALANCED:
            return Pick.to(self._ring.lookup(key.encode()))
        for endpoint in self.endpoints:
            if persistent_cookie(self.backend, endpoint).split("|", 1)[0] == key:
                return Pick.to(endpoint)
        return Pick.anywhere("the cookie pins no listed pod: a random pod and a new cookie")

    def new_session(self, token: str, draw: Callable[[Sequence[Endpoint]], Endpoint]) -> Session:
        """The cookie the balancer sets for a visitor without one, and the pod it pins.

        ``token`` stands for the balancer's random key (balanced); ``draw`` picks the pod
        where the balancer picks at random (persistent).
        """
        if self.mode == BALANCED:
            endpoint = self._ring.lookup(token.encode())
            return Session(self.cookie_name, balanced_cookie(token, self.backend), endpoint)
        endpoint = draw(self.endpoints)
        return Session(self.cookie_name, persistent_cookie(self.backend, endpoint), endpoint)

    def shares(self) -> dict[Endpoint, float]:
        if self.mode == BALANCED:
            return self._ring.shares()
        return {e: 1 / len(self.endpoints) for e in self.endpoints}

    def repeat_chance(self) -> float:
        return 1.0

    def ring(self) -> Ring[Endpoint] | None:
        return self._ring if self.mode == BALANCED else None


@dataclass(frozen=True)
class IngressNginxBalance(Balance):
    """ingress-nginx's balancing of a candidate: ``method`` is its placement."""

    plane: DataPlane
    method: str
    hash_by: str | None = None
    notes: tuple[str, ...] = ()
    subset_size: int | None = None
    cookie_name: str = DEFAULT_COOKIE_NAME
    controller_version: str | None = None
    namespace: str = DEFAULT_NAMESPACE

    @property
    def placement(self) -> Placement:
        return Placement(self.method)

    @property
    def hashed(self) -> bool:
        return self.placement in (Placement.HASH, Placement.SUBSET)

    @property
    def consistent(self) -> bool:
        return self.placement in (Placement.HASH, Placement.SUBSET, Placement.COOKIE_BALANCED)

    @property
    def minimal_moves(self) -> bool:
        return self.consistent

    @property
    def port_blind(self) -> bool:
        return False  # ring nodes are `address:port`: each Service port is its own ring

    @property
    def reads_client(self) -> bool:
        return self.hashed and "remote_addr" in (self.hash_by or "")

    def translation(self) -> str | None:
        return None  # the candidate as written

    def describe(self) -> str:
        placement = self.placement
        if placement == Placement.HASH:
            legacy = " (one variable name: before 0.33)" if self._legacy else ""
            return f"{self.plane}: upstream-hash-by {self.hash_by}{legacy}"
        if placement == Placement.SUBSET:
            return f"{self.plane}: upstream-hash-by {self.hash_by}, subsets of {self.subset_size}"
        if placement in (Placement.COOKIE_BALANCED, Placement.COOKIE_PERSISTENT):
            mode = placement.removeprefix("cookie-")
            return f"{self.plane}: cookie affinity ({mode}), cookie {self.cookie_name}"
        if placement == Placement.ROUND_ROBIN:
            return f"{self.plane}: round robin"
        return f"{self.plane}: {placement}"

    @property
    def _legacy(self) -> bool:
        return is_legacy(self.controller_version)

    def upstream(self, endpoints: Sequence[Endpoint]) -> Upstream:
        eps = require_endpoints(endpoints)
        placement = self.placement
        if placement == Placement.HASH:
            predictor = Predictor(
                RingKind.LUA, eps, self.hash_by or "", controller_version=self.controller_version
            )
            return RingUpstream(eps, predictor)
        if placement == Placement.SUBSET:
            predictor = Predictor(
                RingKind.LUA,
                eps,
                self.hash_by or "",
                controller_version=self.controller_version,
                subset_size=self.subset_size,
            )
            return SubsetUpstream(eps, predictor)
        if placement in (Placement.COOKIE_BALANCED, Placement.COOKIE_PERSISTENT):
            mode = placement.removeprefix("cookie-")
            backend = backend_name(self.namespace, SERVICE_NAME, eps[0].port)
            return CookieUpstream(tuple(dict.fromkeys(eps)), mode, self.cookie_name, backend)
        why = {
            Placement.EWMA: "ewma: the better of two random pods by latency",
            Placement.SERVICE_UPSTREAM: "service-upstream: kube-proxy picks per connection",
        }.get(placement, ROUND_ROBIN)
        return AnyUpstream(eps, why)

    def key(self, request: Request) -> bytes:
        if not self.hashed or not self.hash_by:
            return b""
        return hash_key(
            self.hash_by, request, controller_version=self.controller_version, flavor=RingKind.LUA
        )


def _configuration(
    setup: Setup, endpoints: Mapping[int, Sequence[Endpoint]], run: RunContext
) -> controller.Configuration:
    return local.configuration(
        setup, endpoints, run.service_address, service_endpoints=run.service_endpoints
    )


@dataclass(frozen=True)
class IngressNginxPlane(Plane):
    """The controller and its Lua balancer (kind and cluster run the real ones; the local
    backend the bed's own, see the module docstring)."""

    def forwarded(self, setup: Setup) -> bool:
        # kind sets use-forwarded-headers, cluster refuses a controller without it, and the
        # local plane always renders it.
        return True

    def render(
        self,
        setup: Setup,
        balance: Balance,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> dict[str, str]:
        config = _configuration(setup, endpoints, run)
        assert self.program is not None
        return {self.program.config: local.nginx_conf(setup, config, run)}

    def posts(
        self,
        setup: Setup,
        balance: Balance,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
        *,
        previous: bytes | None,
        running: bytes | None,
        fresh: bool,
    ) -> list[Post]:
        config = _configuration(setup, endpoints, run)
        return local.posts(config, previous, running, fresh=fresh)

    def service_ports(
        self,
        setup: Setup,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> list[ServicePort]:
        config = _configuration(setup, endpoints, run)
        return local.service_ports(
            config, endpoints, run.service_address, setup, run.service_endpoints
        )

    def in_force(self, fetch: Callable[[str], str | None], generation: int) -> bool:
        return local.in_force(fetch(local.SYNC_PATH), generation)

    def workers(self, setup: Setup) -> int:
        return positive(setup, "worker-processes", "1")

    def for_key(
        self, hash_by: str | None, *, controller_version: str | None = None
    ) -> IngressNginxBalance:
        key = hash_by or None
        placement = Placement.HASH if key else Placement.ROUND_ROBIN
        return IngressNginxBalance(
            self.name, placement.value, key, controller_version=controller_version
        )

    def translate(
        self, setup: Setup, *, controller_version: str | None = None
    ) -> IngressNginxBalance:
        balancing = Balancing.of(setup)
        return IngressNginxBalance(
            self.name,
            balancing.placement.value,
            balancing.hash_by,
            subset_size=balancing.subset_size,
            cookie_name=balancing.cookie_name,
            controller_version=controller_version,
        )


#: The placement flavor of this family (``ingressbed predict --flavor ingress-nginx``).
FLAVOR = Flavor.INGRESS_NGINX


def flavor_balance(options: FlavorOptions, count: int) -> IngressNginxBalance:
    """The Lua balancer's ring (or subsets) from ``--flavor ingress-nginx`` options.

    Raises:
        ConfigError: an option ingress-nginx does not take, or no key.
    """
    options.refuse(
        ("balance", "hash_type", "server_ids"),
        "applies to the haproxy flavor only (give --flavor haproxy)",
    )
    options.refuse(("method", "weights"), "applies to the nginx and haproxy flavors only")
    if options.hash_by is None:
        raise ConfigError("--hash-by is required with --flavor ingress-nginx (e.g. '$remote_addr')")
    subset = options.subset_size
    return IngressNginxBalance(
        DataPlane.INGRESS_NGINX,
        (Placement.SUBSET if subset is not None else Placement.HASH).value,
        options.hash_by,
        subset_size=subset,
        controller_version=options.controller_version,
    )


#: nginx with Debian's Lua module, running the bed's own balancer.
PROGRAM = Program(
    name="nginx",
    variable="INGRESSBED_NGINX",
    package=(
        "Debian/Ubuntu: apt-get install nginx-light libnginx-mod-http-lua lua-resty-core lua-cjson"
    ),
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
    needs_lua=True,
    posts_per_second=True,
)

_LOCAL = frozenset(
    {
        Capability.HASH,
        Capability.HASH_KEY,
        Capability.SUBSET,
        Capability.COOKIE,
        Capability.EWMA,
        Capability.SERVICE_UPSTREAM,
        Capability.WEBSOCKET,
        Capability.SCALE,
        Capability.KILL,
        Capability.CORS,
        Capability.RAW_APPLY,
        Capability.CANARY,
        Capability.SEVERAL_OBJECTS,
    }
)

PLANES: tuple[Plane, ...] = (
    IngressNginxPlane(
        DataPlane.INGRESS_NGINX,
        "ingress-nginx's own Lua balancer: the candidate as written",
        PROGRAM,
        _LOCAL,
        model_capabilities=frozenset(
            {Capability.HASH, Capability.HASH_KEY, Capability.SUBSET, Capability.COOKIE}
        ),
        versioned=True,
        about=(
            "ingress-nginx balances in Lua: `upstream-hash-by` builds a consistent-hash ring per "
            "Service port, so one key can pick different pods on different ports; without a key "
            "it is round robin. Cookie affinity, subsets, EWMA and service-upstream are its own."
        ),
    ),
)
