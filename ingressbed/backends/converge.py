"""Convergence proven by traffic: after an apply, scale or kill, the data plane serves the setup.

A status page, ``/dbg`` or a config generation says what the data plane was *told*; only
requests show what it *does*. Every backend (local, kind, cluster) calls ``converge`` at
the end of ``apply``, ``scale`` and ``kill`` with the setup it now serves:

- every route must be answered by a pod on the route's Service port (after a switch from
  three ports to one, ``/9090`` must be answered on 8080, not on 9090 any more);
- for a hash setup, a sample of keys per route must land where the data plane's
  translation of the setup puts them (``planes.translate(backend.data_plane, setup)``:
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

import dataclasses
import http.client
import ipaddress
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ingressbed import planes
from ingressbed.backends import cookie_forms, route_paths
from ingressbed.clients import answer
from ingressbed.errors import ConfigError, SetupError
from ingressbed.placement.upstream import Pick, canonical
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Address, Endpoint, Route, Setup

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
        """A ``DataPlane`` value: whose translation places the samples."""
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
    #: The affinity cookie's name and mode whose form the answer's Set-Cookie must show.
    cookie: tuple[str, str] | None = None

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
    set_cookies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The samples of one round, and what is not checked (and why)."""

    samples: tuple[Sample, ...]
    notes: tuple[str, ...] = ()


def client_from_forwarded(setup: Setup, plane: str) -> bool:
    """Whether the data plane takes the client address from X-Forwarded-For
    (``Plane.forwarded``: ingress-nginx always does in the bed; the local planes follow
    the setup's ``use-forwarded-headers``)."""
    return planes.plane(plane).forwarded(setup)


def regex_locations(setup: Setup, plane: str) -> bool:
    """Whether the data plane matches the setup's paths as regexes: ingress-nginx's rule,
    for a host one of whose Ingresses has ``use-regex: "true"`` or a ``rewrite-target``."""
    if not planes.plane(plane).versioned:
        return False
    regex = (setup.ingress.annotation("use-regex") or "").lower() == "true"
    return regex or bool(setup.ingress.annotation("rewrite-target"))


def _sample_paths(route: Route, count: int, regex: bool = False) -> list[str]:
    """Request targets that reach ``route``: under a Prefix path, or (another type) the
    path itself with a query; a regex path by a path it matches (``route_paths``)."""
    path = route.path or "/"
    if route.path_type == "Prefix":
        base = route_paths.literal(path.rstrip("/"))
        return [f"{base}/converge-{i}" for i in range(count)]
    found = route_paths.example(path) if regex else None
    base = found if found is not None else route_paths.literal(path)
    return [f"{base}?converge={i}" for i in range(count)]


