"""Render plain nginx's configuration from a ``Setup`` (pure: text in, text out).

What is rendered and how it matches ingress-nginx:

- one upstream per hellogo Service port (``hellogo-8080`` ...), like the controller's
  ``<namespace>-hellogo-<port>`` backends, endpoints in the order given;
- the balancing is the data plane's translation of the candidate (``NginxBalance``, the
  one source): ``nginx`` renders ``upstream-hash-by: EXPR`` as ``hash EXPR consistent``,
  ``nginx:hash`` as ``hash EXPR``, ``nginx:ip-hash`` as ``ip_hash``; no hash -> round robin;
  ``ewma`` -> ``least_conn``; ``service-upstream`` -> the servers given are the Service's
  address;
  ``max_fails=0`` on every server, so nginx never skips a peer (ingress-nginx's balancer
  never does); ``worker-processes`` defaults to 1 for exact counts;
- ``use-forwarded-headers: "true"`` -> the client address is taken from X-Forwarded-For,
  trusting every IPv4 peer, leftmost address winning (``real_ip_recursive on``);
- X-Real-IP and X-Forwarded-For passed upstream, WebSocket upgrade on every location,
  upstream keep-alive, the proxy timeouts and body size from annotations or ConfigMap;
- Prefix paths like the controller: ``location = /p`` and ``location /p/``;
- a status server on its own port answering the config generation, so a reload is
  known to be served when a new connection sees the new generation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ingressbed.errors import ConfigError
from ingressbed.planes.base import Listen
from ingressbed.planes.settings import GENERATION_PATH, positive, seconds, setting, upstream_name
from ingressbed.vocabulary import Endpoint, Route, Setup

if TYPE_CHECKING:
    from ingressbed.planes.nginx import NginxBalance

#: nginx's upstream methods, as the nginx planes name them.
HASH_CONSISTENT, HASH, IP_HASH, ROUND_ROBIN = "hash-consistent", "hash", "ip-hash", "round-robin"
LEAST_CONN = "least-conn"
#: The methods without a key.
UNKEYED = (ROUND_ROBIN, LEAST_CONN)


def _quote(value: str) -> str:
    """Quote a value for nginx's config language."""
    if not value or any(c in value for c in " \t;{}\"'\\#"):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return value


def balance_line(balance: NginxBalance) -> str | None:
    """The upstream's balancing directive for ``balance`` (None: round robin).

    Raises:
        ConfigError: a method plain nginx does not have.
    """
    if balance.method == ROUND_ROBIN:
        return None
    if balance.method == IP_HASH:
        return "ip_hash;"
    if balance.method == LEAST_CONN:
        return "least_conn;"
    if balance.method in (HASH, HASH_CONSISTENT) and balance.hash_by:
        consistent = " consistent" if balance.method == HASH_CONSISTENT else ""
        return f"hash {_quote(balance.hash_by)}{consistent};"
    raise ConfigError(f"nginx has no balancing for {balance.describe()!r}")


def render_upstream(port: int, endpoints: Sequence[Endpoint], balance: NginxBalance) -> str:
    lines = [f"    upstream {upstream_name(port)} {{"]
    method = balance_line(balance)
    if method:
        lines.append(f"        {method}")
    if endpoints:
        lines += [f"        server {ep} max_fails=0;" for ep in endpoints]
    else:
        # No pod: like a backend without endpoints, answer 503.
        lines.append("        server 127.255.255.254:1 down;")
    lines.append("        keepalive 64;")
    lines.append("    }")
    return "\n".join(lines)


def _locations(route: Route) -> list[str]:
    path = route.path or "/"
    if route.path_type == "Exact":
        return [f"= {path}"]
    if route.path_type == "Prefix" and path != "/":
        trimmed = path.rstrip("/")
        return [f"= {trimmed}", f"{trimmed}/"]
    return [path]


def _cors(setup: Setup) -> list[str]:
    if (setup.ingress.annotation("enable-cors") or "").lower() != "true":
        return []
    origin = setup.ingress.annotation("cors-allow-origin") or "*"
    methods = (
        setup.ingress.annotation("cors-allow-methods") or "GET, PUT, POST, DELETE, PATCH, OPTIONS"
    )
    return [
        f"            add_header Access-Control-Allow-Origin {_quote(origin)} always;",
        f"            add_header Access-Control-Allow-Methods {_quote(methods)} always;",
    ]


