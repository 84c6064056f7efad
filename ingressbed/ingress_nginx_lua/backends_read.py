"""Reading a backends document (what ``/dbg backends all`` prints) and checking it (pure).

``read_document`` accepts the controller's JSON unchanged, a real controller's included
(its ``service`` objects and all), and refuses in one line what the local plane would
otherwise get wrong without a word:

- anything that is not a list of backend objects, a field the controller's ``Backend``
  does not have (a typo would silently mean "not set"), a backend without a name or
  listed twice;
- endpoints that are not IP addresses with ports 1-65535 (the local plane resolves no
  names), an ``ExternalName`` Service (the controller resolves it by DNS), SSL passthrough
  (not the Lua balancer's business);
- a ``load-balance`` other than ``round_robin`` or ``ewma`` (the controller would log a
  warning and fall back to round robin), an affinity other than ``cookie``, a mode other
  than ``balanced`` or ``persistent``;
- cookie ``expires`` / ``maxage`` that are not whole seconds (the controller's Lua would
  fail on them), a subset size below 1, weights that are not whole numbers;
- ``alternativeBackends`` naming a backend the document does not hold.

``replace_endpoints`` swaps a document's endpoints for local ones and leaves everything
else as it was, so production's backends can be posted to the local plane.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.ingress_nginx_lua.backends import (
    LOAD_BALANCE,
    Backend,
    CookieAffinity,
    TrafficShaping,
)
from ingressbed.placement.cookie import AFFINITY_MODES, BALANCED, DEFAULT_COOKIE_NAME
from ingressbed.placement.subset import DEFAULT_SUBSET_SIZE
from ingressbed.vocabulary import Endpoint

BACKEND_FIELDS = frozenset(
    {
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
    }
)
COOKIE_FIELDS = frozenset(
    {
        "name",
        "expires",
        "maxage",
        "locations",
        "secure",
        "path",
        "domain",
        "samesite",
        "conditional_samesite_none",
        "change_on_failure",
    }
)
HASH_FIELDS = frozenset(
    {"upstream-hash-by", "upstream-hash-by-subset", "upstream-hash-by-subset-size"}
)
SHAPING_FIELDS = frozenset(
    {"weight", "weightTotal", "header", "headerValue", "headerPattern", "cookie"}
)


def read_document(source: str | bytes | list[Any], where: str = "backends") -> list[Backend]:
    """Check a backends document and return its backends, typed.

    Args:
        source: the JSON text, or the already decoded list.
        where: what the document is, for messages (a file name, ``stdin``).

    Returns:
        The backends in document order.

    Raises:
        ConfigError: one line naming the backend and field that is wrong.
    """
    if isinstance(source, str | bytes):
        try:
            raw = json.loads(source)
        except ValueError as exc:
            message = getattr(exc, "msg", str(exc))
            raise ConfigError(f"{where}: not JSON ({message})") from None
    else:
        raw = source
    if not isinstance(raw, list):
        raise ConfigError(
            f"{where}: expected a JSON list of backends (what /dbg backends all prints), "
            f"not a JSON {_kind(raw)}"
        )
    backends = [_backend(item, number, where) for number, item in enumerate(raw, 1)]
    names = [backend.name for backend in backends]
    for backend in backends:
        if names.count(backend.name) > 1:
            raise ConfigError(f"{where}: backend {backend.name} is listed twice")
        for alternative in backend.alternative_backends:
            if alternative not in names:
                raise ConfigError(
                    f"{where}: backend {backend.name}: alternativeBackends names "
                    f"{alternative}, which the document does not hold"
                )
    return backends


def replace_endpoints(source: list[Any], endpoints: Mapping[str, Sequence[Endpoint]]) -> list[Any]:
    """A copy of a decoded document whose backends named in ``endpoints`` list those.

    Args:
        source: the decoded document (as ``read_document`` accepts it).
        endpoints: new endpoints per backend name, in balancer order.

    Returns:
        The copy; every other field is as it was.

    Raises:
        ConfigError: a name that is not in the document.
    """
    result = copy.deepcopy(source)
    found = {item.get("name") for item in result if isinstance(item, dict)}
    missing = sorted(set(endpoints) - found)
    if missing:
        raise ConfigError(f"no backend named {', '.join(missing)} in the document")
    for item in result:
        if isinstance(item, dict) and item.get("name") in endpoints:
            new = endpoints[item["name"]]
            if new:
                item["endpoints"] = [{"address": e.address, "port": str(e.port)} for e in new]
            else:
                item.pop("endpoints", None)
    return result


def _kind(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _backend(item: object, number: int, where: str) -> Backend:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: item {number} is a JSON {_kind(item)}, not a backend object")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: item {number} has no name")
    at = f"{where}: backend {name}"
    unknown = sorted(set(item) - BACKEND_FIELDS)
    if unknown:
        raise ConfigError(
            f"{at}: unknown field {unknown[0]!r} (a controller Backend has "
            f"{', '.join(sorted(BACKEND_FIELDS))})"
        )
    service = _object(item.get("service"), f"{at}: service")
    spec = _object(service.get("spec"), f"{at}: service.spec")
    if spec.get("type") == "ExternalName":
        raise ConfigError(
            f"{at}: an ExternalName Service is resolved by DNS in the controller; the local "
            "plane balances pod addresses only"
        )
    if item.get("sslPassthrough") is True:
        raise ConfigError(f"{at}: sslPassthrough is not emulated by the local plane")
    balance = _text(item.get("load-balance"), f"{at}: load-balance")
    if balance and balance not in LOAD_BALANCE:
        raise ConfigError(
            f"{at}: load-balance {balance!r} is not round_robin or ewma (the controller "
            "would fall back to round_robin with a warning)"
        )
    hashing = _object(item.get("upstreamHashByConfig"), f"{at}: upstreamHashByConfig")
    _known(hashing, HASH_FIELDS, f"{at}: upstreamHashByConfig")
    size = hashing.get("upstream-hash-by-subset-size", DEFAULT_SUBSET_SIZE)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"{at}: upstream-hash-by-subset-size {size!r} is not a whole number >= 1")
    port = item.get("port", 0)
    return Backend(
        name=name,
        endpoints=_endpoints(item.get("endpoints"), at),
        port=port if isinstance(port, int | str) else 0,
        hash_by=_text(hashing.get("upstream-hash-by"), f"{at}: upstream-hash-by"),
        subset=hashing.get("upstream-hash-by-subset") is True,
        subset_size=size,
        load_balance=balance,
        affinity=_affinity(item.get("sessionAffinityConfig"), at),
        traffic_shaping=_shaping(item.get("trafficShapingPolicy"), at),
        alternative_backends=tuple(
            _text(a, f"{at}: alternativeBackends")
            for a in _list(item.get("alternativeBackends"), f"{at}: alternativeBackends")
        ),
        no_server=item.get("noServer") is True,
    )


def _object(value: object, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{what} is a JSON {_kind(value)}, not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{what} is a JSON {_kind(value)}, not a list")
    return value


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{what} is a JSON {_kind(value)}, not a string")
    return value


def _whole(value: object, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} {value!r} is not a whole number")
    return value


def _known(value: Mapping[str, Any], fields: frozenset[str], what: str) -> None:
    unknown = sorted(set(value) - fields)
    if unknown:
        raise ConfigError(
            f"{what}: unknown field {unknown[0]!r} (known: {', '.join(sorted(fields))})"
        )


def _endpoints(value: object, at: str) -> tuple[Endpoint, ...]:
    found = []
    for number, item in enumerate(_list(value, f"{at}: endpoints"), 1):
        entry = _object(item, f"{at}: endpoint {number}")
        address = entry.get("address")
        port = entry.get("port")
        try:
            parsed = ipaddress.ip_address(address) if isinstance(address, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise ConfigError(
                f"{at}: endpoint {number}: address {address!r} is not an IP address "
                "(the local plane resolves no names)"
            )
        text = str(port) if isinstance(port, int | str) and not isinstance(port, bool) else ""
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise ConfigError(f"{at}: endpoint {number}: port {port!r} is not in 1-65535")
        found.append(Endpoint(str(parsed), int(text)))
    return tuple(found)


def _affinity(value: object, at: str) -> CookieAffinity | None:
    config = _object(value, f"{at}: sessionAffinityConfig")
    kind = _text(config.get("name"), f"{at}: sessionAffinityConfig.name")
    if not kind:
        return None
    if kind != "cookie":
        raise ConfigError(f"{at}: affinity {kind!r} is not 'cookie', the only one there is")
    mode = _text(config.get("mode"), f"{at}: sessionAffinityConfig.mode") or BALANCED
    if mode not in AFFINITY_MODES:
        raise ConfigError(
            f"{at}: affinity mode {mode!r} is not {' or '.join(AFFINITY_MODES)} "
            "(the controller would take it as balanced)"
        )
    what = f"{at}: cookieSessionAffinity"
    cookie = _object(config.get("cookieSessionAffinity"), what)
    _known(cookie, COOKIE_FIELDS, what)
    for key in ("expires", "maxage"):
        seconds = _text(cookie.get(key), f"{what}.{key}")
        if seconds and not seconds.isdigit():
            raise ConfigError(f"{what}.{key} {seconds!r} is not a whole number of seconds")
    locations: dict[str, tuple[str, ...]] = {}
    for host, paths in _object(cookie.get("locations"), f"{what}.locations").items():
        listed = _list(paths, f"{what}.locations[{host!r}]")
        locations[host] = tuple(_text(p, f"{what}.locations[{host!r}]") for p in listed)
    path = cookie.get("path")
    return CookieAffinity(
        mode=mode,
        name=_text(cookie.get("name"), f"{what}.name") or DEFAULT_COOKIE_NAME,
        locations=locations,
        path=_text(path, f"{what}.path") if path is not None else None,
        expires=_text(cookie.get("expires"), f"{what}.expires"),
        max_age=_text(cookie.get("maxage"), f"{what}.maxage"),
        domain=_text(cookie.get("domain"), f"{what}.domain"),
        samesite=_text(cookie.get("samesite"), f"{what}.samesite"),
        conditional_samesite_none=cookie.get("conditional_samesite_none") is True,
        secure=cookie.get("secure") is True,
        change_on_failure=cookie.get("change_on_failure") is True,
    )


def _shaping(value: object, at: str) -> TrafficShaping:
    what = f"{at}: trafficShapingPolicy"
    policy = _object(value, what)
    _known(policy, SHAPING_FIELDS, what)
    return TrafficShaping(
        weight=_whole(policy.get("weight"), f"{what}.weight"),
        weight_total=_whole(policy.get("weightTotal"), f"{what}.weightTotal"),
        header=_text(policy.get("header"), f"{what}.header"),
        header_value=_text(policy.get("headerValue"), f"{what}.headerValue"),
        header_pattern=_text(policy.get("headerPattern"), f"{what}.headerPattern"),
        cookie=_text(policy.get("cookie"), f"{what}.cookie"),
    )
