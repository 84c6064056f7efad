"""Which ``balance`` the HAProxy-based controllers give an ingress-nginx hash key (pure).

HAProxy Technologies' ``load-balance`` and haproxy-ingress's ``balance-algorithm`` express
a key as ``balance source``, ``uri``, ``uri whole`` or ``hdr(NAME)`` (docs/translation.md,
"Keys the haproxy planes translate", which ``tests/test_planes.py`` holds to this table).
"""

from __future__ import annotations

import re

from ingressbed.errors import ConfigError

_HTTP_VARIABLE = re.compile(r"\$http_([a-z0-9_]+)\Z")
#: ingress-nginx keys the HAProxy controllers' balance settings express as one of the
#: balances the bed models (source, uri, hdr), with what the translation changes.
_KEYS: dict[str, tuple[str, str]] = {
    "$remote_addr": ("source", ""),
    "$binary_remote_addr": ("source", ""),
    "$request_uri": (
        "uri whole",
        "`uri whole` hashes the target as HAProxy holds it: HTTP/2 and absolute-form requests "
        "include scheme and host, `$request_uri` never does",
    ),
    "$uri": (
        "uri",
        "`balance uri` hashes the request target up to `?` as sent (HTTP/2: with scheme "
        "and host); `$uri` was the decoded, normalized path",
    ),
    "$host": (
        "hdr(host)",
        "`hdr(host)` hashes the Host header as sent, case and port kept; `$host` was "
        "lowercased without the port",
    ),
    "$http_host": ("hdr(host)", ""),
    "$host$request_uri": (
        "uri whole",
        "the controllers' balance settings hash host and URI together only with `balance "
        "hash EXPR`, which the bed does not model: `uri whole` hashes path and query, so the "
        "same page on two hosts is one key",
    ),
}


def haproxy_balance(hash_by: str) -> tuple[str, str]:
    """HAProxy's ``balance`` for an ingress-nginx key, and what the translation changes.

    Raises:
        ConfigError: a key HAProxy 2.6 cannot hash on.
    """
    key = hash_by.strip()
    if key in _KEYS:
        return _KEYS[key]
    header = _HTTP_VARIABLE.match(key)
    if header:
        name = header.group(1).replace("_", "-")
        return (
            f"hdr({name})",
            f"`hdr({name})` hashes the header's first comma-separated value; `{key}` was the "
            "whole header",
        )
    known = ", ".join(sorted(_KEYS)) + ", $http_NAME"
    raise ConfigError(
        f"upstream-hash-by {hash_by!r} has no HAProxy balance the controllers offer and the "
        f"model knows (source, uri, hdr); translatable keys: {known}"
    )
