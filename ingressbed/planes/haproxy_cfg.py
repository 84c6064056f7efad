"""Render HAProxy 2.6's configuration from a ``Setup`` (pure: text in, text out).

The HAProxy data plane of the local backend (``--data-plane haproxy``,
``haproxy:pod-ids``, ``haproxy:map-based``). It serves what ``nginx_conf`` serves, the
HAProxy way:

- one backend per hellogo Service port (``hellogo-8080`` ...), servers in the order given,
  with ``id N`` where the plane pins ids (``HaproxyBalance.ids``: one stable id per pod) and
  HAProxy's automatic ids (by position) otherwise;
- the balancing is the plane's translation of the candidate (``HaproxyBalance``, the one
  source): ``balance source``, ``uri``, ``uri whole`` or ``hdr(NAME)`` with ``hash-type
  consistent`` or ``map-based``; no hash -> ``balance roundrobin``; ``ewma`` ->
  ``leastconn`` or ``random(2)``; cookie affinity -> the ``cookie`` line (and
  ``dynamic-cookie-key``, or a ``cookie VALUE`` per server), ``haproxy_cookie``;
  ``service-upstream`` -> the servers given are the Service's address;
- no health checks: every server stays usable, as the placement model assumes;
- ``use-forwarded-headers: "true"`` -> the client address is the leftmost X-Forwarded-For
  address (``hdr_ip(x-forwarded-for,1)``: the first value of the first header line), as
  nginx's realip module with every peer trusted and ``real_ip_recursive on``;
- X-Real-IP and X-Forwarded-For passed upstream (an incoming X-Forwarded-For as it came, else
  the peer), WebSocket upgrades (HAProxy tunnels them by itself), the proxy timeouts and
  body size from annotations or ConfigMap, CORS headers with ``enable-cors``;
- routing by host and path like the nginx render: a host's own rules first, exact paths
  before prefixes, the longest prefix first, the earliest rule for a repeated path; Prefix
  ``/p`` matches ``/p`` and ``/p/...``; anything else answers 404 ``default backend - 404``;
  a backend without pods answers 503;
- a status frontend on its own port answering the config generation, so a reload is known
  to be served when a new connection sees the new generation;
- one worker process (``worker-processes`` sets its threads, ``nbthread``);
- logs (access log and HAProxy's own messages) to stdout, which the local backend keeps in
  the run folder, and a bounded soft stop (``hard-stop-after``) so old workers leave.

What HAProxy cannot do is a ``ConfigError`` naming it (a hash key it has no balance for, a
value that cannot be written into its configuration).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressbed.errors import ConfigError
from ingressbed.planes.base import Listen
from ingressbed.planes.settings import GENERATION_PATH, positive, seconds, setting, upstream_name
from ingressbed.vocabulary import Endpoint, Route, Setup

if TYPE_CHECKING:
    from ingressbed.planes.haproxy import HaproxyBalance

#: HAProxy's balances without a key: round robin, the least connections, the better of two
#: random servers by connections (haproxy-ingress's default).
ROUND_ROBIN, LEAST_CONN, RANDOM_TWO = "roundrobin", "leastconn", "random(2)"
UNKEYED = (ROUND_ROBIN, LEAST_CONN, RANDOM_TWO)

#: Backend of every request no rule routes.
DEFAULT_BACKEND = "default-404"
#: Longest an old worker may keep serving after a reload (it leaves sooner when its
#: connections end; idle keep-alive connections are closed at once).
HARD_STOP_SECONDS = 5
_SIZE = re.compile(r"(\d+)([kKmMgG]?)\Z")
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SAFE = re.compile(r"[A-Za-z0-9._~:/*%@!$&()+,;=-]+\Z")


@dataclass(frozen=True)
class _Rule:
    """One routing rule: requests matching ``match`` on ``path`` go to ``backend``."""

    exact: bool
    path: str
    backend: str

    def condition(self) -> str:
        if self.exact:
            return f"{{ path -m str {self.path} }}"
        return f"{{ path_beg {self.path} }}"


def _token(value: str, what: str) -> str:
    """``value`` as one word of HAProxy's config (paths and hosts need no quoting)."""
    if not _SAFE.match(value):
        raise ConfigError(f"{what} {value!r} cannot be written into HAProxy's configuration")
    return value


