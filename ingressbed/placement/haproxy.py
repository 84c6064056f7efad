"""The haproxy flavor: which server HAProxy 2.6 picks with ``balance source|uri|hdr``.

Pure code, no I/O. A ``HaproxyPredictor`` holds one backend: its servers in declaration
order, their ids and weights, the ``balance`` line and the ``hash-type`` line.

* The key: ``source`` is the client address as a 32-bit integer (IPv4 big-endian, IPv6 the
  XOR of its four words), no string function; ``uri`` is the request target up to the
  ``?`` (all of it with ``whole``), cut by ``len N`` and ``depth N``; ``hdr(NAME)`` is the
  first comma-separated element of the first NAME header.
* ``hash-type map-based`` (HAProxy's default): sdbm, no avalanche; the hash modulo the
  length of a weighted server table (weights divided by their GCD, interleaved).
* ``hash-type consistent``: sdbm then avalanche; the nearest of the ring nodes in either
  direction, ties to the lower node. A server with id ``puid`` and weight ``w`` has the
  ``16 * w`` nodes ``full_hash(puid * 4096 + j)``: addresses and ports play no part.
* Server ids: explicit ids are reserved first, the others are handed out in order (see
  ``resolve_ids``).

A missing key (no such header) makes HAProxy balance round robin: ``pick`` returns None.
With one server every request goes to it. See docs/placement.md, "HAProxy".
"""

from __future__ import annotations

import ipaddress
import math
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from ingressbed.errors import ConfigError
from ingressbed.placement.haproxy_hash import FUNCTIONS, STRING_HASHES, full_hash
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

#: Ring nodes per unit of weight (HAProxy's BE_WEIGHT_SCALE).
NODES_PER_WEIGHT = 16
#: Spacing of the node numbers of consecutive server ids (SRV_EWGHT_RANGE).
ID_STRIDE = 4096
#: The ``hash-type`` methods, HAProxy's default first.
HASH_METHODS: tuple[str, ...] = ("map-based", "consistent")
#: Weights a ``server`` line accepts here (HAProxy also has 0: never chosen).
MAX_WEIGHT = 256

_MASK = 0xFFFFFFFF
_HDR = re.compile(r"hdr\(([!#$%&'*+.^_`|~0-9A-Za-z-]+)\)")


@dataclass(frozen=True)
class Balance:
    """A parsed ``balance`` line.

    ``kind`` is ``source``, ``uri`` or ``hdr``; ``header`` the name of ``hdr(NAME)``;
    ``length`` and ``depth`` are 0 when not given.
    """

    kind: str
    header: str = ""
    whole: bool = False
    length: int = 0
    depth: int = 0
    path_only: bool = False

    def __str__(self) -> str:
        if self.kind == "hdr":
            return f"hdr({self.header})"
        words = [self.kind]
        if self.whole:
            words.append("whole")
        if self.length:
            words.append(f"len {self.length}")
        if self.depth:
            words.append(f"depth {self.depth}")
        if self.path_only:
            words.append("path-only")
        return " ".join(words)


@dataclass(frozen=True)
class HashType:
    """A parsed ``hash-type`` line: method, string function and avalanche."""

    method: str = "map-based"
    function: str = "sdbm"
    avalanche: bool = False

    def __str__(self) -> str:
        return " ".join([self.method, self.function] + (["avalanche"] if self.avalanche else []))


def _positive(word: str, value: str | None, line: str) -> int:
    if value is None or not value.isdigit() or int(value) < 1:
        raise ConfigError(f"balance {line!r}: {word} needs a whole number >= 1, e.g. {word} 3")
    return int(value)


