"""An ingress-nginx hash key as Envoy Gateway's consistent hash (pure).

A BackendTrafficPolicy's ``loadBalancer.consistentHash`` has one ``type``:

- ``SourceIP``: the client address (which one, a ClientTrafficPolicy decides);
- ``Headers``: one or more headers, hashed in order (``:path`` and ``:authority``, the
  pseudo-headers, included: Envoy Gateway passes the names through unchecked);
- ``Cookie``: one cookie;
- ``QueryParams``: one or more query parameters, in order.

``key_policies`` maps each variable of the key to one of them: ``$remote_addr`` and
``$binary_remote_addr`` to ``SourceIP``, ``$http_NAME`` to the header ``NAME`` (``_`` as
``-``), ``$host`` and ``$http_host`` to ``:authority``, ``$request_uri`` to ``:path``,
``$cookie_NAME`` to ``Cookie``, ``$arg_NAME`` to ``QueryParams``. A key whose variables
need two types (``$remote_addr$request_uri``), a variable with no counterpart (``$uri``,
``$args``, ``$is_args``, ``$scheme``) and a key without a variable are ``NoEquivalent``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingressbed.errors import NoEquivalent
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.placement.keys import KeyExpr
from ingressbed.placement.ring import RingKind

#: The BackendTrafficPolicy consistentHash types.
SOURCE_IP, HEADERS, COOKIE, QUERY_PARAMS = "SourceIP", "Headers", "Cookie", "QueryParams"
_VARIABLE = re.compile(r"(\\\$[0-9A-Za-z_]+)|\$\{([0-9A-Za-z_]+)\}|\$([0-9A-Za-z_]+)")
_MISSING = (
    "a request without {what} goes to a random pod (ingress-nginx hashed the empty key: one "
    "pod for all of them)"
)
_NOTES = {
    ":authority": (
        "`:authority` is the Host header as sent, port and case kept (`$host` was lowercased "
        "without the port)"
    ),
    ":path": (
        "`:path` is the path after Envoy Gateway's normalization (`/a/./b` and `//a//b` are "
        "`/b` and `/a/b`) with the query as sent; `$request_uri` was the target as sent"
    ),
}
_NONE = {
    "uri": (
        "`$uri` is the path without the query, and Envoy hashes `:path` with it (only an "
        "EnvoyPatchPolicy could strip it)"
    ),
    "args": "Envoy hashes the query string only together with the path (`:path`)",
    "is_args": "Envoy hashes no `?` on its own",
    "scheme": "Envoy Gateway offers no hash of `:scheme`",
}


@dataclass(frozen=True)
class KeyPolicies:
    """A key as Envoy Gateway writes it: the consistentHash ``type``, the route's hash
    policies in order, and what the translation changes."""

    type: str
    policies: tuple[HashPolicy, ...]
    notes: tuple[str, ...]


def _one(name: str) -> tuple[str, HashPolicy, str]:
    """The type, policy and note of one nginx variable (lowercase, no ``$``).

    Raises:
        NoEquivalent: a variable Envoy Gateway cannot hash.
    """
    if name in ("remote_addr", "binary_remote_addr"):
        return SOURCE_IP, HashPolicy("source-ip"), ""
    if name in ("host", "http_host"):
        note = _NOTES[":authority"] if name == "host" else ""
        return HEADERS, HashPolicy("header", ":authority"), note
    if name == "request_uri":
        return HEADERS, HashPolicy("header", ":path"), _NOTES[":path"]
    if name.startswith("http_"):
        header = name.removeprefix("http_").replace("_", "-")
        return HEADERS, HashPolicy("header", header), _MISSING.format(what=f"`{header}`")
    if name.startswith("cookie_"):
        cookie = name.removeprefix("cookie_")
        note = _MISSING.format(what=f"the cookie `{cookie}` (its name matched exactly)")
        return COOKIE, HashPolicy("cookie", cookie), note
    if name.startswith("arg_"):
        arg = name.removeprefix("arg_")
        what = f"`?{arg}=` (matched exactly; the value hashed undecoded, the first one)"
        return QUERY_PARAMS, HashPolicy("query", arg), _MISSING.format(what=what)
    raise NoEquivalent(_NONE.get(name, f"Envoy Gateway cannot hash `${name}`"))


def key_policies(hash_by: str) -> KeyPolicies:
    """The consistent hash Envoy Gateway would need for ``upstream-hash-by: hash_by``.

    Args:
        hash_by: the ingress-nginx key (0.33 and later: variables and text).

    Returns:
        Its type, policies and notes.

    Raises:
        ConfigError: a key ingress-nginx itself refuses (unbalanced ``${``, an unknown
            variable); NoEquivalent: one Envoy Gateway cannot express (named, with why).
    """
    KeyExpr(hash_by, flavor=RingKind.LUA)  # what ingress-nginx refuses, said its way
    found = [m for m in _VARIABLE.finditer(hash_by) if not m.group(1)]
    if not found:
        raise NoEquivalent(
            f"upstream-hash-by {hash_by!r} reads no variable (one pod for every request on "
            "ingress-nginx); Envoy Gateway's consistent hash needs something to hash"
        )
    try:
        parts = [_one((m.group(2) or m.group(3)).lower()) for m in found]
    except NoEquivalent as exc:
        raise NoEquivalent(
            f"upstream-hash-by {hash_by!r} has no Envoy Gateway equivalent: {exc}"
        ) from None
    types = list(dict.fromkeys(kind for kind, _, _ in parts))
    if len(types) > 1:
        raise NoEquivalent(
            f"upstream-hash-by {hash_by!r} mixes {' and '.join(types)}: a "
            "BackendTrafficPolicy's consistentHash has one type"
        )
    kind = types[0]
    policies = tuple(dict.fromkeys(policy for _, policy, _ in parts))
    if kind in (SOURCE_IP, COOKIE) and len(policies) > 1:
        raise NoEquivalent(f"upstream-hash-by {hash_by!r}: consistentHash {kind} takes one {kind}")
    notes = [note for _, _, note in parts if note]
    literal = _VARIABLE.sub("", hash_by)
    if literal:
        notes.append(
            f"the text {literal!r} in the key is dropped: Envoy hashes each value, then mixes "
            "them (the same keys land together)"
        )
    if len(parts) != len(policies):
        notes.append("a variable named twice is hashed once")
    return KeyPolicies(kind, policies, tuple(dict.fromkeys(notes)))
