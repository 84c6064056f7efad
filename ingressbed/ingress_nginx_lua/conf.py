"""Render nginx.conf for the local ingress-nginx data plane (pure: types in, text out).

The shape follows the controller's template, reduced to what balancing and affinity see:

- one ``upstream upstream_balancer`` whose only server is a placeholder; every location
  sets ``$proxy_upstream_name`` (the backend) and ``$location_path`` (the Ingress path as
  written), picks main or canary backend in the rewrite phase (503 when the backend has
  no balancer: not posted, or no endpoints) and proxies to the balancer, which picks the
  peer per try: 3 tries on error or timeout (``proxy_next_upstream``);
- the servers and locations the controller model builds (``ingressbed.controller``): each
  location's text after ``location`` (``Location.argument``) is the model's, in the model's
  order: this module decides none of the controller's location rules, it writes them; a
  rewrite target adds ``rewrite "(?i)PATH" TARGET break;``; a location of the default
  backend answers 404 ``default backend - 404``; the default server (``_``) always exists;
- ``use-forwarded-headers`` as the bed always sets it: the client address is the leftmost
  X-Forwarded-For entry from any IPv4 peer; X-Real-IP and X-Forwarded-For (the header plus
  the peer, as the controller sends it) go to the pod; WebSocket upgrade on every location;
- a status listener (``/generation``, ``/configuration/backends``, ``/sync``,
  ``/balancers``), see ``bed/config.lua``;
- HTTPS on a second port when ``tls`` is given (the balancer then sets Secure cookies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ingressbed.errors import ConfigError
from ingressbed.planes.base import Listen, LuaModules
from ingressbed.planes.settings import GENERATION_PATH

#: The bed's Lua modules (``bed/*.lua``), package data.
LUA_DIR = Path(__file__).resolve().parent / "lua"
#: The status listener's paths.
BACKENDS_PATH = "/configuration/backends"
SYNC_PATH = "/sync"
BALANCERS_PATH = "/balancers"
DEFAULT_SERVER = "_"
DEFAULT_BACKEND_ANSWER = "default backend - 404"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HOST = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_TARGET = re.compile(r"[^\s;{}\"'\\]+")


@dataclass(frozen=True)
class Location:
    """One nginx location, as the controller writes it.

    ``argument`` is the text after ``location`` (the controller model's
    ``Location.nginx``: ``"/p/"``, ``= "/p"``, ``~* "^/p"``); ``path`` the Ingress path as
    written (nginx's ``$location_path``, read by the cookie's default Path and the cookie
    locations list); ``backend`` the backend it sends to (``<namespace>-<service>-<port>``),
    empty for the default backend (404). ``rewrite`` a rewrite target (its pattern is
    ``path``). ``headers`` are added to every answer (CORS). Timeouts in seconds.
    """

    argument: str
    path: str
    backend: str = ""
    rewrite: str = ""
    connect_timeout: int = 5
    send_timeout: int = 60
    read_timeout: int = 60
    next_upstream_tries: int = 3
    body_size: str = "1m"
    headers: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def prefix(path: str, backend: str) -> tuple[Location, ...]:
        """The two locations the controller writes for a plain ``Prefix`` path on a server
        without regex locations: ``"/p/"`` and its exact twin ``= "/p"`` (``/``: one)."""
        if path == "/":
            return (Location('"/"', "/", backend),)
        base = path.rstrip("/")
        return (Location(f'"{base}/"', path, backend), Location(f'= "{base}"', path, backend))


@dataclass(frozen=True)
class Server:
    """A server block: a hostname (``_``: the default server) and its locations."""

    hostname: str
    locations: tuple[Location, ...] = ()


@dataclass(frozen=True)
class Tls:
    """HTTPS: the port (on the listen address) and the certificate and key files."""

    port: int
    certificate: str
    key: str


@dataclass(frozen=True)
class LuaConf:
    """Everything nginx.conf is rendered from.

    ``listen`` is the ingress address and port and the status port; ``run_dir`` holds
    the pid file, logs and temp folders; ``lua_dir`` the bed's Lua (``LUA_DIR``);
    ``generation`` is what ``/generation`` answers (one more per configuration change).
    """

    servers: tuple[Server, ...]
    listen: Listen
    run_dir: str
    modules: LuaModules
    lua_dir: str
    workers: int = 1
    generation: int = 1
    tls: Tls | None = None


def _quoted(text: str) -> str:
    """``text`` in double quotes, backslashes and quotes escaped (as the controller does)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(text: str) -> str:
    """A ``set`` value that nginx must not expand: every ``$`` as ``${bed_dollar}``."""
    return _quoted(text).replace("$", "${bed_dollar}")