def parse_balance(text: str) -> Balance:
    """Parse what follows ``balance``: ``source``, ``uri [whole] [len N] [depth N]
    [path-only]`` or ``hdr(NAME)``.

    Args:
        text: the algorithm and its options, e.g. ``"uri whole depth 2"``.

    Returns:
        The balance.

    Raises:
        ConfigError: an algorithm the model does not predict or a bad option, in one line.
    """
    words = text.split()
    if not words:
        raise ConfigError(
            "--balance is empty: use source, uri [whole] [len N] [depth N] or hdr(NAME)"
        )
    algo, rest = words[0], words[1:]
    if algo == "source" and not rest:
        return Balance("source")
    header = _HDR.fullmatch(algo)
    if header and not rest:
        return Balance("hdr", header=header.group(1).lower())
    if header and rest == ["use_domain_only"]:
        raise ConfigError(
            "balance hdr(...) use_domain_only is not predictable: HAProxy 2.6 reads one byte past "
            "the header value, so the label it hashes varies"
        )
    if algo != "uri":
        raise ConfigError(
            f"balance {text!r}: the model predicts source, uri [whole] [len N] [depth N] "
            "[path-only] and hdr(NAME)"
        )
    options: dict[str, int | bool] = {}
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("whole", "path-only") and word not in options:
            options[word] = True
            i += 1
        elif word in ("len", "depth") and word not in options:
            options[word] = _positive(word, rest[i + 1] if i + 1 < len(rest) else None, text)
            i += 2
        else:
            raise ConfigError(
                f"balance {text!r}: {word!r} is not an option of uri "
                "(whole, len N, depth N, path-only; each once)"
            )
    return Balance(
        "uri",
        whole=bool(options.get("whole", False)),
        length=int(options.get("len", 0)),
        depth=int(options.get("depth", 0)),
        path_only=bool(options.get("path-only", False)),
    )


def parse_hash_type(text: str) -> HashType:
    """Parse what follows ``hash-type``: ``map-based|consistent [FUNCTION [avalanche]]``.

    Without a function word, ``consistent`` means sdbm with avalanche and ``map-based``
    sdbm without. With a function word, avalanche applies only when ``avalanche`` follows.

    Raises:
        ConfigError: an unknown method, function or extra word.
    """
    words = text.split()
    if not words or words[0] not in HASH_METHODS:
        raise ConfigError(f"hash-type {text!r}: start with {' or '.join(HASH_METHODS)}")
    method, rest = words[0], words[1:]
    if not rest:
        return HashType(method, "sdbm", method == "consistent")
    if rest[0] not in FUNCTIONS:
        raise ConfigError(
            f"hash-type {text!r}: {rest[0]!r} is not a hash function ({', '.join(FUNCTIONS)})"
        )
    if rest[1:] not in ([], ["avalanche"]):
        raise ConfigError(f"hash-type {text!r}: only 'avalanche' may follow the function")
    return HashType(method, rest[0], rest[1:] == ["avalanche"])


def resolve_ids(explicit: Sequence[int | None]) -> tuple[int, ...]:
    """The server ids (puid) HAProxy gives a backend's servers.

    Explicit ids are reserved while the configuration is read. Then a counter starting at 1
    walks the servers in order: a server without an id takes the first free id at or above
    the counter, and the counter moves past it; a server with an explicit id moves the
    counter on by one. So ``[3, None, None, 2, None]`` gives ``(3, 4, 5, 2, 7)``.

    Args:
        explicit: per server, its ``id N`` or None.

    Returns:
        The ids, in server order.

    Raises:
        ConfigError: an id below 1 or an id given twice.
    """
    used: set[int] = set()
    for value in explicit:
        if value is None:
            continue
        if value < 1:
            raise ConfigError(f"server id {value} must be >= 1")
        if value in used:
            raise ConfigError(f"server id {value} is given twice; ids are unique in a backend")
        used.add(value)
    ids: list[int] = []
    counter = 1
    for value in explicit:
        if value is not None:
            ids.append(value)
            counter += 1
            continue
        while counter in used:
            counter += 1
        ids.append(counter)
        used.add(counter)
        counter += 1
    return tuple(ids)


