"""Envoy's files for a setup, and what Envoy's admin and log say about them (pure).

``render`` turns a setup and its translation (``EnvoyBalance``) into the files Envoy runs
with, shaped as Envoy Gateway shapes them (``ingressbed.envoy_config``): the bootstrap
(node, the admin listener on the run's status port, LDS and CDS read from files), then one
EDS file per cluster, CDS, RDS and LDS, the order in which the local backend writes them
(a cluster's endpoints exist before the cluster, a cluster before the routes to it). Per
hellogo Service port one cluster ``hellogo-<port>`` with the balance's load balancer; per
Ingress rule one route with the balance's hash policies, its session cookie, the route
timeout (``proxy-read-timeout``), the connect timeout (``proxy-connect-timeout``) and CORS
headers (``enable-cors``); the listener's client address is the balance's
ClientTrafficPolicy. Every xDS file carries the configuration generation as its version.

``in_force`` reads Envoy's ``/stats``: a generation is in force when every
``version_text`` (listeners, routes, clusters, each cluster's endpoints) shows it and no
cluster or listener is still warming. ``refusal`` reads Envoy's log: a file it did not
take is one line naming why.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ingressbed.envoy_config import (
    EnvoyCluster,
    EnvoyRoute,
    EnvoySetup,
    SessionCookie,
    eds_file,
    render_bootstrap,
    render_resources,
)
from ingressbed.planes.base import RunContext
from ingressbed.planes.settings import seconds, setting, upstream_name
from ingressbed.vocabulary import HELLOGO_PORTS, Endpoint, Route, Setup

if TYPE_CHECKING:
    from ingressbed.planes.envoy import EnvoyBalance

BOOTSTRAP = "bootstrap.yaml"
#: What diagnostics copy from the run folder.
DIAGNOSTIC_FILES: tuple[str, ...] = (
    BOOTSTRAP,
    "lds.yaml",
    "rds.yaml",
    "cds.yaml",
    *(eds_file(upstream_name(port)) for port in HELLOGO_PORTS),
    "envoy.log",
    "access.log",
)
#: The admin path ``in_force`` reads.
STATS_PATH = "/stats?filter=" + urllib.parse.quote(
    r"version_text$|warming_clusters$|total_listeners_warming$", safe=""
)
_WRITE_ORDER = ("eds-", "cds.yaml", "rds.yaml", "lds.yaml")
_WARMING = ("cluster_manager.warming_clusters", "listener_manager.total_listeners_warming")
_SUBSCRIPTIONS = (
    "listener_manager.lds.version_text",
    "cluster_manager.cds.version_text",
    "http.ingress.rds.ingress.version_text",
)


def _whole_seconds(text: str, what: str) -> int:
    """``60s`` or ``5m`` (``settings.seconds``) as whole seconds.

    Raises:
        ConfigError: not a number of seconds.
    """
    value = seconds(text, what)
    number = int(value[:-1])
    return number * 60 if value.endswith("m") else number


def _cors(setup: Setup) -> tuple[str, str] | None:
    if (setup.ingress.annotation("enable-cors") or "").lower() != "true":
        return None
    origin = setup.ingress.annotation("cors-allow-origin") or "*"
    methods = (
        setup.ingress.annotation("cors-allow-methods") or "GET, PUT, POST, DELETE, PATCH, OPTIONS"
    )
    return origin, methods


def _route(setup: Setup, route: Route, balance: EnvoyBalance, timeout: int) -> EnvoyRoute:
    path_type = "Exact" if route.path_type == "Exact" else "Prefix"
    session = None
    if balance.session is not None:
        # Envoy Gateway: the cookie's Path is the rule's path match.
        path = (route.path or "/").rstrip("/") or "/"
        session = SessionCookie(balance.session.name, path, balance.session.ttl)
    return EnvoyRoute(
        upstream_name(route.service_port),
        route.path or "/",
        path_type,
        route.host or None,
        balance.policies,
        timeout,
        _cors(setup),
        session,
    )


def envoy_setup(
    setup: Setup,
    balance: EnvoyBalance,
    peers: Mapping[int, Sequence[Endpoint]],
    run: RunContext,
) -> EnvoySetup:
    """What the files say for ``setup``: routes, clusters over ``peers`` (per Service port,
    in the balancer's order) and the client address.

    Raises:
        ConfigError: a timeout that is not a number of seconds.
    """
    read = _whole_seconds(setting(setup, "proxy-read-timeout", "60"), "proxy-read-timeout")
    connect = _whole_seconds(setting(setup, "proxy-connect-timeout", "5"), "proxy-connect-timeout")
    clusters = tuple(
        EnvoyCluster(
            upstream_name(port),
            tuple(peers.get(port, ())),
            balance.method,
            balance.table_size,
            balance.min_ring_size,
            connect,
        )
        for port in setup.ingress.ports
    )
    routes = tuple(_route(setup, route, balance, read) for route in setup.ingress.routes)
    return EnvoySetup(
        run.listen.address,
        run.listen.port,
        routes,
        clusters,
        balance.client,
        access_log=f"{run.run_dir}/access.log",
        real_ip=True,
        prompt_close=True,
    )


def render(
    setup: Setup,
    balance: EnvoyBalance,
    peers: Mapping[int, Sequence[Endpoint]],
    run: RunContext,
) -> dict[str, str]:
    """Envoy's files for ``setup``, the bootstrap first, then in the order to write them.

    Raises:
        ConfigError: a value Envoy cannot take (named).
    """
    files = render_resources(
        envoy_setup(setup, balance, peers, run), run.run_dir, str(run.generation)
    )
    ordered = {BOOTSTRAP: render_bootstrap(run.run_dir, run.listen.address, run.listen.status_port)}
    for prefix in _WRITE_ORDER:
        ordered.update({n: t for n, t in sorted(files.items()) if n.startswith(prefix)})
    return ordered


def stats(body: str) -> dict[str, str]:
    """Envoy's ``/stats`` text as name -> value (text readouts without their quotes)."""
    found = {}
    for line in body.splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            found[name.strip()] = value.strip().strip('"')
    return found


def in_force(body: str | None, generation: int) -> bool:
    """Whether ``STATS_PATH``'s answer shows ``generation`` in force everywhere.

    Args:
        body: the answer (None: the admin did not answer).
        generation: the configuration generation written last.
    """
    if body is None:
        return False
    found = stats(body)
    wanted = str(generation)
    if any(found.get(name) != wanted for name in _SUBSCRIPTIONS):
        return False
    if any(found.get(name, "0") != "0" for name in _WARMING):
        return False
    clusters = [v for k, v in found.items() if k.startswith("cluster.") and k.endswith("_text")]
    return all(value == wanted for value in clusters)


_RECORD = re.compile(r"^\[\d{4}-\d\d-\d\d ")
_FILE_FAILURE = re.compile(r"config update failure: in (\S+?), (.*)", re.S)
_FILES_BY_WORDS = (
    ("cluster(s)", "cds.yaml"),
    ("listener(s)", "lds.yaml"),
    ("RouteConfiguration", "rds.yaml"),
    ("ClusterLoadAssignment", "an EDS file"),
)


def _records(log: str) -> list[str]:
    records: list[str] = []
    for line in log.splitlines():
        if _RECORD.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


_UNPARSED = re.compile(r"@ (\S+): message (\S+), near [^:]*:[^:]*:\s*(.*?)\): \{", re.S)


def _short(reason: str) -> str:
    """One line of an Envoy reason: a dumped proto or JSON body cut away, the innermost
    ``caused by`` of a validation error kept, the field a file could not be read at."""
    if "Proto constraint validation failed" in reason:
        inner = reason.rsplit("caused by ", 1)[-1].strip().rstrip(")")
        return "Proto constraint validation failed: " + " ".join(inner.split())
    # Envoy varies the blanks in these messages from run to run: one blank each.
    unparsed = _UNPARSED.search(" ".join(reason.split()))
    if unparsed:
        field, kind, what = unparsed.groups()
        where = field.split(".<any>.", 1)[-1]
        return f"cannot read {where} ({kind}): {' '.join(what.split())}"
    reason = reason.split("): {", 1)[0] + (")" if "): {" in reason else "")
    return " ".join(reason.split())


def refusal(log: str) -> str | None:
    """The first file Envoy refused in ``log`` and why, in one line; None if none.

    Args:
        log: Envoy's log text (what it wrote since the files were replaced).
    """
    for record in _records(log):
        failure = _FILE_FAILURE.search(record)
        if failure:
            name = failure.group(1).rsplit("/", 1)[-1]
            return f"{name}: {_short(failure.group(2))}"
        _, mark, reason = record.partition("config update rejected: ")
        if mark:
            named = next((file for words, file in _FILES_BY_WORDS if words in reason), "")
            return f"{named + ': ' if named else ''}{_short(reason)}"
    return None