def _check(conf: LuaConf) -> None:
    if conf.workers < 1:
        raise ConfigError(f"worker count {conf.workers} is not a positive number")
    seen: set[str] = set()
    for server in conf.servers:
        name = server.hostname
        if name != DEFAULT_SERVER and not _HOST.fullmatch(name):
            raise ConfigError(f"server name {name!r} is not a host name (or _ for the default)")
        if name in seen:
            raise ConfigError(f"server {name} is listed twice: give each host one Server")
        seen.add(name)
        arguments: set[str] = set()
        for location in server.locations:
            where = f"server {name}, location {location.argument}"
            if location.argument in arguments:
                raise ConfigError(f"{where}: listed twice; nginx refuses that: keep one of them")
            arguments.add(location.argument)
            if location.backend and not _NAME.fullmatch(location.backend):
                raise ConfigError(
                    f"{where}: backend name {location.backend!r} is not "
                    "letters, digits, '.', '_' and '-'"
                )
            if location.rewrite and not _TARGET.fullmatch(location.rewrite):
                raise ConfigError(
                    f"{where}: rewrite target {location.rewrite!r} holds blanks, quotes, "
                    "braces or ';'"
                )
            if location.next_upstream_tries < 1:
                raise ConfigError(f"{where}: proxy tries must be at least 1")


def _location(loc: Location) -> list[str]:
    if not loc.backend:
        return [
            f"        location {loc.argument} {{",
            f'            return 404 "{DEFAULT_BACKEND_ANSWER}\\n";',
            "        }",
        ]
    rewrite = (
        [f"            rewrite {_quoted('(?i)' + loc.path)} {loc.rewrite} break;"]
        if loc.rewrite
        else []
    )
    headers = [
        f"            add_header {name} {_quoted(value)} always;" for name, value in loc.headers
    ]
    return [
        f"        location {loc.argument} {{",
        f"            set $location_path {_literal(loc.path)};",
        f"            set $proxy_upstream_name {_quoted(loc.backend)};",
        '            set $proxy_alternative_upstream_name "";',
        '            rewrite_by_lua_block { require("bed.balancer").rewrite() }',
        '            log_by_lua_block { require("bed.balancer").log() }',
        f"            client_max_body_size {_quoted(loc.body_size)};",
        "            proxy_http_version 1.1;",
        "            proxy_buffering off;",
        "            proxy_set_header Host $http_host;",
        "            proxy_set_header Upgrade $http_upgrade;",
        "            proxy_set_header Connection $connection_upgrade;",
        "            proxy_set_header X-Real-IP $remote_addr;",
        "            proxy_set_header X-Forwarded-For $full_x_forwarded_for;",
        "            proxy_set_header X-Forwarded-Host $http_host;",
        "            proxy_set_header X-Forwarded-Proto $scheme;",
        f"            proxy_connect_timeout {loc.connect_timeout}s;",
        f"            proxy_send_timeout {loc.send_timeout}s;",
        f"            proxy_read_timeout {loc.read_timeout}s;",
        "            proxy_next_upstream error timeout;",
        "            proxy_next_upstream_timeout 0;",
        f"            proxy_next_upstream_tries {loc.next_upstream_tries};",
        *headers,
        *rewrite,
        "            proxy_pass http://upstream_balancer;",
        "        }",
    ]


def _server(server: Server, conf: LuaConf) -> list[str]:
    default = " default_server" if server.hostname == DEFAULT_SERVER else ""
    address = conf.listen.address
    lines = ["    server {", f"        listen {address}:{conf.listen.port}{default};"]
    if conf.tls is not None:
        lines.append(f"        listen {address}:{conf.tls.port} ssl{default};")
    lines.append(f"        server_name {server.hostname};")
    locations = list(server.locations)
    if not any(loc.argument in ('"/"', '~* "^/"') for loc in locations):
        locations.append(Location('"/"', "/"))  # the default backend answers the rest
    for loc in locations:
        lines += _location(loc)
    lines.append("    }")
    return lines


