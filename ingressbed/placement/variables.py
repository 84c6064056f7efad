"""A request as nginx sees it, and the values of the nginx variables a hash key may use.

Values follow nginx's own rules (the same binary runs inside ingress-nginx):

* ``$remote_addr`` / ``$binary_remote_addr``: the client address after the realip module
  (``X-Forwarded-For`` trusted), as text in nginx's format or as 4/16 raw bytes;
* ``$host``: the Host header lowercased, port and one trailing dot removed;
* ``$request_uri``: the request target as sent; ``$uri``: its path percent-decoded with
  slashes merged and ``.``/``..`` resolved; ``$args``: the raw query string;
* ``$http_NAME``: the first header whose name, lowercased with ``-`` read as ``_``, is
  NAME. Header names holding ``_`` or other characters nginx calls invalid are dropped, as
  nginx does by default (``underscores_in_headers off``, ``ignore_invalid_headers on``);
* ``$arg_NAME`` / ``$cookie_NAME``: first match, name compared without case.

A lookup answers ``None`` where nginx reports the variable as not found (no such header,
argument or cookie; no query string for ``$args``): ingress-nginx hashes that differently
from an empty value in its legacy mode.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import unquote_to_bytes

from ingressbed.errors import ConfigError

_EMPTY: Mapping[str, str] = MappingProxyType({})
_VALID_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")

#: Variables with a fixed name that the model evaluates.
EXACT_VARIABLES: frozenset[str] = frozenset(
    {
        "remote_addr",
        "binary_remote_addr",
        "host",
        "request_uri",
        "uri",
        "document_uri",
        "args",
        "query_string",
        "is_args",
        "scheme",
    }
)

#: Variable families: the part after the prefix names a header, argument or cookie.
PREFIXES: tuple[str, ...] = ("http_", "arg_", "cookie_")


@dataclass(frozen=True)
class Request:
    """One HTTP request, reduced to what hash keys can read.

    ``client_ip`` is the address nginx ends up with (with ``use-forwarded-headers`` the
    leftmost ``X-Forwarded-For`` entry). ``host`` is the Host header (falls back to a
    ``Host`` entry in ``headers``). ``cookies`` are sent in the Cookie header after any
    Cookie header given in ``headers``.

    Envoy reads more of a request than nginx does, so three fields serve the envoy flavor
    only (the other flavors ignore them; their defaults keep every older caller as it was):

    - ``header_lines``: header lines as sent, ``(name, value)`` pairs in order, a name
      possibly more than once (Envoy hashes every line of a repeated header). They come
      after the lines of ``headers``.
    - ``peer``: the TCP peer, ``IP`` or ``IP:PORT`` (``[v6]:PORT``): the address Envoy
      Gateway hashes for ``source-ip`` when no ClientTrafficPolicy says otherwise, and
      (with its port) the seed of a cookie Envoy generates.
    - ``local``: the listener address the connection reached, ``IP:PORT``; only a
      generated cookie reads it.
    """

    client_ip: str = ""
    host: str = ""
    request_uri: str = "/"
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    cookies: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    scheme: str = "http"
    header_lines: tuple[tuple[str, str], ...] = ()
    peer: str = ""
    local: str = ""

    def header(self, name: str) -> str | None:
        """A request header as nginx keeps it.

        Args:
            name: the header name, any case.

        Returns:
            The first matching value without surrounding blanks (``host`` prefers the
            ``host`` field, ``cookie`` is ``cookie_header()``), or ``None``.
        """
        wanted = name.lower()
        if wanted == "host" and self.host:
            return self.host
        if wanted == "cookie":
            return self.cookie_header()
        for key, value in self.headers.items():
            if key.lower() == wanted and _VALID_HEADER_NAME.fullmatch(key):
                return value.strip(" \t")
        return None

    def cookie_header(self) -> str | None:
        """The Cookie header this request sends.

        Returns:
            A ``Cookie`` entry of ``headers`` followed by ``cookies`` as ``name=value``,
            joined with ``"; "``; ``None`` without any cookie.
        """
        parts = [
            value.strip(" \t")
            for key, value in self.headers.items()
            if key.lower() == "cookie" and value.strip(" \t")
        ][:1]
        parts += [f"{name}={value}" for name, value in self.cookies.items()]
        return "; ".join(parts) if parts else None


def is_supported(name: str) -> bool:
    """Whether the model can evaluate an nginx variable.

    Args:
        name: the variable name without ``$``, lowercase.

    Returns:
        True for the exact names and the ``http_``/``arg_``/``cookie_`` families.
    """
    if name in EXACT_VARIABLES:
        return True
    return any(name.startswith(prefix) and len(name) > len(prefix) for prefix in PREFIXES)


def lookup(name: str, request: Request) -> bytes | None:
    """The value of nginx variable ``name`` for ``request``.

    Args:
        name: the variable name without ``$``, lowercase.
        request: the request.

    Returns:
        The value as bytes, or ``None`` when nginx reports it as not found.

    Raises:
        ConfigError: an unsupported variable, or a request nginx would refuse with 400
            (bad Host, path above the root, missing or invalid client address).
    """
    if name in ("remote_addr", "binary_remote_addr"):
        address = _client_address(request.client_ip)
        return address.packed if name == "binary_remote_addr" else format_address(address)
    target = parse_target(request.request_uri)
    if name == "host":
        if target.host is not None:
            return target.host
        return host_value(request.header("host") or "")
    if name == "request_uri":
        return target.request_uri.encode()
    query = target.query
    if name in ("uri", "document_uri"):
        return normalize_path(target.path)
    if name in ("args", "query_string"):
        return None if query is None else query.encode()
    if name == "is_args":
        return b"?" if query else b""  # empty for "/x" and for "/x?" alike
    if name == "scheme":
        return request.scheme.encode()
    if name.startswith("http_") and len(name) > 5:
        return _header_variable(name[5:], request)
    if name.startswith("arg_") and len(name) > 4:
        return argument(query or "", name[4:])
    if name.startswith("cookie_") and len(name) > 7:
        return cookie(request.cookie_header() or "", name[7:])
    raise ConfigError(f"unsupported variable ${name}")


_ABSOLUTE = re.compile(r"([A-Za-z]+)://([^/?#]*)(.*)", re.DOTALL)


@dataclass(frozen=True)
class Target:
    """A request target split the way nginx splits it.

    ``host`` is the host of an absolute-form target (``http://h/p``: it wins over the Host
    header), else None. ``request_uri`` is ``$request_uri`` (for an absolute form the part
    after the authority, ``/`` if nothing follows). ``path`` runs to the first ``?`` or
    ``#``; ``query`` is the text between ``?`` and ``#`` (``""`` for a bare ``?``), or
    None without ``?``.
    """

    host: bytes | None
    request_uri: str
    path: str
    query: str | None


def parse_target(target: str) -> Target:
    """Split a request target (origin form ``/p?q`` or absolute form ``http://h/p?q``).

    Args:
        target: the request target as sent.

    Returns:
        Its parts.

    Raises:
        ConfigError: an absolute form with a host nginx refuses.
    """
    host: bytes | None = None
    absolute = _ABSOLUTE.fullmatch(target)
    if absolute:
        host = host_value(absolute.group(2))
        target = absolute.group(3) or "/"
    cut = len(target)
    for mark in "?#":
        found = target.find(mark)
        if 0 <= found < cut:
            cut = found
    path = target[:cut] or "/"
    query: str | None = None
    if target[cut : cut + 1] == "?":
        query = target[cut + 1 :].split("#", 1)[0]
    return Target(host, target, path, query)


def _client_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not text:
        raise ConfigError(
            "the hash key reads the client address but the request has none: "
            "give --client-ip (or client_ip in a --batch line)"
        )
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError as exc:
        raise ConfigError(f"client_ip {text!r} is not an IPv4 or IPv6 address") from exc


def format_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    """``$remote_addr`` text: dotted quad, or IPv6 the way nginx prints it.

    nginx compresses the first longest run of two or more zero groups and prints the last
    32 bits as a dotted quad for IPv4-mapped (``::ffff:a.b.c.d``) and IPv4-compatible
    addresses, which Python's ``ipaddress`` does not do.

    Args:
        address: the client address.

    Returns:
        The text nginx would put in ``$remote_addr``.
    """
    if address.version == 4:
        return str(address).encode()
    raw = address.packed
    groups = [raw[i] << 8 | raw[i + 1] for i in range(0, 16, 2)]
    best_start, best_len, run_start, run_len = -1, 1, -1, 0
    for index, group in enumerate([*groups, 1]):  # the sentinel closes a trailing run
        if group == 0:
            run_start = index if run_len == 0 else run_start
            run_len += 1
            continue
        if run_len > best_len:
            best_start, best_len = run_start, run_len
        run_len = 0
    count = 8
    if best_start == 0 and (
        (best_len == 5 and groups[5] == 0xFFFF)
        or best_len == 6
        or (best_len == 7 and raw[14] != 0 and raw[15] != 1)
    ):
        count = 6
    text = ":" if best_start == 0 else ""
    index = 0
    while index < count:
        if index == best_start:
            text += ":"
            index += best_len
            continue
        text += f"{groups[index]:x}" + (":" if index < 7 else "")
        index += 1
    if count == 6:
        text += ".".join(str(b) for b in raw[12:])
    return text.encode()


def host_value(raw: str) -> bytes:
    """``$host`` from a Host header: lowercase, no port, no trailing dot.

    Args:
        raw: the Host header ("" when absent: nginx then uses the server name, unknown
            here, and this returns ``b""``).

    Returns:
        The normalized host.

    Raises:
        ConfigError: a Host nginx refuses with 400 (``..``, a slash, spaces, controls).
    """
    if not raw:
        return b""
    end = len(raw)
    state = "usual"
    last_dot = -2
    for index, char in enumerate(raw):
        if char == ".":
            if last_dot == index - 1:
                raise ConfigError(f"Host {raw!r}: nginx answers 400 (empty label)")
            last_dot = index
        elif char == ":" and state == "usual":
            end, state = index, "rest"
        elif char == "[" and index == 0:
            state = "literal"
        elif char == "]" and state == "literal":
            end, state = index + 1, "rest"
        elif char in "/\x7f" or ord(char) <= 0x20:
            raise ConfigError(f"Host {raw!r}: nginx answers 400 (invalid character)")
    if last_dot == end - 1:
        end -= 1
    if end <= 0:
        raise ConfigError(f"Host {raw!r}: nginx answers 400 (empty host)")
    return raw[:end].encode().lower()  # ASCII-only lowercasing, like nginx


def normalize_path(path: str) -> bytes:
    """``$uri`` for a request path: decoded, slashes merged, dot segments resolved.

    Args:
        path: the path part of the request target (before ``?``).

    Returns:
        The normalized, percent-decoded path.

    Raises:
        ConfigError: a path nginx refuses with 400 (not starting with ``/``, ``..`` above
            the root, a bad or NUL escape).
    """
    if not path.startswith("/"):
        raise ConfigError(f"request path {path!r} must start with '/'")
    if re.search(r"%(?![0-9A-Fa-f]{2})", path) or re.search(r"%00", path):
        raise ConfigError(f"request path {path!r}: nginx answers 400 (bad percent escape)")
    segments = unquote_to_bytes(path).split(b"/")[1:]
    kept: list[bytes] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == b"..":
            if not kept:
                raise ConfigError(f"request path {path!r}: nginx answers 400 (above the root)")
            kept.pop()
        elif segment not in (b"", b"."):
            kept.append(segment)
            continue
        if last:
            kept.append(b"")  # a trailing "/", "/." or "/.." leaves a trailing slash
    return b"/" + b"/".join(kept)


def _header_variable(name: str, request: Request) -> bytes | None:
    if name == "host":
        value = request.header("host")
    elif name == "cookie":
        value = request.cookie_header()
    else:
        value = None
        for key, raw in request.headers.items():
            if _VALID_HEADER_NAME.fullmatch(key) and key.lower().replace("-", "_") == name:
                value = raw.strip(" \t")
                break
    return None if value is None else value.encode()


def argument(query: str, name: str) -> bytes | None:
    """``$arg_NAME``: the raw value of the first ``name=`` in ``query`` (name without case).

    Args:
        query: the query string without ``?``.
        name: the argument name.

    Returns:
        The undecoded value, or ``None`` when no item starts with ``name=``.
    """
    wanted = name.lower() + "="
    for item in query.split("&"):
        if item[: len(wanted)].lower() == wanted:
            return item[len(wanted) :].encode()
    return None


def cookie(header: str, name: str) -> bytes | None:
    """``$cookie_NAME`` parsed from a Cookie header the way nginx does.

    Items are separated by ``;`` or ``,``; the name is compared without case and may be
    followed by spaces before ``=``; the value runs to the next ``;``.

    Args:
        header: the Cookie header value.
        name: the cookie name.

    Returns:
        The value, or ``None`` when no item has that name.
    """
    size, position, wanted = len(header), 0, name.lower()
    while position < size:
        if header[position : position + len(name)].lower() == wanted:
            cursor = position + len(name)
            while cursor < size and header[cursor] == " ":
                cursor += 1
            if cursor < size and header[cursor] == "=":
                cursor += 1
                while cursor < size and header[cursor] == " ":
                    cursor += 1
                end = header.find(";", cursor)
                return header[cursor : size if end < 0 else end].encode()
        while position < size and header[position] not in ";,":
            position += 1
        position += 1
        while position < size and header[position] == " ":
            position += 1
    return None
