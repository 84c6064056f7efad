"""Envoy's configuration files, shaped as Envoy Gateway shapes them (pure: data in, text out).

``render_bootstrap`` writes the file Envoy starts with (node, admin, and LDS and CDS read
from files); ``render_resources`` writes the xDS files, one DiscoveryResponse each:

- ``lds.yaml``: one listener; its HTTP connection manager takes the routes over RDS and
  has Envoy Gateway's path settings (``normalize_path``, ``merge_slashes``,
  ``path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT``), WebSocket upgrades and the
  client-address settings of the ClientTrafficPolicy the ``ClientDetection`` stands for;
- ``rds.yaml``: one route configuration, a virtual host per host name plus ``*``; within
  one, exact paths first, then prefixes longest first; a prefix ``/p`` matches ``/p`` and
  ``/p/...`` (Gateway API's PathPrefix, Envoy's ``path_separated_prefix``); each route has
  its hash policies, timeout and CORS headers, and where it has one its session cookie
  (Gateway API's ``sessionPersistence``: the stateful-session filter, off in the listener
  and turned on per route, as Envoy Gateway writes it);
- ``cds.yaml``: the clusters, each with its load-balancing policy (Maglev with its table
  size, ring hash with its minimum ring, round robin, least request) and its endpoints
  over EDS;
- ``eds-<cluster>.yaml``: each cluster's endpoints, weight 1 each.

Every file is YAML; file paths inside point into ``folder``. The ``version`` string is
each file's ``version_info``: Envoy reports it in its ``*.version_text`` stats once the
file is in force.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import yaml

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_maglev import DEFAULT_TABLE_SIZE, check_table_size
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.placement.envoy_ringhash import DEFAULT_MIN_RING_SIZE
from ingressbed.vocabulary import Endpoint

#: Load balancers a cluster may have.
CLUSTER_LBS: tuple[str, ...] = ("maglev", "ring-hash", "round-robin", "least-request")
#: The route configuration's name (and the HCM's stat prefix).
ROUTE_CONFIG = "ingress"
STAT_PREFIX = "ingress"
LISTENER = "ingress"
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_API = "type.googleapis.com/envoy."
_LB_TYPES = {
    "maglev": ("maglev", "maglev.v3.Maglev"),
    "ring-hash": ("ring_hash", "ring_hash.v3.RingHash"),
    "round-robin": ("round_robin", "round_robin.v3.RoundRobin"),
    "least-request": ("least_request", "least_request.v3.LeastRequest"),
}


@dataclass(frozen=True)
class EnvoyCluster:
    """One upstream cluster: its endpoints (EDS order) and its load balancer."""

    name: str
    endpoints: tuple[Endpoint, ...]
    lb: str = "maglev"
    table_size: int = DEFAULT_TABLE_SIZE
    min_ring_size: int = DEFAULT_MIN_RING_SIZE
    connect_timeout_s: int = 5


@dataclass(frozen=True)
class SessionCookie:
    """A route's session cookie (stateful session): it names the ``ip:port`` of the host
    that answered, and later requests carrying it go there.

    ``ttl`` in seconds (None: a cookie for the browser session, no expiry); ``path`` the
    cookie's Path (Envoy Gateway: the route's path match).
    """

    name: str
    path: str = "/"
    ttl: int | None = None


@dataclass(frozen=True)
class EnvoyRoute:
    """One routing rule: requests for ``host`` (None: any) on ``path`` go to ``cluster``.

    ``path_type`` is ``Prefix`` or ``Exact``; ``hash_policies`` the route's hash policies
    in order; ``timeout_s`` the route timeout; ``cors`` the allowed origin and methods
    (None: no CORS headers); ``session`` the stateful session's cookie (None: none).
    """

    cluster: str
    path: str = "/"
    path_type: str = "Prefix"
    host: str | None = None
    hash_policies: tuple[HashPolicy, ...] = ()
    timeout_s: int = 60
    cors: tuple[str, str] | None = None
    session: SessionCookie | None = None


@dataclass(frozen=True)
class EnvoySetup:
    """Everything the xDS files say: the listener address, routes, clusters, client.

    ``real_ip``: every route sets X-Real-IP to the client address Envoy found (Envoy
    Gateway does not; the bed's pods show it, as behind the other data planes).
    ``prompt_close``: close a connection as soon as its last bytes are written
    (``delayed_close_timeout: 0s``; Envoy's default waits up to a second for the client to
    close first, which made every WebSocket session of the bed last a second).
    """

    listen_address: str
    listen_port: int
    routes: tuple[EnvoyRoute, ...]
    clusters: tuple[EnvoyCluster, ...]
    client: ClientDetection = field(default_factory=ClientDetection)
    access_log: str | None = None
    real_ip: bool = False
    prompt_close: bool = False


def _address(ip: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": ip, "port_value": port}}


def _response(type_url: str, version: str, resources: list[dict[str, Any]]) -> str:
    typed = [{"@type": _API + type_url, **resource} for resource in resources]
    return yaml.safe_dump({"version_info": version, "resources": typed}, sort_keys=False)


def _file_source(path: str) -> dict[str, Any]:
    return {"resource_api_version": "V3", "path_config_source": {"path": path}}


def render_bootstrap(folder: str, admin_address: str, admin_port: int) -> str:
    """The bootstrap file: node, admin on ``admin_address:admin_port``, LDS and CDS files.

    Args:
        folder: the absolute folder holding the xDS files.
        admin_address: the admin listener's IP.
        admin_port: its port.

    Returns:
        The YAML text.
    """
    data = {
        "node": {"id": "ingressbed", "cluster": "ingressbed"},
        "admin": {"address": _address(admin_address, admin_port)},
        "dynamic_resources": {
            "lds_config": _file_source(f"{folder}/lds.yaml"),
            "cds_config": _file_source(f"{folder}/cds.yaml"),
        },
    }
    return yaml.safe_dump(data, sort_keys=False)


def client_settings(client: ClientDetection) -> dict[str, Any]:
    """The HCM fields Envoy Gateway writes for a ClientTrafficPolicy's clientIPDetection.

    Args:
        client: the setting.

    Returns:
        ``use_remote_address`` and, with X-Forwarded-For trusted, the ``xff`` extension.
    """
    if client.mode == "tcp-peer":
        return {"use_remote_address": True}
    xff: dict[str, Any] = {"@type": _API + "extensions.http.original_ip_detection.xff.v3.XffConfig"}
    if client.mode == "xff-hops":
        xff["xff_num_trusted_hops"] = (client.trusted_hops or 1) - 1
    else:
        xff["xff_trusted_cidrs"] = {
            "cidrs": [
                {"address_prefix": str(net.network_address), "prefix_len": net.prefixlen}
                for net in client.networks()
            ]
        }
    return {
        "use_remote_address": False,
        "original_ip_detection_extensions": [
            {"name": "envoy.extensions.http.original_ip_detection.xff", "typed_config": xff}
        ],
    }


def _policy(policy: HashPolicy) -> dict[str, Any]:
    if policy.kind == "source-ip":
        return {"connection_properties": {"source_ip": True}}
    if policy.kind == "header":
        return {"header": {"header_name": policy.name}}
    if policy.kind == "query":
        return {"query_parameter": {"name": policy.name}}
    cookie: dict[str, Any] = {"name": policy.name}
    if policy.ttl is not None:
        cookie["ttl"] = f"{policy.ttl}s"
    return {"cookie": cookie}


def _match(route: EnvoyRoute) -> dict[str, Any]:
    path = route.path or "/"
    if not path.startswith("/"):
        raise ConfigError(f"route path {path!r} must start with '/'")
    # Taken literally, as the other local data planes take it: what a request path cannot
    # hold as written (?, #, blanks, %) is matched in its percent-encoded form.
    path = quote(path, safe=_PATH_SAFE)
    if route.path_type == "Exact":
        return {"path": path}
    if route.path_type != "Prefix":
        raise ConfigError(f"path type {route.path_type!r}: Envoy routes here take Prefix or Exact")
    trimmed = path.rstrip("/")
    return {"prefix": "/"} if not trimmed else {"path_separated_prefix": trimmed}


_SESSION_FILTER = "envoy.filters.http.stateful_session"
_SESSION_API = _API + "extensions.filters.http.stateful_session.v3."
_COOKIE_STATE = _API + "extensions.http.stateful_session.cookie.v3.CookieBasedSessionState"


def _session(cookie: SessionCookie) -> dict[str, Any]:
    """The per-route stateful session: the cookie-based session state."""
    if not _NAME.match(cookie.name):
        raise ConfigError(f"session cookie name {cookie.name!r}: letters, digits, '_', '.', '-'")
    spec: dict[str, Any] = {"name": cookie.name, "path": cookie.path}
    if cookie.ttl is not None:
        spec["ttl"] = f"{cookie.ttl}s"
    state = {
        "name": "envoy.http.stateful_session.cookie",
        "typed_config": {"@type": _COOKIE_STATE, "cookie": spec},
    }
    return {
        "@type": _SESSION_API + "StatefulSessionPerRoute",
        "stateful_session": {"session_state": state},
    }


def _route(route: EnvoyRoute, real_ip: bool = False) -> dict[str, Any]:
    action: dict[str, Any] = {"cluster": route.cluster, "timeout": f"{route.timeout_s}s"}
    if route.hash_policies:
        action["hash_policy"] = [_policy(policy) for policy in route.hash_policies]
    entry: dict[str, Any] = {"match": _match(route), "route": action}
    if real_ip:
        entry["request_headers_to_add"] = [
            {
                "header": {"key": "X-Real-IP", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ]
    if route.cors is not None:
        origin, methods = route.cors
        entry["response_headers_to_add"] = [
            {"header": {"key": "Access-Control-Allow-Origin", "value": origin}},
            {"header": {"key": "Access-Control-Allow-Methods", "value": methods}},
        ]
    if route.session is not None:
        entry["typed_per_filter_config"] = {_SESSION_FILTER: _session(route.session)}
    return entry


def _ordered(routes: Sequence[EnvoyRoute]) -> list[EnvoyRoute]:
    """Exact paths first, then prefixes longest first; the earliest rule of a path wins."""
    seen: dict[tuple[str, str], EnvoyRoute] = {}
    for route in routes:
        seen.setdefault((route.path_type, (route.path or "/").rstrip("/") or "/"), route)
    exact = [r for r in seen.values() if r.path_type == "Exact"]
    prefixes = [r for r in seen.values() if r.path_type != "Exact"]
    prefixes.sort(key=lambda r: -len((r.path or "/").rstrip("/")))
    return exact + prefixes


def _virtual_hosts(routes: Sequence[EnvoyRoute], real_ip: bool = False) -> list[dict[str, Any]]:
    by_host: dict[str | None, list[EnvoyRoute]] = {}
    for route in routes:
        key = route.host.lower() if route.host else None
        if key is not None and not re.fullmatch(r"[a-z0-9.-]+", key):
            raise ConfigError(f"host {route.host!r} is not a host name")
        by_host.setdefault(key, []).append(route)
    hosts = []
    for number, (host, rules) in enumerate(sorted(by_host.items(), key=lambda i: i[0] or "")):
        domains = ["*"] if host is None else [host, f"{host}:*"]
        hosts.append(
            {
                "name": f"vh{number}-{host or 'any'}",
                "domains": domains,
                "routes": [_route(rule, real_ip) for rule in _ordered(rules)],
            }
        )
    # Envoy matches the most specific domain; "*" is the catch-all, written last.
    return sorted(hosts, key=lambda vh: vh["domains"] == ["*"])


def _cluster(cluster: EnvoyCluster, folder: str) -> dict[str, Any]:
    if not _NAME.match(cluster.name):
        raise ConfigError(f"cluster name {cluster.name!r}: letters, digits, '_', '.', '-'")
    if cluster.lb not in _LB_TYPES:
        raise ConfigError(f"cluster {cluster.name}: lb {cluster.lb!r} is not one of {CLUSTER_LBS}")
    short, type_name = _LB_TYPES[cluster.lb]
    config: dict[str, Any] = {"@type": _API + "extensions.load_balancing_policies." + type_name}
    if cluster.lb == "maglev":
        config["table_size"] = check_table_size(cluster.table_size)
    elif cluster.lb == "ring-hash":
        config["minimum_ring_size"] = cluster.min_ring_size
    return {
        "name": cluster.name,
        "type": "EDS",
        "eds_cluster_config": {
            "service_name": cluster.name,
            "eds_config": _file_source(f"{folder}/{eds_file(cluster.name)}"),
        },
        "connect_timeout": f"{cluster.connect_timeout_s}s",
        "load_balancing_policy": {
            "policies": [
                {
                    "typed_extension_config": {
                        "name": f"envoy.load_balancing_policies.{short}",
                        "typed_config": config,
                    }
                }
            ]
        },
    }


def _assignment(cluster: EnvoyCluster) -> dict[str, Any]:
    lb_endpoints = []
    for endpoint in cluster.endpoints:
        ip = str(ipaddress.ip_address(endpoint.address))
        lb_endpoints.append(
            {"endpoint": {"address": _address(ip, endpoint.port)}, "load_balancing_weight": 1}
        )
    return {
        "cluster_name": cluster.name,
        "endpoints": [{"lb_endpoints": lb_endpoints}] if lb_endpoints else [],
    }


def eds_file(cluster: str) -> str:
    """The EDS file name of a cluster."""
    return f"eds-{cluster}.yaml"


def _session_filter(setup: EnvoySetup) -> list[dict[str, Any]]:
    """The stateful-session filter, off for every route but those with a session cookie
    (each turns it on in its own ``typed_per_filter_config``); none without such a route."""
    if not any(route.session is not None for route in setup.routes):
        return []
    return [
        {
            "name": _SESSION_FILTER,
            "disabled": True,
            "typed_config": {"@type": _SESSION_API + "StatefulSession"},
        }
    ]


def _listener(setup: EnvoySetup, folder: str) -> dict[str, Any]:
    manager: dict[str, Any] = {
        "@type": _API + "extensions.filters.network.http_connection_manager.v3."
        "HttpConnectionManager",
        "stat_prefix": STAT_PREFIX,
        "rds": {
            "route_config_name": ROUTE_CONFIG,
            "config_source": _file_source(f"{folder}/rds.yaml"),
        },
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
        **client_settings(setup.client),
        "upgrade_configs": [{"upgrade_type": "websocket"}],
        "http_filters": [
            *_session_filter(setup),
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _API + "extensions.filters.http.router.v3.Router"},
            },
        ],
    }
    if setup.prompt_close:
        manager["delayed_close_timeout"] = "0s"
    if setup.access_log:
        manager["access_log"] = [
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": _API + "extensions.access_loggers.file.v3.FileAccessLog",
                    "path": setup.access_log,
                    "log_format": {
                        "text_format_source": {
                            "inline_string": "%DOWNSTREAM_REMOTE_ADDRESS% %REQ(:AUTHORITY)% "
                            '"%REQ(:METHOD)% %REQ(:PATH)%" %RESPONSE_CODE% '
                            "upstream=%UPSTREAM_HOST% cluster=%UPSTREAM_CLUSTER%\n"
                        }
                    },
                },
            }
        ]
    return {
        "name": LISTENER,
        "address": _address(setup.listen_address, setup.listen_port),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }


def render_resources(setup: EnvoySetup, folder: str, version: str) -> dict[str, str]:
    """The xDS files for ``setup``.

    Args:
        setup: what to serve.
        folder: the absolute folder the files live in (paths inside point there).
        version: every file's ``version_info``.

    Returns:
        File name -> YAML text: ``lds.yaml``, ``rds.yaml``, ``cds.yaml`` and one
        ``eds-<cluster>.yaml`` per cluster.

    Raises:
        ConfigError: a route to an unknown cluster, a cluster twice, a bad name, path,
            host or table size.
    """
    names = [cluster.name for cluster in setup.clusters]
    if len(set(names)) != len(names):
        raise ConfigError("a cluster name is given twice")
    for route in setup.routes:
        if route.cluster not in names:
            raise ConfigError(f"route {route.path} goes to unknown cluster {route.cluster!r}")
    route_config = {
        "name": ROUTE_CONFIG,
        "virtual_hosts": _virtual_hosts(setup.routes, setup.real_ip),
    }
    files = {
        "lds.yaml": _response("config.listener.v3.Listener", version, [_listener(setup, folder)]),
        "rds.yaml": _response("config.route.v3.RouteConfiguration", version, [route_config]),
        "cds.yaml": _response(
            "config.cluster.v3.Cluster", version, [_cluster(c, folder) for c in setup.clusters]
        ),
    }
    for cluster in setup.clusters:
        files[eds_file(cluster.name)] = _response(
            "config.endpoint.v3.ClusterLoadAssignment", version, [_assignment(cluster)]
        )
    return files