def _status(conf: LuaConf) -> list[str]:
    def lua(handler: str) -> str:
        return f'content_by_lua_block {{ require("bed.config").{handler}() }}'

    return [
        "    server {",
        f"        listen {conf.listen.address}:{conf.listen.status_port};",
        "        access_log off;",
        "        keepalive_timeout 0;",
        f'        location = {GENERATION_PATH} {{ return 200 "{conf.generation}"; }}',
        f"        location = {BACKENDS_PATH} {{",
        "            client_max_body_size 64m;",
        "            client_body_buffer_size 64m;",
        f"            {lua('backends')}",
        "        }",
        f"        location = {SYNC_PATH} {{ {lua('sync_state')} }}",
        f"        location = {BALANCERS_PATH} {{ {lua('balancers')} }}",
        "        location / { return 404; }",
        "    }",
    ]


def render(conf: LuaConf) -> str:
    """The whole nginx.conf.

    Args:
        conf: servers, listen addresses, folders, modules, workers and generation.

    Returns:
        The configuration text.

    Raises:
        ConfigError: a value nginx cannot take (named).
    """
    _check(conf)
    servers = list(conf.servers)
    if not any(s.hostname == DEFAULT_SERVER for s in servers):
        servers.insert(0, Server(DEFAULT_SERVER))
    lua_path = ";".join(f"{folder}/?.lua" for folder in (conf.lua_dir, *conf.modules.lua_path))
    lua_cpath = ";".join(f"{folder}/?.so" for folder in conf.modules.lua_cpath)
    run = conf.run_dir
    tls = (
        [
            f"    ssl_certificate {_quoted(conf.tls.certificate)};",
            f"    ssl_certificate_key {_quoted(conf.tls.key)};",
        ]
        if conf.tls is not None
        else []
    )
    parts = [
        "# Generated by ingressbed: the local ingress-nginx data plane (the bed's own Lua",
        "# balancer). Do not edit: rewritten on every change.",
        f"# generation {conf.generation}",
        f"load_module {conf.modules.ndk};",
        f"load_module {conf.modules.lua};",
        f"worker_processes {conf.workers};",
        f"pid {run}/nginx.pid;",
        f"error_log {run}/error.log warn;",
        "events { worker_connections 4096; }",
        "http {",
        f'    lua_package_path "{lua_path};;";',
        f'    lua_package_cpath "{lua_cpath};;";',
        "    lua_shared_dict bed_configuration 64m;",
        "    lua_shared_dict bed_ewma 8m;",
        '    init_by_lua_block { require("bed.balancer") require("bed.config") }',
        "    init_worker_by_lua_block {",
        f'        require("bed.balancer").init_worker({conf.generation})',
        "    }",
        '    log_format bed \'$remote_addr "$host" "$request" $status \'',
        "                   'upstream=$upstream_addr backend=$proxy_upstream_name '",
        "                   'canary=$proxy_alternative_upstream_name';",
        f"    access_log {run}/access.log bed buffer=64k flush=1s;",
        *(
            f"    {kind}_temp_path {run}/tmp/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
        "    keepalive_requests 10000;",
        "    server_tokens off;",
        "    server_names_hash_bucket_size 128;",
        '    geo $bed_dollar { default "$"; }',
        "    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
        "    map $http_x_forwarded_for $full_x_forwarded_for {",
        '        default "$http_x_forwarded_for, $realip_remote_addr";',
        "        '' $realip_remote_addr;",
        "    }",
        "    real_ip_header X-Forwarded-For;",
        "    real_ip_recursive on;",
        "    set_real_ip_from 0.0.0.0/0;",
        *tls,
        "    upstream upstream_balancer {",
        "        server 0.0.0.1; # placeholder: the Lua balancer sets every peer",
        '        balancer_by_lua_block { require("bed.balancer").balance() }',
        "        keepalive 320;",
        "    }",
    ]
    for server in servers:
        parts += _server(server, conf)
    parts += _status(conf)
    parts += ["}", ""]
    return "\n".join(parts)