def map_table(weights: Sequence[int]) -> tuple[int, ...]:
    """The server table of ``hash-type map-based``: server indexes, one per slot.

    Weights are divided by their GCD; each slot goes to the first server with the largest
    ``trunc((score + total) / total)`` after every score grew by its weight, and that
    server's score drops by the total. Equal weights give ``(0, 1, ..., n-1)``.

    Args:
        weights: the servers' weights, in declaration order (each >= 1).

    Returns:
        The table.
    """
    divisor = math.gcd(*weights)
    effective = [w // divisor for w in weights]
    total = sum(effective)
    scores = [0] * len(effective)
    table = []
    for _ in range(total):
        best, best_value = 0, None
        for index, weight in enumerate(effective):
            scores[index] += weight
            value = int((scores[index] + total) / total)  # C division: towards zero
            if best_value is None or value > best_value:
                best, best_value = index, value
        table.append(best)
        scores[best] -= total
    return tuple(table)


class ConsistentRing:
    """HAProxy's ring of ``hash-type consistent``: nodes from server ids and weights."""

    def __init__(self, ids: Sequence[int], weights: Sequence[int]) -> None:
        """Place ``16 * weight`` nodes ``full_hash(id * 4096 + j)`` per server.

        Args:
            ids: server ids, in declaration order.
            weights: their weights.
        """
        packed = sorted(
            (full_hash((puid * ID_STRIDE + j) & _MASK), index)
            for index, (puid, weight) in enumerate(zip(ids, weights, strict=True))
            for j in range(NODES_PER_WEIGHT * weight)
        )
        self.keys: list[int] = [key for key, _ in packed]
        self.owners: list[int] = [index for _, index in packed]

    def lookup(self, value: int) -> int:
        """The server index of the node nearest ``value``; a tie goes to the lower node.

        Args:
            value: the 32-bit hash of the request.

        Returns:
            The index of the server in declaration order.
        """
        keys = self.keys
        after = bisect_left(keys, value)
        if after == len(keys):
            after = 0
        before = after - 1  # -1 wraps to the largest node
        to_before = (value - keys[before]) & _MASK
        to_after = (keys[after] - value) & _MASK
        return self.owners[before if to_before <= to_after else after]


def source_value(client_ip: str) -> int:
    """The 32-bit integer ``balance source`` hashes for a client address.

    Raises:
        ConfigError: no address, or text that is not one.
    """
    if not client_ip:
        raise ConfigError(
            "balance source reads the client address but the request has none: give "
            "--client-ip (or client_ip in a --batch line)"
        )
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        raise ConfigError(f"client_ip {client_ip!r} is not an IPv4 or IPv6 address") from None
    if address.version == 4:
        return int(address)
    packed = address.packed
    value = 0
    for start in range(0, 16, 4):
        value ^= int.from_bytes(packed[start : start + 4], "big")
    return value


def uri_bytes(target: str, balance: Balance) -> bytes:
    """The part of the request target ``balance uri`` hashes.

    Args:
        target: the request target as sent (``/path?query``, or an absolute URI).
        balance: the ``uri`` balance and its options.

    Returns:
        The bytes before the first stop: ``?`` (unless ``whole``), the ``depth + 1``-th
        ``/`` or the ``len`` limit.
    """
    data = target.encode()
    if balance.path_only and not data.startswith(b"/"):
        scheme_end = data.find(b"://")
        slash = data.find(b"/", scheme_end + 3) if scheme_end >= 0 else -1
        data = data[slash:] if slash >= 0 else b""
    if balance.length:
        data = data[: balance.length]
    slashes = 0
    for end, byte in enumerate(data):
        if byte == 0x2F:  # "/"
            slashes += 1
            if balance.depth and slashes == balance.depth + 1:
                return data[:end]
        elif byte == 0x3F and not balance.whole:  # "?"
            return data[:end]
    return data


def first_element(value: str) -> str:
    """The first comma-separated element of a header value, trimmed; quotes protect commas."""
    quoted = False
    end = len(value)
    i = 0
    while i < len(value):
        char = value[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == ",":
            end = i
            break
        elif char == '"':
            quoted = True
        i += 1
    return value[:end].strip(" \t")


def header_value(request: Request, name: str) -> str | None:
    """The first element of the first header named ``name`` (any case), or None.

    The Host header is ``request.host`` when that is set.
    """
    if name == "host" and request.host:
        return first_element(request.host)
    for key, value in request.headers.items():
        if key.lower() == name:
            return first_element(value)
    return None


class HaproxyPredictor:
    """One HAProxy backend with a hash-based ``balance``: which server gets a request."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        balance: str | Balance,
        hash_type: str | HashType = "map-based",
        *,
        server_ids: Sequence[int | None] | None = None,
        weights: Sequence[int] | None = None,
    ) -> None:
        """Read the backend.

        Args:
            endpoints: the servers, in declaration order.
            balance: the ``balance`` line (without the word ``balance``) or a parsed one.
            hash_type: the ``hash-type`` line (without ``hash-type``); HAProxy's default is
                ``map-based``.
            server_ids: per server its ``id N`` or None (default: no explicit ids).
            weights: per server its weight, 1-256 (default 1 each).

        Raises:
            ConfigError: no servers, a server twice, bad lengths, weights or ids.
        """
        self.endpoints: tuple[Endpoint, ...] = tuple(endpoints)
        count = len(self.endpoints)
        if not count:
            raise ConfigError("no endpoints: give at least one ADDRESS:PORT")
        if len(set(self.endpoints)) != count:
            raise ConfigError("an endpoint is listed twice; list each endpoint once")
        self.balance = balance if isinstance(balance, Balance) else parse_balance(balance)
        self.hash_type = (
            hash_type if isinstance(hash_type, HashType) else parse_hash_type(hash_type)
        )
        explicit = [None] * count if server_ids is None else list(server_ids)
        if len(explicit) != count:
            raise ConfigError(
                f"--server-ids has {len(explicit)} ids for {count} endpoints: give one per "
                "endpoint ('-' for an automatic id)"
            )
        self.ids = resolve_ids(explicit)
        self.weights: tuple[int, ...] = (1,) * count if weights is None else tuple(weights)
        if len(self.weights) != count:
            raise ConfigError(f"{len(self.weights)} weights for {count} endpoints")
        for weight in self.weights:
            if not 1 <= weight <= MAX_WEIGHT:
                raise ConfigError(f"weight {weight} is not in 1-{MAX_WEIGHT}")
        self._function = STRING_HASHES[self.hash_type.function]
        self._ring: ConsistentRing | None = None
        self._table: tuple[int, ...] = ()
        if self.hash_type.method == "consistent":
            self._ring = ConsistentRing(self.ids, self.weights)
        else:
            self._table = map_table(self.weights)

    def key_hash(self, request: Request) -> int | None:
        """The 32-bit value HAProxy looks up for ``request`` (after avalanche, if on).

        Returns:
            The value, or None when the key is missing (HAProxy balances round robin).

        Raises:
            ConfigError: ``balance source`` and a request without a valid client address.
        """
        balance = self.balance
        if balance.kind == "source":
            value = source_value(request.client_ip)
        else:
            if balance.kind == "uri":
                data = uri_bytes(request.request_uri, balance)
            else:
                found = header_value(request, balance.header)
                if not found:
                    return None
                data = found.encode()
            value = self._function(data)
        return full_hash(value) if self.hash_type.avalanche else value

    def pick_index(self, value: int) -> int:
        """The server index for a looked-up value (see ``key_hash``)."""
        if self._ring is not None:
            return self._ring.lookup(value)
        return self._table[value % len(self._table)]

    def pick(self, request: Request) -> Endpoint | None:
        """The server HAProxy sends ``request`` to.

        Returns:
            The endpoint, or None when HAProxy balances round robin (missing key with more
            than one server).

        Raises:
            ConfigError: ``balance source`` and a request without a valid client address.
        """
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        value = self.key_hash(request)
        if value is None:
            return None
        return self.endpoints[self.pick_index(value)]


def parse_server_ids(text: str) -> list[int | None]:
    """Parse ``--server-ids``: ``N,N,...`` in endpoint order, ``-`` for an automatic id.

    Raises:
        ConfigError: an item that is neither a whole number >= 1 nor ``-``.
    """
    ids: list[int | None] = []
    for item in (piece.strip() for piece in text.split(",")):
        if item == "-":
            ids.append(None)
        elif item.isdigit() and int(item) >= 1:
            ids.append(int(item))
        else:
            raise ConfigError(
                f"--server-ids: {item!r} is not a server id (a whole number >= 1, or '-' for "
                "an automatic id)"
            )
    return ids