def render_location(setup: Setup, route: Route, location: str) -> str:
    connect = seconds(setting(setup, "proxy-connect-timeout", "5"), "proxy-connect-timeout")
    send = seconds(setting(setup, "proxy-send-timeout", "60"), "proxy-send-timeout")
    read = seconds(setting(setup, "proxy-read-timeout", "60"), "proxy-read-timeout")
    body = setting(setup, "proxy-body-size", "1m")
    lines = [
        f"        location {location} {{",
        f"            client_max_body_size {_quote(body)};",
        f"            proxy_connect_timeout {connect};",
        f"            proxy_send_timeout {send};",
        f"            proxy_read_timeout {read};",
        "            proxy_http_version 1.1;",
        "            proxy_buffering off;",
        "            proxy_set_header Host $host;",
        "            proxy_set_header Upgrade $http_upgrade;",
        "            proxy_set_header Connection $connection_upgrade;",
        "            proxy_set_header X-Real-IP $remote_addr;",
        "            proxy_set_header X-Forwarded-For $bed_forwarded_for;",
        "            proxy_set_header X-Forwarded-Host $host;",
        "            proxy_set_header X-Forwarded-Proto $scheme;",
        *_cors(setup),
        f"            proxy_pass http://{upstream_name(route.service_port)};",
        "        }",
    ]
    return "\n".join(lines)


def render_server(setup: Setup, host: str | None, routes: Sequence[Route], listen: Listen) -> str:
    default = " default_server" if host is None else ""
    lines = [
        "    server {",
        f"        listen {listen.address}:{listen.port}{default};",
        f"        server_name {_quote(host) if host else '_'};",
    ]
    seen: set[str] = set()
    for route in routes:
        for location in _locations(route):
            if location in seen:
                continue  # the earliest rule wins, as in the controller
            seen.add(location)
            lines.append(render_location(setup, route, location))
    if host is None and "/" not in seen:
        lines.append('        location / { return 404 "default backend - 404\\n"; }')
    lines.append("    }")
    return "\n".join(lines)


def render(
    setup: Setup,
    balance: NginxBalance,
    endpoints: Mapping[int, Sequence[Endpoint]],
    listen: Listen,
    run_dir: str,
    generation: int,
) -> str:
    """The whole nginx.conf for ``setup`` balanced as ``balance`` says, ``endpoints`` per
    hellogo port.

    Raises:
        ConfigError: a value nginx cannot take (named), or a plane that is not nginx.
    """
    workers = positive(setup, "worker-processes", "1")
    forwarded = setting(setup, "use-forwarded-headers", "false").lower() == "true"

    by_host: dict[str | None, list[Route]] = {}
    for route in setup.ingress.routes:
        by_host.setdefault(route.host or None, []).append(route)
    by_host.setdefault(None, [])

    realip = (
        [
            "    real_ip_header X-Forwarded-For;",
            "    set_real_ip_from 0.0.0.0/0;",
            "    real_ip_recursive on;",
        ]
        if forwarded
        else []
    )
    parts = [
        "# Generated by ingressbed (local backend). Do not edit: rewritten on every change.",
        f"# generation {generation}",
        f"# data plane {balance.describe()}",
        f"worker_processes {workers};",
        f"pid {run_dir}/nginx.pid;",
        f"error_log {run_dir}/error.log warn;",
        "events { worker_connections 4096; }",
        "http {",
        '    log_format bed \'$remote_addr "$host" "$request" $status \'',
        "                   'upstream=$upstream_addr cache=$upstream_http_x_cache_status';",
        f"    access_log {run_dir}/access.log bed buffer=64k flush=1s;",
        f"    client_body_temp_path {run_dir}/tmp/body;",
        f"    proxy_temp_path {run_dir}/tmp/proxy;",
        f"    fastcgi_temp_path {run_dir}/tmp/fastcgi;",
        f"    uwsgi_temp_path {run_dir}/tmp/uwsgi;",
        f"    scgi_temp_path {run_dir}/tmp/scgi;",
        "    keepalive_requests 10000;",
        "    server_tokens off;",
        "    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
        "    map $http_x_forwarded_for $bed_forwarded_for {",
        "        default $http_x_forwarded_for;",
        "        '' $remote_addr;",
        "    }",
        *realip,
    ]
    for port in setup.ingress.ports:
        parts.append(render_upstream(port, endpoints.get(port, ()), balance))
    for host, routes in by_host.items():
        parts.append(render_server(setup, host, routes, listen))
    parts += [
        "    server {",
        f"        listen {listen.address}:{listen.status_port};",
        f'        location = {GENERATION_PATH} {{ return 200 "{generation}"; }}',
        "        location / { return 404; }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(parts)
