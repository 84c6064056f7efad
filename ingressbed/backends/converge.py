"""Convergence proven by traffic: after an apply, scale or kill, the data plane serves the setup.

A status page, ``/dbg`` or a config generation says what the data plane was *told*; only
requests show what it *does*. Every backend (local, kind, cluster) calls ``converge`` at
the end of ``apply``, ``scale`` and ``kill`` with the setup it now serves:

- every route must be answered by a pod on the route's Service port (after a switch from
  three ports to one, ``/9090`` must be answered on 8080, not on 9090 any more);
- for a hash setup, a sample of keys per route must land where the data plane's
  translation of the setup puts them (``PlaneBalance.of(backend.data_plane, setup)``:
  ``upstream(endpoints).pick``) for the endpoint order the backend reports now
  (``backend.endpoints(port)``); with ingress-nginx's subsets, in the predicted group;
- the check repeats until it holds ``rounds`` times in a row, or a deadline passes; then
  ``SetupError`` shows the disagreements of the last round. No fixed sleeps: the pause
  between rounds only paces the polling.

The pure part (``plan``, ``disagreements``) has no I/O and is unit-tested; ``send`` does
plain HTTP/1.1 on new connections (a new connection meets the new configuration).
Setups whose placement the model cannot predict (round robin, ewma, cookie affinity on
a first visit, service-upstream, a key reading the client address while the data plane
does not take it from X-Forwarded-For) are checked for the port only, and ``plan`` says
so in its notes.
"""

from __future__ import annotations

import http.client
import ipaddress
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ingressbed.clients import answer
from ingressbed.errors import ConfigError, SetupError
from ingressbed.placement.predictor import Predictor
from ingressbed.placement.subset import DEFAULT_SUBSET_SIZE
from ingressbed.placement.variables import Request
from ingressbed.translation import PlaneBalance, Upstream
from ingressbed.vocabulary import Address, Endpoint, Flavor, Route, Setup

#: Sample keys per hash route and round: enough that a stale ring shows (with 6 pods a
#: wrong ring agrees with the right one on a key about 1 time in 6).
DEFAULT_KEYS = 12
_NOT_FORWARDED = (
    "the key reads the client address and the data plane does not take it from X-Forwarded-For"
)
#: Host header for a route without a host (any name reaches the default server).
ANY_HOST = "converge.ingressbed.invalid"
USER_AGENT = "ingressbed-converge"


class Target(Protocol):
    """What ``converge`` needs of a backend (every ``Backend`` has it)."""

    @property
    def data_plane(self) -> str:
        """A ``DataPlane`` value: how ``PlaneBalance`` translates the setup."""
        ...

    def address(self) -> Address: ...

    def endpoints(self, port: int) -> list[Endpoint]: ...


@dataclass(frozen=True)
class Sample:
    """One request to send and what its answer must show.

    ``allowed`` holds the pod addresses the model allows (one for a plain hash, the group
    for subsets); ``None`` means any pod of the route's port will do.
    """

    route: Route
    path: str
    host: str
    client: str
    port: int
    allowed: frozenset[str] | None = None

    def headers(self) -> dict[str, str]:
        """The headers ``send`` puts on the request (the model sees the same)."""
        out = {"User-Agent": USER_AGENT, "Cache-Control": "no-cache"}
        if self.client:
            out["X-Forwarded-For"] = self.client
        return out

    def describe(self) -> str:
        who = f" from {self.client}" if self.client else ""
        return f"{self.route.path} ({self.path}{who})"


@dataclass(frozen=True)
class Answer:
    """What came back for one sample: the answering pod's address and port, or an error."""

    status: int
    pod_ip: str = ""
    port: int = 0
    error: str = ""


@dataclass(frozen=True)
class Plan:
    """The samples of one round, and what is not checked (and why)."""

    samples: tuple[Sample, ...]
    notes: tuple[str, ...] = ()


def client_from_forwarded(setup: Setup, flavor: str) -> bool:
    """Whether the data plane takes the client address from X-Forwarded-For.

    The kind and cluster backends always serve with ``use-forwarded-headers: "true"`` (kind
    sets it, cluster refuses a controller without it); the local backend follows the setup.
    """
    if flavor == Flavor.INGRESS_NGINX:
        return True
    return str(setup.controller.get("use-forwarded-headers", "false")).lower() == "true"


def _sample_paths(route: Route, count: int) -> list[str]:
    path = route.path or "/"
    if route.path_type == "Prefix":
        base = path.rstrip("/")
        return [f"{base}/converge-{i}" for i in range(count)]
    return [f"{path}?converge={i}" for i in range(count)]


