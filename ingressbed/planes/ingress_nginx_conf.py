"""The local ingress-nginx plane's configuration: the controller's step, then its data plane
(pure).

A setup goes through the controller model (``ingressbed.controller.build``: Ingresses and
Services to servers, locations and backends, with ingress-nginx's merge rules and every
annotation it ignores or refuses noted) and comes out as what the real controller would
hand its nginx: the nginx.conf of the bed's Lua data plane (``ingress_nginx_lua.conf``) and
the backends document it posts (``controller.to_backends_json``). Nothing here decides a
controller rule; it writes the model's decisions down.

What the model does not model is refused in one line, never served as something else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ingressbed import controller
from ingressbed.errors import ConfigError
from ingressbed.ingress_nginx_lua.conf import (
    BACKENDS_PATH,
    LUA_DIR,
    SYNC_PATH,
    Location,
    LuaConf,
    Server,
    render,
)
from ingressbed.ingress_nginx_lua.sync import parse_state
from ingressbed.planes.base import Post, RunContext, ServicePort
from ingressbed.planes.settings import positive, seconds
from ingressbed.vocabulary import ANNOTATION_PREFIX, SERVICE_NAME, Endpoint, Setup

#: The namespace the local plane builds its backends in (their names: default-hellogo-8080).
NAMESPACE = "default"
#: ``cors-allow-methods`` when not given, as the controller writes it.
CORS_METHODS = "GET, PUT, POST, DELETE, PATCH, OPTIONS"


def objects(
    setup: Setup, service_address: str = ""
) -> tuple[tuple[controller.Ingress, ...], tuple[controller.Service, ...]]:
    """The Ingresses (oldest first) and Services of ``setup`` as the controller sees them:
    the report's own (``Setup.ingresses``), else its one Ingress on hellogo's Service. Each
    Service gets ``service_address`` as its ClusterIP (service-upstream sends there)."""
    if setup.ingresses:
        services = tuple(replace(s, cluster_ip=service_address) for s in setup.services)
        return setup.ingresses, services
    ingress, service = controller.from_ingress_spec(
        setup.ingress, namespace=NAMESPACE, cluster_ip=service_address
    )
    return (ingress,), (service,)


def configuration(
    setup: Setup,
    endpoints: Mapping[int, Sequence[Endpoint]],
    service_address: str = "",
    *,
    service_endpoints: Mapping[tuple[str, int], Sequence[Endpoint]] | None = None,
    version: str | None = None,
) -> controller.Configuration:
    """What the controller builds for ``setup`` with hellogo's ``endpoints`` per port, or
    (a setup with its own objects) ``service_endpoints`` per (Service, Service port).

    Raises:
        ConfigError: an Ingress the controller refuses, or what the model does not model
            (named, with the Ingress and annotation).
    """
    ingresses, services = objects(setup, service_address)
    if setup.ingresses:
        found = {
            (NAMESPACE, name, port): tuple(eps)
            for (name, port), eps in (service_endpoints or {}).items()
        }
    else:
        found = {(NAMESPACE, SERVICE_NAME, port): tuple(eps) for port, eps in endpoints.items()}
    config = controller.build(ingresses, services, found, dict(setup.controller), version=version)
    refused = [*config.rejected, *config.unmodelled]
    if refused:
        raise ConfigError(f"the local ingress-nginx plane cannot serve this setup: {refused[0]}")
    return config


def _setting(
    annotations: Mapping[str, str], configmap: Mapping[str, str], key: str, default: str
) -> str:
    """An Ingress's annotation, else the ConfigMap key of the same name, else ``default``."""
    value = annotations.get(ANNOTATION_PREFIX + key, configmap.get(key))
    return default if value is None else str(value)


def _seconds(
    annotations: Mapping[str, str], configmap: Mapping[str, str], key: str, default: str
) -> int:
    text = seconds(_setting(annotations, configmap, key, default), key)
    return int(text[:-1]) * (60 if text.endswith("m") else 1)


def _location(
    location: controller.Location, annotations: Mapping[str, str], configmap: Mapping[str, str]
) -> Location:
    """The conf's location for one of the model's: its nginx text, and the settings of the
    Ingress it came from (timeouts, body size, CORS), as the controller writes them."""
    if location.is_default_backend:
        return Location(location.nginx, location.ingress_path)
    headers: tuple[tuple[str, str], ...] = ()
    if _setting(annotations, {}, "enable-cors", "false").lower() == "true":
        methods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
        headers = (
            ("Access-Control-Allow-Origin", _setting(annotations, {}, "cors-allow-origin", "*")),
            (
                "Access-Control-Allow-Methods",
                _setting(annotations, {}, "cors-allow-methods", methods),
            ),
        )
    return Location(
        location.nginx,
        location.ingress_path,
        location.backend,
        rewrite=location.rewrite,
        connect_timeout=_seconds(annotations, configmap, "proxy-connect-timeout", "5"),
        send_timeout=_seconds(annotations, configmap, "proxy-send-timeout", "60"),
        read_timeout=_seconds(annotations, configmap, "proxy-read-timeout", "60"),
        body_size=_setting(annotations, configmap, "proxy-body-size", "1m"),
        headers=headers,
    )


