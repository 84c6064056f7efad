"""Backends as the controller posts them to its Lua side, and back (pure).

``to_backends_json`` writes the list the controller posts to
``/configuration/backends`` (and ``/dbg backends all`` prints): per backend, in the
field order and with the omissions of Go's JSON encoding of the controller's
``Backend`` (``name``, ``service`` (the spec only), ``port``, ``sslPassthrough``,
``endpoints`` (``address`` and ``port`` as a string; left out when empty),
``sessionAffinityConfig``, ``upstreamHashByConfig``, ``load-balance`` (left out when
empty), ``noServer``, ``trafficShapingPolicy``, ``alternativeBackends`` (left out when
empty)). So one document can be posted to the bed's Lua data plane or compared with a
real controller's dump.

``from_backends_json`` reads such a document (a list, or one backend as
``/dbg backends get`` prints it) into ``Backend`` values; a malformed one is a
``ConfigError`` naming the backend and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ingressbed.controller.model import (
    Backend,
    Configuration,
    CookieAffinity,
    HashBy,
    ServiceSpec,
    SessionAffinity,
    TrafficShaping,
)
from ingressbed.errors import ConfigError
from ingressbed.objects import ServicePort
from ingressbed.vocabulary import Endpoint

Json = dict[str, Any]
_BACKEND_KEYS = (
    "name",
    "service",
    "port",
    "sslPassthrough",
    "endpoints",
    "sessionAffinityConfig",
    "upstreamHashByConfig",
    "load-balance",
    "noServer",
    "trafficShapingPolicy",
    "alternativeBackends",
)
#: cookieSessionAffinity: JSON name -> CookieAffinity field (all but name are omitempty).
_COOKIE_KEYS = {
    "name": "name",
    "expires": "expires",
    "maxage": "max_age",
    "locations": "locations",
    "secure": "secure",
    "path": "path",
    "domain": "domain",
    "samesite": "samesite",
    "conditional_samesite_none": "conditional_samesite_none",
    "change_on_failure": "change_on_failure",
}
_SHAPING_KEYS = {
    "weight": "weight",
    "weightTotal": "weight_total",
    "header": "header",
    "headerValue": "header_value",
    "headerPattern": "header_pattern",
    "cookie": "cookie",
}


def _service(spec: ServiceSpec) -> Json:
    if spec.raw:
        loaded: Json = json.loads(spec.raw)
        return loaded
    body: Json = {}
    if spec.ports:
        body["ports"] = [
            {
                **({"name": p.name} if p.name else {}),
                "protocol": p.protocol,
                "port": p.port,
                "targetPort": p.target,
            }
            for p in spec.ports
        ]
    if spec.cluster_ip:
        body["clusterIP"] = spec.cluster_ip
    if spec.type:
        body["type"] = spec.type
    return {"metadata": {"creationTimestamp": None}, "spec": body, "status": {"loadBalancer": {}}}


def _cookie(cookie: CookieAffinity) -> Json:
    out: Json = {"name": cookie.name}
    for key, attribute in _COOKIE_KEYS.items():
        value = getattr(cookie, attribute)
        if key != "name" and value:
            out[key] = {h: list(p) for h, p in value.items()} if key == "locations" else value
    return out


def backend_json(backend: Backend) -> Json:
    """One backend in the controller's JSON shape."""
    out: Json = {"name": backend.name}
    if backend.service_spec is not None:
        out["service"] = _service(backend.service_spec)
    out["port"] = backend.port
    out["sslPassthrough"] = backend.ssl_passthrough
    if backend.endpoints:
        out["endpoints"] = [{"address": e.address, "port": str(e.port)} for e in backend.endpoints]
    out["sessionAffinityConfig"] = {
        "name": backend.affinity.type,
        "mode": backend.affinity.mode,
        "cookieSessionAffinity": _cookie(backend.affinity.cookie),
    }
    hash_by: Json = {}
    if backend.hash_by.key:
        hash_by["upstream-hash-by"] = backend.hash_by.key
    if backend.hash_by.subset:
        hash_by["upstream-hash-by-subset"] = True
    if backend.hash_by.subset_size:
        hash_by["upstream-hash-by-subset-size"] = backend.hash_by.subset_size
    out["upstreamHashByConfig"] = hash_by
    if backend.load_balance:
        out["load-balance"] = backend.load_balance
    out["noServer"] = backend.no_server
    shaping = backend.traffic_shaping
    out["trafficShapingPolicy"] = {k: getattr(shaping, a) for k, a in _SHAPING_KEYS.items()}
    if backend.alternatives:
        out["alternativeBackends"] = list(backend.alternatives)
    return out


def to_backends_json(config: Configuration | Iterable[Backend]) -> list[Json]:
    """The backends document the controller posts (and ``/dbg backends all`` prints).

    Args:
        config: a configuration (its backends, in its order) or backends.

    Returns:
        A list of JSON objects; ``json.dumps`` it to post it.
    """
    backends = config.backends if isinstance(config, Configuration) else tuple(config)
    return [backend_json(b) for b in backends]