def _clients(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [str(ipaddress.IPv4Address(0x0A000000 | rng.getrandbits(24))) for _ in range(count)]


def _model_request(sample: Sample, forwarded: bool) -> Request:
    return Request(
        client_ip=sample.client if forwarded else "",
        host=sample.host,
        request_uri=sample.path,
        headers=sample.headers(),
    )


def _hash_mode(setup: Setup) -> tuple[str | None, str]:
    """(hash key, reason it is not predicted) for the setup's Ingress."""
    ing = setup.ingress
    if (ing.annotation("service-upstream") or "").lower() == "true":
        return None, "service-upstream: kube-proxy picks the pod"
    if (ing.annotation("affinity") or "").lower() == "cookie":
        return None, "cookie affinity: a first visit gets a random pod"
    hash_by = ing.annotation("upstream-hash-by") or ""
    if not hash_by:
        lb = ing.annotation("load-balance") or setup.controller.get("load-balance") or "round robin"
        return None, f"{lb}: no fixed pod per key"
    return hash_by, ""


def plan(
    setup: Setup,
    endpoints: Mapping[int, Sequence[Endpoint]],
    flavor: str,
    *,
    keys: int = DEFAULT_KEYS,
    forwarded: bool | None = None,
    controller_version: str | None = None,
    seed: int = 0,
) -> Plan:
    """The samples that prove ``setup`` is served, for the endpoint order in force.

    Args:
        setup: what the backend now serves.
        endpoints: per Service port, the endpoints in the balancer's order.
        flavor: the data plane (a ``DataPlane`` value: ``ingress-nginx``, ``nginx:ip-hash``,
            ``haproxy:pod-ids`` ...); ``PlaneBalance.of`` translates the setup for it.
        keys: sample keys per hash route (at least 1).
        forwarded: the client address follows X-Forwarded-For (None: decided from
            ``flavor`` and ``setup``, see ``client_from_forwarded``).
        controller_version: ingress-nginx release, for its key grammar.
        seed: seed of the sample clients.

    Returns:
        The samples and notes on what is checked for the port only.

    Raises:
        ConfigError: a hash key or subset size the model cannot use.
    """
    forwarded = client_from_forwarded(setup, flavor) if forwarded is None else forwarded
    hash_by, why_not = _hash_mode(setup)
    notes: list[str] = []
    samples: list[Sample] = []
    for index, route in enumerate(setup.ingress.routes):
        peers = list(endpoints.get(route.service_port, ()))
        if not peers:
            notes.append(f"{route.path}: no endpoints on port {route.service_port}, not checked")
            continue
        host = route.host or ANY_HOST
        paths = _sample_paths(route, max(1, keys) if hash_by else 1)
        clients = _clients(len(paths), seed + index)
        plain = [
            Sample(route, path, host, client, route.service_port)
            for path, client in zip(paths, clients, strict=True)
        ]
        if not hash_by:
            notes.append(f"{route.path}: port only ({why_not})")
            samples += plain
            continue
        if _subset(setup):
            predictor, problem = _predictor(setup, hash_by, peers, flavor, controller_version)
            if predictor is None:
                notes.append(f"{route.path}: port only ({problem})")
                samples += plain[:1]
                continue
            if not forwarded and _reads_client(predictor, plain[0]):
                notes.append(f"{route.path}: port only ({_NOT_FORWARDED})")
                samples += plain[:1]
                continue
            samples += [_in_group(predictor, s, forwarded) for s in plain]
            continue
        try:
            balance = PlaneBalance.of(flavor, setup, controller_version=controller_version)
            if not balance.hashed:
                raise ConfigError(f"{balance.describe()}: no fixed pod per key")
            upstream = balance.upstream(peers)
        except ConfigError as exc:
            notes.append(f"{route.path}: port only ({exc})")
            samples += plain[:1]
            continue
        if not forwarded and balance.reads_client:
            notes.append(f"{route.path}: port only ({_NOT_FORWARDED})")
            samples += plain[:1]
            continue
        try:
            samples += [_predicted(upstream, s, forwarded) for s in plain]
        except ConfigError as exc:
            notes.append(f"{route.path}: port only ({exc})")
            samples += plain[:1]
    return Plan(tuple(samples), tuple(notes))


def _predictor(
    setup: Setup,
    hash_by: str,
    peers: Sequence[Endpoint],
    flavor: str,
    controller_version: str | None,
) -> tuple[Predictor | None, str]:
    """The subset model (ingress-nginx's ``upstream-hash-by-subset``), or why there is none."""
    size: int | None = None
    if _subset(setup):
        raw = setup.ingress.annotation("upstream-hash-by-subset-size") or str(DEFAULT_SUBSET_SIZE)
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"upstream-hash-by-subset-size {raw!r} is not a positive number")
        size = int(raw)
    try:
        return Predictor(
            flavor, peers, hash_by, controller_version=controller_version, subset_size=size
        ), ""
    except ConfigError as exc:
        return None, str(exc)


def _subset(setup: Setup) -> bool:
    return (setup.ingress.annotation("upstream-hash-by-subset") or "").lower() == "true"