def _quoted(value: str, what: str) -> str:
    """``value`` as a single-quoted log-format string (``%`` doubled)."""
    if "'" in value or "\n" in value:
        raise ConfigError(f"{what} {value!r} cannot be written into HAProxy's configuration")
    return "'" + value.replace("%", "%%") + "'"


def body_limit(setup: Setup) -> int:
    """``proxy-body-size`` in bytes (0: no limit), as nginx's ``client_max_body_size``.

    Raises:
        ConfigError: not a size (``1m``, ``200k``, ``0``).
    """
    value = setting(setup, "proxy-body-size", "1m").strip()
    match = _SIZE.match(value)
    if not match:
        raise ConfigError(f"proxy-body-size {value!r} is not a size (e.g. 1m, 512k, 0)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def _rules(routes: Sequence[Route]) -> list[_Rule]:
    """nginx's location choice for one server: exact paths first, then the longest prefix;
    a path given twice keeps its earliest rule."""
    seen: dict[tuple[bool, str], _Rule] = {}
    for route in routes:
        path = _token(route.path or "/", "path")
        backend = upstream_name(route.service_port)
        if route.path_type == "Exact":
            wanted = [_Rule(True, path, backend)]
        elif route.path_type == "Prefix" and path != "/":
            trimmed = path.rstrip("/")
            wanted = [_Rule(True, trimmed, backend), _Rule(False, trimmed + "/", backend)]
        else:
            wanted = [_Rule(False, path, backend)]
        for rule in wanted:
            seen.setdefault((rule.exact, rule.path), rule)
    exact = [r for r in seen.values() if r.exact]
    prefixes = sorted((r for r in seen.values() if not r.exact), key=lambda r: -len(r.path))
    return exact + prefixes


def render_backend(
    setup: Setup, port: int, endpoints: Sequence[Endpoint], balance: HaproxyBalance
) -> str:
    """The ``backend hellogo-PORT`` section: balance, timeouts, CORS and the servers."""
    connect = seconds(setting(setup, "proxy-connect-timeout", "5"), "proxy-connect-timeout")
    send = seconds(setting(setup, "proxy-send-timeout", "60"), "proxy-send-timeout")
    read = seconds(setting(setup, "proxy-read-timeout", "60"), "proxy-read-timeout")
    lines = [f"backend {upstream_name(port)}", f"    balance {balance.method}"]
    if balance.hashed:
        lines.append(f"    hash-type {balance.hash_type}")
    cookie = balance.cookie
    if cookie is not None:
        lines.append(f"    {cookie.line()}")
        key_line = cookie.key_line()
        if key_line:
            lines.append(f"    {key_line}")
    lines += [
        f"    timeout connect {connect}",
        # HAProxy has one server-side inactivity timer for both directions; nginx has a read
        # and a send timeout. The server timer is the read timeout, the tunnel's the longer.
        f"    timeout server {read}",
        f"    timeout tunnel {max(read, send, key=_as_seconds)}",
    ]
    if (setup.ingress.annotation("enable-cors") or "").lower() == "true":
        origin = setup.ingress.annotation("cors-allow-origin") or "*"
        methods = (
            setup.ingress.annotation("cors-allow-methods")
            or "GET, PUT, POST, DELETE, PATCH, OPTIONS"
        )
        lines += [
            "    http-response set-header Access-Control-Allow-Origin "
            + _quoted(origin, "cors-allow-origin"),
            "    http-response set-header Access-Control-Allow-Methods "
            + _quoted(methods, "cors-allow-methods"),
        ]
    for endpoint, server_id in zip(endpoints, balance.ids(endpoints), strict=True):
        pinned = f" id {server_id}" if server_id is not None else ""
        value = cookie.server_option(endpoint) if cookie is not None else ""
        lines.append(f"    server {_server_name(endpoint)} {endpoint}{pinned}{value}")
    if not endpoints:
        lines.append("    # no pods: HAProxy answers 503")
    return "\n".join(lines)


def _as_seconds(value: str) -> int:
    return int(value[:-1]) * (60 if value.endswith("m") else 1)


def _server_name(endpoint: Endpoint) -> str:
    return "pod-" + endpoint.address.replace(":", "_")


def _frontend(setup: Setup, listen: Listen) -> list[str]:
    forwarded = setting(setup, "use-forwarded-headers", "false").lower() == "true"
    by_host: dict[str | None, list[Route]] = {}
    for route in setup.ingress.routes:
        by_host.setdefault(route.host or None, []).append(route)
    hosts = [_token(h, "host").lower() for h in by_host if h is not None]
    limit = body_limit(setup)
    lines = [
        "frontend ingress",
        f"    bind {listen.address}:{listen.port}",
    ]
    if forwarded:
        lines.append(
            "    http-request set-src hdr_ip(x-forwarded-for,1) "
            "if { req.hdr(x-forwarded-for) -m found }"
        )
    lines += [
        "    http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
        "    http-request set-header X-Forwarded-For %[src] "
        "unless { req.hdr(x-forwarded-for) -m found }",
        "    http-request set-header X-Real-IP %[src]",
        "    http-request set-header X-Forwarded-Host %[var(txn.host)]",
        "    http-request set-header X-Forwarded-Proto http",
    ]
    if limit:
        lines.append(
            f"    http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt {limit} }}"
        )
    for number, host in enumerate(hosts, start=1):
        lines.append(f"    acl host{number} var(txn.host) -m str {host}")
    if hosts:
        lines.append(f"    acl named_host var(txn.host) -m str {' '.join(hosts)}")
    for number, host in enumerate(hosts, start=1):
        for rule in _rules(by_host[host]):
            lines.append(f"    use_backend {rule.backend} if host{number} {rule.condition()}")
    other = "!named_host " if hosts else ""
    for rule in _rules(by_host.get(None, [])):
        lines.append(f"    use_backend {rule.backend} if {other}{rule.condition()}")
    lines.append(f"    default_backend {DEFAULT_BACKEND}")
    return lines


def render(
    setup: Setup,
    balance: HaproxyBalance,
    endpoints: Mapping[int, Sequence[Endpoint]],
    listen: Listen,
    run_dir: str,
    generation: int,
) -> str:
    """The whole haproxy.cfg for ``setup`` balanced as ``balance`` says, ``endpoints`` per
    hellogo port, listening on ``listen``.

    Raises:
        ConfigError: what HAProxy cannot do (named), or a plane that is not HAProxy.
    """
    if not balance.hashed and balance.method not in UNKEYED:
        raise ConfigError(f"HAProxy has no balance {balance.method!r}")
    threads = positive(setup, "worker-processes", "1")
    hosts = {r.host for r in setup.ingress.routes if r.host}
    # Hosts differing only in case are one host to nginx's server_name.
    if len({h.lower() for h in hosts}) != len(hosts):
        raise ConfigError(f"hosts differ only in case: {', '.join(sorted(hosts))}")
    parts = [
        "# Generated by ingressbed (local backend). Do not edit: rewritten on every change.",
        f"# generation {generation}",
        f"# data plane {balance.describe()}",
        f"# run folder {run_dir}",
        "global",
        "    log stdout format raw local0 info",
        f"    nbthread {threads}",
        f"    hard-stop-after {HARD_STOP_SECONDS}s",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        '    log-format "%ci \\"%[var(txn.host)]\\" \\"%r\\" %ST upstream=%si:%sp backend=%b"',
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 60s",
        "    timeout http-keep-alive 60s",
        "",
        *_frontend(setup, listen),
        "",
    ]
    for port in setup.ingress.ports:
        parts += [render_backend(setup, port, endpoints.get(port, ()), balance), ""]
    parts += [
        f"backend {DEFAULT_BACKEND}",
        "    http-request return status 404 content-type text/plain string 'default backend - 404'",
        "",
        "frontend status",
        f"    bind {listen.address}:{listen.status_port}",
        "    http-request set-log-level silent",
        "    http-request return status 200 content-type text/plain "
        f"string {generation} if {{ path {GENERATION_PATH} }}",
        "    http-request return status 404",
        "",
    ]
    return "\n".join(parts)