def _clients(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [str(ipaddress.IPv4Address(0x0A000000 | rng.getrandbits(24))) for _ in range(count)]


def _host_keyed(setup: Setup) -> bool:
    """Whether the hash key reads the Host (then the samples must vary it)."""
    key = setup.ingress.annotation("upstream-hash-by") or ""
    return "$host" in key or "$http_host" in key


def _hosts(route: Route, count: int, vary: bool) -> list[str]:
    """Host headers of ``count`` samples: the route's host, else any name. Varied for a
    host-keyed setup (one Host is one key, which a stale ring often places alike): on a
    route without a host any name, under a wildcard host its labels; an exact host has
    one value only."""
    if not vary or (route.host and not route.host.startswith("*.")):
        return [route.host or ANY_HOST] * count
    domain = route.host[1:] if route.host else f".{ANY_HOST}"
    return [f"converge-{i}{domain}" for i in range(count)]


def _model_request(sample: Sample, forwarded: bool) -> Request:
    return Request(
        client_ip=sample.client if forwarded else "",
        host=sample.host,
        request_uri=sample.path,
        headers=sample.headers(),
    )


def plan(
    setup: Setup,
    endpoints: Mapping[int, Sequence[Endpoint]],
    plane: str,
    *,
    keys: int = DEFAULT_KEYS,
    forwarded: bool | None = None,
    controller_version: str | None = None,
    seed: int = 0,
    check_cookies: bool = False,
) -> Plan:
    """The samples that prove ``setup`` is served, for the endpoint order in force.

    Args:
        setup: what the backend now serves.
        endpoints: per Service port, the endpoints in the balancer's order.
        plane: the data plane (a ``DataPlane`` value: ``ingress-nginx``, ``nginx:ip-hash``,
            ``haproxy:pod-ids`` ...); its translation of the setup places the samples.
        keys: sample keys per hash route (at least 1).
        forwarded: the client address follows X-Forwarded-For (None: decided by the plane
            and the setup, see ``client_from_forwarded``).
        controller_version: ingress-nginx release, for its key grammar.
        seed: seed of the sample clients.
        check_cookies: for cookie affinity, require the Set-Cookie form of the setup's
            affinity mode (ingress-nginx's own balancer; see ``cookie_forms``).

    Returns:
        The samples and notes on what is checked for the port only.

    A setup the data plane cannot express (a key it cannot hash on) is checked for the
    port only, with the reason in the notes.
    """
    forwarded = client_from_forwarded(setup, plane) if forwarded is None else forwarded
    regex = regex_locations(setup, plane)
    notes: list[str] = []
    samples: list[Sample] = []
    try:
        balance = planes.translate(plane, setup, controller_version=controller_version)
    except ConfigError as exc:  # a key the plane cannot express: what answers, at least
        for index, route in enumerate(setup.ingress.routes):
            if endpoints.get(route.service_port):
                notes.append(f"{route.path}: port only ({exc})")
                client = _clients(1, seed + index)[0]
                path = _sample_paths(route, 1, regex)[0]
                host = route.host or ANY_HOST
                samples.append(Sample(route, path, host, client, route.service_port))
        return Plan(tuple(samples), tuple(notes))
    for index, route in enumerate(setup.ingress.routes):
        peers = list(endpoints.get(route.service_port, ()))
        if not peers:
            notes.append(f"{route.path}: no endpoints on port {route.service_port}, not checked")
            continue
        paths = _sample_paths(route, max(1, keys) if balance.hashed else 1, regex)
        clients = _clients(len(paths), seed + index)
        hosts = _hosts(route, len(paths), _host_keyed(setup))
        plain = [
            Sample(route, path, host, client, route.service_port)
            for path, client, host in zip(paths, clients, hosts, strict=True)
        ]
        if balance.reads_client and not forwarded:
            notes.append(f"{route.path}: port only ({_NOT_FORWARDED})")
            samples += plain[:1]
            continue
        try:
            upstream = balance.upstream(peers)
            picks = [upstream.pick(_model_request(s, forwarded)) for s in plain]
        except ConfigError as exc:
            notes.append(f"{route.path}: port only ({exc})")
            samples += plain[:1]
            continue
        loose = next((pick for pick in picks if not pick.fixed), None)
        if loose is not None:
            notes.append(f"{route.path}: port only ({balance.describe()}: {loose.why})")
            samples += plain[:1]
            continue
        samples += [_allowing(s, pick) for s, pick in zip(plain, picks, strict=True)]
    cookie = cookie_forms.affinity_cookie(setup) if check_cookies else None
    if cookie is not None:
        samples = [dataclasses.replace(s, cookie=cookie) for s in samples]
    return Plan(tuple(samples), tuple(notes))


def _allowing(sample: Sample, pick: Pick) -> Sample:
    """``sample`` allowing the pods of ``pick`` (one, or a subset group)."""
    return dataclasses.replace(sample, allowed=pick.addresses())


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
        elif sample.allowed is not None and canonical(got.pod_ip) not in sample.allowed:
            problems.append(
                f"{sample.describe()}: answered by {got.pod_ip}, the model says "
                f"{' or '.join(sorted(sample.allowed))}"
            )
        elif sample.cookie is not None:
            name, mode = sample.cookie
            wrong = cookie_forms.form_problem(cookie_forms.cookie_key(got.set_cookies, name), mode)
            if wrong:
                problems.append(f"{sample.describe()}: {wrong} ({mode} not in force yet)")
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
            cookies = tuple(response.msg.get_all("Set-Cookie") or ())
            out.append(Answer(response.status, who.pod_ip, who.port, set_cookies=cookies))
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
    check_cookies: bool = False,
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
        check_cookies: check the affinity cookie's form (see ``plan``).
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
            check_cookies=check_cookies,
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