def _in_group(predictor: Predictor, sample: Sample, forwarded: bool) -> Sample:
    """``sample`` allowing the pods of its subset group (ingress-nginx's subsets)."""
    request = _model_request(sample, forwarded)
    if predictor.subsets is not None:
        allowed: frozenset[str] | None = frozenset(e.address for e in predictor.pick_group(request))
    else:
        pick = predictor.pick(request)
        allowed = None if pick is None else frozenset({pick.address})
    return Sample(sample.route, sample.path, sample.host, sample.client, sample.port, allowed)


def _predicted(upstream: Upstream, sample: Sample, forwarded: bool) -> Sample:
    """``sample`` with the pod the data plane's translation picks for it."""
    pick = upstream.pick(_model_request(sample, forwarded))
    allowed = None if pick is None else frozenset({pick.address})
    return Sample(sample.route, sample.path, sample.host, sample.client, sample.port, allowed)


def _reads_client(predictor: Predictor, sample: Sample) -> bool:
    """Whether the key changes with the client address (two addresses, same request)."""
    one = Request(client_ip="10.0.0.1", host=sample.host, request_uri=sample.path)
    two = Request(client_ip="10.0.0.2", host=sample.host, request_uri=sample.path)
    return predictor.key.evaluate(one) != predictor.key.evaluate(two)


def disagreements(samples: Sequence[Sample], answers: Sequence[Answer]) -> list[str]:
    """Where the answers differ from what the samples require ([] = the setup is served)."""
    problems: list[str] = []
    for sample, got in zip(samples, answers, strict=True):
        if got.error or not got.pod_ip or not 100 <= got.status < 400:
            reason = got.error or f"HTTP {got.status}" + ("" if got.pod_ip else ", no pod named")
            problems.append(f"{sample.describe()}: {reason}")
        elif got.port != sample.port:
            problems.append(
                f"{sample.describe()}: answered on port {got.port}, the route's port is "
                f"{sample.port}"
            )
        elif sample.allowed is not None and got.pod_ip not in sample.allowed:
            problems.append(
                f"{sample.describe()}: answered by {got.pod_ip}, the model says "
                f"{' or '.join(sorted(sample.allowed))}"
            )
    return problems


def send(address: Address, samples: Sequence[Sample], timeout: float = 5.0) -> list[Answer]:
    """Send each sample on a new connection; what answered."""
    out: list[Answer] = []
    for sample in samples:
        conn = http.client.HTTPConnection(address.host, address.port, timeout=timeout)
        try:
            conn.request("GET", sample.path, headers={"Host": sample.host, **sample.headers()})
            response = conn.getresponse()
            response.read()
            who = answer.from_headers(dict(response.getheaders()))
            out.append(Answer(response.status, who.pod_ip, who.port))
        except (OSError, http.client.HTTPException) as exc:
            out.append(Answer(0, error=f"{type(exc).__name__}: {exc}"))
        finally:
            conn.close()
    return out


Sender = Callable[[Address, Sequence[Sample]], list[Answer]]


def converge(
    target: Target,
    setup: Setup,
    *,
    timeout: float = 30.0,
    rounds: int = 1,
    keys: int = DEFAULT_KEYS,
    controller_version: str | None = None,
    sender: Sender = send,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> Plan:
    """Until traffic shows ``target`` serves ``setup`` (``rounds`` agreeing rounds in a row).

    Each round reads the endpoint order in force again (it may change while pods come and
    go), plans the samples, sends them and compares.

    Args:
        target: the backend.
        setup: what it should serve now.
        timeout: seconds until ``SetupError``.
        rounds: agreeing rounds needed in a row (more than 1 where several workers may
            hold different state, e.g. ingress-nginx workers syncing on their own timers).
        keys: sample keys per hash route.
        controller_version: ingress-nginx release, for its key grammar.
        sender: sends samples (``send``; tests pass a fake).
        clock, pause: time source and pacing between rounds (tests pass fakes).

    Returns:
        The plan of the last round (its notes say what was checked for the port only).

    Raises:
        SetupError: the deadline passed; the message shows the last disagreements.
        ConfigError: a hash setup the model cannot use.
    """
    deadline = clock() + timeout
    agreed = 0
    wait = 0.05
    tries = 0
    while True:
        tries += 1
        ports = setup.ingress.ports
        current = plan(
            setup,
            {port: target.endpoints(port) for port in ports},
            target.data_plane,
            keys=keys,
            controller_version=controller_version,
            seed=tries,
        )
        problems = disagreements(current.samples, sender(target.address(), current.samples))
        if not problems:
            agreed += 1
            if agreed >= rounds:
                return current
        else:
            agreed = 0
        if clock() >= deadline:
            shown = "; ".join(problems[:3]) + (
                f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            )
            raise SetupError(
                f"the data plane does not serve setup {setup.ingress.name!r} after "
                f"{timeout:.0f}s ({tries} rounds): {shown or 'agreement did not hold'}; see the "
                "backend's diagnostics"
            )
        pause(wait)
        wait = min(wait * 2, 1.0)