class _Fields:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, message: str) -> ConfigError:
        return ConfigError(f"backends JSON, {self.where}: {field}: {message}")

    def get(
        self, block: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any
    ) -> Any:
        value = block.get(key, default)
        if isinstance(value, bool) and kind in (int, str):
            raise self.fail(key, f"expected {kind.__name__}, got a boolean")
        if value is not None and not isinstance(value, kind):
            raise self.fail(key, f"expected {getattr(kind, '__name__', 'a value')}, got {value!r}")
        return value

    def block(self, parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = parent.get(key, {}) or {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "expected an object")
        return value


def _endpoint(f: _Fields, index: int, value: object) -> Endpoint:
    if not isinstance(value, Mapping):
        raise f.fail(f"endpoints[{index}]", "expected an object with address and port")
    address, port = value.get("address"), value.get("port")
    if not isinstance(address, str) or not address:
        raise f.fail(f"endpoints[{index}].address", "expected an address")
    text = str(port) if isinstance(port, int | str) and not isinstance(port, bool) else ""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise f.fail(f"endpoints[{index}].port", f"{port!r} is not a port number")
    return Endpoint(address.strip("[]"), int(text))


def _service_spec(f: _Fields, value: object) -> ServiceSpec:
    if not isinstance(value, Mapping):
        raise f.fail("service", "expected an object")
    spec = value.get("spec") or {}
    ports: list[ServicePort] = []
    for item in spec.get("ports") or []:
        if isinstance(item, Mapping) and isinstance(item.get("port"), int):
            target = item.get("targetPort", item["port"])
            ports.append(
                ServicePort(
                    item["port"], str(item.get("name", "")), target, item.get("protocol", "TCP")
                )
            )
    return ServiceSpec(
        str(spec.get("type", "")), str(spec.get("clusterIP", "")), tuple(ports), json.dumps(value)
    )


def _read_backend(index: int, doc: object) -> Backend:
    if not isinstance(doc, Mapping):
        raise ConfigError(f"backends JSON, item {index}: expected a backend object")
    name = doc.get("name")
    f = _Fields(f"backend {name!r}" if isinstance(name, str) else f"item {index}")
    if not isinstance(name, str) or not name:
        raise f.fail("name", "every backend needs a name")
    extra = sorted(set(doc) - set(_BACKEND_KEYS))
    if extra:
        raise f.fail(extra[0], "not a field of the controller's Backend")
    affinity = f.block(doc, "sessionAffinityConfig")
    cookie_doc = f.block(affinity, "cookieSessionAffinity")
    locations = f.block(cookie_doc, "locations")
    blank = CookieAffinity()
    attributes: dict[str, Any] = {}
    for key, attr in _COOKIE_KEYS.items():
        if key != "locations":
            default = getattr(blank, attr)
            attributes[attr] = f.get(cookie_doc, key, type(default), default)
    cookie = CookieAffinity(
        **attributes,
        locations=MappingProxyType({str(h): tuple(map(str, p)) for h, p in locations.items()}),
    )
    hash_doc = f.block(doc, "upstreamHashByConfig")
    shaping_doc = f.block(doc, "trafficShapingPolicy")
    endpoints = doc.get("endpoints") or []
    if not isinstance(endpoints, list):
        raise f.fail("endpoints", "expected a list")
    port = f.get(doc, "port", (int, str), 0)
    service = doc.get("service")
    return Backend(
        name=name,
        port=port,
        endpoints=tuple(_endpoint(f, i, e) for i, e in enumerate(endpoints)),
        affinity=SessionAffinity(
            f.get(affinity, "name", str, ""), f.get(affinity, "mode", str, ""), cookie
        ),
        hash_by=HashBy(
            f.get(hash_doc, "upstream-hash-by", str, ""),
            f.get(hash_doc, "upstream-hash-by-subset", bool, False),
            f.get(hash_doc, "upstream-hash-by-subset-size", int, 0),
        ),
        load_balance=f.get(doc, "load-balance", str, ""),
        no_server=f.get(doc, "noServer", bool, False),
        traffic_shaping=TrafficShaping(
            **{
                attr: f.get(shaping_doc, key, type(getattr(TrafficShaping(), attr)), None)
                or getattr(TrafficShaping(), attr)
                for key, attr in _SHAPING_KEYS.items()
            }
        ),
        alternatives=tuple(str(a) for a in f.get(doc, "alternativeBackends", list, []) or []),
        service_spec=None if service is None else _service_spec(f, service),
        ssl_passthrough=f.get(doc, "sslPassthrough", bool, False),
    )


def from_backends_json(document: object) -> tuple[Backend, ...]:
    """Read a backends document: a real controller's ``/dbg backends all``, or ours.

    Args:
        document: the parsed JSON (a list of backends, or one backend object).

    Returns:
        The backends, in the document's order. Where they came from (which Ingress) is
        not in the document and stays empty.

    Raises:
        ConfigError: not a backends document, or a field of the wrong type (named).
    """
    if isinstance(document, Mapping):
        document = [document]
    if not isinstance(document, list):
        raise ConfigError(
            "backends JSON: expected a list of backends (as /dbg backends all prints)"
        )
    return tuple(_read_backend(i, doc) for i, doc in enumerate(document))
