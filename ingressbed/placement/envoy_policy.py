"""A route's ``hash_policy`` list and the 64-bit request hash Envoy computes from it (pure).

Envoy walks the policies in route order. Each yields a value or nothing; the first value
is the hash, each further value ``v`` makes it ``rotl64(hash, 1) XOR v``. When no policy
yields a value there is no hash and Envoy picks a host at random for each request (the
model says "random", never a pod). Envoy Gateway never marks a policy ``terminal``.

What each kind yields (XXH64 is the 64-bit xxHash, seed 0 unless said):

- ``header NAME`` (Envoy Gateway's ``Headers``): every entry of that header (name without
  case; ``:path`` and ``:authority`` included). One entry: ``XXH64(value)``; several
  (repeated lines of a header Envoy does not merge): the values sorted byte-wise and
  chained, ``h = XXH64(value, seed=h)`` from ``h = 0``. An empty value is a value; no
  entry is nothing.
- ``source-ip`` (``SourceIP``): ``XXH64`` of the client address in Envoy's text form,
  without a port; which address that is, is the ClientTrafficPolicy's business
  (``envoy_client``).
- ``cookie NAME`` (``Cookie``): the value of the first cookie with exactly that name
  across the Cookie lines; one pair of surrounding double quotes is dropped; an empty
  value counts as none. Without the cookie and with a TTL, Envoy makes one up: 16 hex
  digits of ``XXH64(peer IP:PORT + listener IP:PORT)``, and hashes that.
- ``query NAME`` (``QueryParams``): the raw value of the first parameter named exactly
  NAME in ``:path``'s query (``?u`` and ``?u=`` give ``""``, a value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import xxhash

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_request import EnvoyView, check_header_name

_MASK = (1 << 64) - 1
#: The kinds, as ``--hash-policy`` spells them.
KINDS: tuple[str, ...] = ("source-ip", "header", "cookie", "query")


@dataclass(frozen=True)
class HashPolicy:
    """One entry of a route's ``hash_policy``.

    ``kind`` is one of ``KINDS``; ``name`` the header (lowercase), cookie or parameter
    name; ``ttl`` the seconds of a cookie Envoy generates (None: it generates none).
    """

    kind: str
    name: str = ""
    ttl: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"hash policy kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "source-ip":
            if self.name:
                raise ConfigError("source-ip takes no name")
        elif not self.name:
            raise ConfigError(f"hash policy {self.kind} needs a name, e.g. {self.kind}:x-user")
        if self.ttl is not None and (self.kind != "cookie" or self.ttl < 0):
            raise ConfigError("a TTL belongs to a cookie policy and is 0 seconds or more")
        if self.kind == "header":
            object.__setattr__(self, "name", check_header_name(self.name))

    def __str__(self) -> str:
        if self.kind == "source-ip":
            return "source-ip"
        ttl = "" if self.ttl is None else f" (ttl {self.ttl}s)"
        return f"{self.kind}:{self.name}{ttl}"


def parse_policy(text: str) -> HashPolicy:
    """Read ``source-ip``, ``header:NAME``, ``cookie:NAME`` or ``query:NAME``.

    ``header::path`` and ``header::authority`` name the pseudo-headers.

    Args:
        text: the policy as written.

    Returns:
        The policy.

    Raises:
        ConfigError: anything else, in one line.
    """
    kind, sep, name = text.strip().partition(":")
    if kind == "source-ip" and not sep:
        return HashPolicy("source-ip")
    if kind not in KINDS or kind == "source-ip" or not sep or not name:
        raise ConfigError(
            f"--hash-policy {text!r}: write source-ip, header:NAME (header::path, "
            "header::authority), cookie:NAME or query:NAME"
        )
    return HashPolicy(kind, name)


def chain(values: Sequence[str]) -> int:
    """Envoy's hash of several entries: sorted byte-wise, each hashed with the last as seed.

    Args:
        values: the entries (one entry gives plain ``XXH64(value)``).

    Returns:
        The 64-bit hash.
    """
    seed = 0
    for value in sorted(item.encode() for item in values):
        seed = xxhash.xxh64_intdigest(value, seed)
    return seed


def cookie_value(lines: Sequence[str], name: str) -> str | None:
    """The first cookie named exactly ``name`` across Cookie lines, as Envoy reads it.

    Args:
        lines: the Cookie header values, in order.
        name: the cookie name (case-sensitive).

    Returns:
        Its value without one pair of surrounding quotes (trailing blanks kept), or None.
    """
    for line in lines:
        for item in line.split(";"):
            if not item:
                continue
            equals = item.find("=")
            if equals < 0:
                continue
            key = item[:equals].lstrip(" ")
            if key != name:
                continue
            value = item[equals + 1 :]
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            return value
    return None


def query_value(path: str, name: str) -> str | None:
    """The raw value of the first query parameter named exactly ``name``.

    Args:
        path: ``:path`` (path and query).
        name: the parameter name.

    Returns:
        The value (``""`` for ``?name`` and ``?name=``), or None.
    """
    mark = path.find("?")
    if mark < 0:
        return None
    for item in path[mark + 1 :].split("&"):
        key, equals, value = item.partition("=")
        if key == name:
            return value if equals else ""
    return None


def generated_cookie(peer: str, local: str) -> str:
    """The cookie value Envoy makes up for a connection.

    Args:
        peer: the TCP peer, ``IP:PORT``.
        local: the listener address, ``IP:PORT``.

    Returns:
        16 lowercase hex digits.
    """
    return f"{xxhash.xxh64_intdigest((peer + local).encode()):016x}"


def policy_hash(policy: HashPolicy, seen: EnvoyView, client: ClientDetection) -> int | None:
    """The value one policy yields for a request.

    Args:
        policy: the policy.
        seen: the request as Envoy's router sees it.
        client: how the client address is found.

    Returns:
        The 64-bit value, or None when the policy yields nothing.

    Raises:
        ConfigError: the request lacks what the answer depends on (a peer, a listener).
    """
    if policy.kind == "header":
        if policy.name == "x-forwarded-for" and client.mode == "tcp-peer" and not seen.peer[0]:
            raise ConfigError(
                "Envoy appends the TCP peer to X-Forwarded-For before hashing it (no "
                "clientIPDetection): give peer"
            )
        values = seen.values(policy.name)
        return chain(values) if values else None
    if policy.kind == "source-ip":
        address = client.client(seen.xff, seen.peer[0])
        return xxhash.xxh64_intdigest(address.encode())
    if policy.kind == "query":
        found = query_value(seen.path, policy.name)
        return None if found is None else xxhash.xxh64_intdigest(found.encode())
    value = cookie_value(seen.values("cookie"), policy.name)
    if not value:
        if policy.ttl is None:
            return None
        if not seen.local:
            seen.peer_address()  # names what is missing
            raise ConfigError(
                "a cookie with a TTL that the request lacks is generated from the TCP peer "
                "and the listener: give local as IP:PORT"
            )
        value = generated_cookie(seen.peer_address(), seen.local)
    return xxhash.xxh64_intdigest(value.encode())


def rotl64(value: int, bits: int = 1) -> int:
    """Rotate a 64-bit value left."""
    return ((value << bits) | (value >> (64 - bits))) & _MASK


def request_hash(
    policies: Sequence[HashPolicy], seen: EnvoyView, client: ClientDetection
) -> int | None:
    """The request hash of a route's policies, in order.

    Args:
        policies: the route's ``hash_policy`` list.
        seen: the request as Envoy's router sees it.
        client: how the client address is found.

    Returns:
        The unsigned 64-bit hash, or None (no policy yielded a value: a random host).
    """
    result: int | None = None
    for policy in policies:
        value = policy_hash(policy, seen, client)
        if value is None:
            continue
        result = value if result is None else rotl64(result) ^ value
    return result