def servers(
    config: controller.Configuration, ingresses: Sequence[controller.Ingress]
) -> tuple[Server, ...]:
    """The model's servers as the conf writes them, each location with the settings of the
    Ingress it came from."""
    by_key = {f"{i.namespace}/{i.name}": i.annotations for i in ingresses}
    out = []
    for server in config.servers:
        locations = [
            _location(loc, by_key.get(loc.ingress, {}), config.configmap)
            for loc in server.locations
        ]
        out.append(Server(server.hostname, tuple(locations)))
    return tuple(out)


def nginx_conf(setup: Setup, config: controller.Configuration, run: RunContext) -> str:
    """The Lua plane's nginx.conf for the model's servers.

    Raises:
        ConfigError: no Lua module was found for it, or a value nginx cannot take.
    """
    if run.lua is None:
        raise ConfigError("the local ingress-nginx plane needs nginx's Lua module (not found)")
    conf = LuaConf(
        servers(config, objects(setup, run.service_address)[0]),
        run.listen,
        run.run_dir,
        run.lua,
        str(LUA_DIR),
        workers=positive(setup, "worker-processes", "1"),
        generation=run.generation,
    )
    return render(conf)


def _hash_configs(document: Sequence[Mapping[str, object]]) -> dict[str, str]:
    """Per backend, what decides its balancer (a changed one needs a fresh balancer)."""
    return {
        str(backend["name"]): json.dumps(
            [backend.get("upstreamHashByConfig"), backend.get("load-balance")], sort_keys=True
        )
        for backend in document
    }


def posts(
    config: controller.Configuration,
    previous: bytes | None,
    running: bytes | None,
    *,
    fresh: bool,
) -> list[Post]:
    """The backends document to post, as the controller posts it (none when it is the
    ``previous`` post again).

    ``fresh`` (the bed's own apply): when a backend's hash configuration differs from the
    ``running`` balancers' (those of the last fresh apply: a change applied as the
    controller applies it may have left them with an older key), the post asks for a
    reload, so new workers make every balancer afresh from it, as the bed's kind backend
    drops the backend first; without ``fresh`` the running balancer keeps its key, as it
    does under the real controller.
    """
    document = controller.to_backends_json(config)
    body = json.dumps(document, sort_keys=True).encode()
    remake = False
    if fresh and running is not None:
        before = _hash_configs(json.loads(running))
        remake = any(
            name in before and before[name] != value
            for name, value in _hash_configs(document).items()
        )
    if previous == body and not remake:
        return []
    return [Post(BACKENDS_PATH, body, reload=remake)]


def service_ports(
    config: controller.Configuration,
    endpoints: Mapping[int, Sequence[Endpoint]],
    address: str,
    setup: Setup | None = None,
    service_endpoints: Mapping[tuple[str, int], Sequence[Endpoint]] | None = None,
) -> list[ServicePort]:
    """The Service ports the backends with ``service-upstream`` send to (their one endpoint,
    ``address:port``), each spreading connections over its Service's pods on that port:
    hellogo's ``endpoints`` per port, or (a setup with its own objects, ``setup``)
    ``service_endpoints`` per (Service, Service port).

    Raises:
        ConfigError: two such Services share a port number (the bed gives every Service
            one address, so it cannot tell them apart).
    """
    out: list[ServicePort] = []
    for backend in config.backends:
        if not backend.service_upstream:
            continue
        if setup is not None and setup.ingresses:
            found = next((s for s in setup.services if s.name == backend.service), None)
            listed = found.port(backend.port) if found is not None else None
            if listed is None:
                continue
            pods = tuple((service_endpoints or {}).get((backend.service, listed.port), ()))
            out.append(ServicePort(backend.name, address, listed.port, pods))
        elif int(backend.port or 0) in endpoints:
            port = int(backend.port)
            out.append(ServicePort(backend.name, address, port, tuple(endpoints[port])))
    ports = [s.port for s in out]
    twice = sorted({p for p in ports if ports.count(p) > 1})
    if twice:
        names = ", ".join(s.name for s in out if s.port == twice[0])
        raise ConfigError(
            f"the local ingress-nginx plane gives every Service one address, so backends "
            f"{names} cannot both use service-upstream on port {twice[0]}; give the Services "
            "different ports, or run on --backend kind or cluster"
        )
    return out


def in_force(text: str | None, generation: int) -> bool:
    """Whether ``/sync`` (``text``) shows configuration ``generation`` with every worker
    on the last post."""
    if text is None:
        return False
    state = parse_state(text)
    return state.config_generation == generation and not state.behind(state.posted)


__all__ = [
    "NAMESPACE",
    "SYNC_PATH",
    "configuration",
    "in_force",
    "nginx_conf",
    "objects",
    "posts",
    "servers",
    "service_ports",
]
