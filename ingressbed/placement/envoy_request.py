"""A ``Request`` as Envoy's router sees it when it hashes (pure).

By then the HTTP/1 codec and the connection manager have changed the request:

- header names are lowercase and values trimmed of blanks;
- the Host header (or the authority of an absolute-form target) is ``:authority``, which
  a hash policy on ``:authority`` or on ``host`` finds verbatim (port and case kept);
- ``:path`` is normalized as Envoy Gateway asks (``envoy_path``), the query kept as sent;
- repeated lines of a header Envoy keeps "inline" (X-Forwarded-For, User-Agent, ...; see
  ``INLINE_HEADERS``) are merged into one value joined by ``,``; other headers keep one
  entry per line;
- with Envoy Gateway's default client settings (``use_remote_address``), X-Forwarded-For
  gets the TCP peer appended before the router hashes (``a`` becomes ``a,peer``; absent,
  it is the peer); with a ClientTrafficPolicy's X-Forwarded-For detection the router sees
  it as sent.

Where the fields come from: the lines are ``request.headers`` followed by
``request.header_lines``; ``request.host`` wins over Host lines; ``request.cookies`` add
one Cookie line; without any X-Forwarded-For line, ``request.client_ip`` is sent as one,
as the bed sends its simulated clients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_address import join_address, split_peer
from ingressbed.placement.envoy_path import forwarded_path
from ingressbed.placement.variables import Request

#: Request headers Envoy 1.39 keeps inline: their repeated lines are joined with ",".
#: Envoy's own list plus the ones its built-in extensions register; the set was read from
#: the real binary (two lines in both orders: merged or sorted and chained). Not inline,
#: so one entry per line, among others: accept-language, cookie, forwarded, range,
#: traceparent, x-real-ip, x-forwarded-prefix and any custom x- header.
INLINE_HEADERS: frozenset[str] = frozenset(
    """
    accept accept-encoding access-control-request-headers access-control-request-method
    authorization cache-control connection content-encoding content-length content-type
    expect grpc-accept-encoding grpc-timeout if-match if-modified-since if-none-match
    if-range if-unmodified-since keep-alive origin pragma proxy-connection referer te
    transfer-encoding upgrade user-agent via x-client-trace-id x-forwarded-client-cert
    x-forwarded-for x-forwarded-host x-forwarded-port
    """.split()
)
#: Headers Envoy rewrites or drops before the router hashes, so their value is not the
#: client's: the model refuses to hash them (``x-envoy-*`` too).
REWRITTEN_HEADERS: frozenset[str] = frozenset(
    {"x-request-id", "x-forwarded-proto", "connection", "keep-alive", "proxy-connection",
     "transfer-encoding", "upgrade", "te", "content-length"}
)  # fmt: skip
#: Pseudo-headers the model hashes.
PSEUDO_HEADERS: tuple[str, ...] = (":path", ":authority")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


@dataclass(frozen=True)
class EnvoyView:
    """What Envoy's hash policies read.

    ``lines`` are ``(name, value)`` after the codec and the connection manager (names
    lowercase, inline headers merged, X-Forwarded-For appended, no Host); ``xff`` is the
    X-Forwarded-For the client sent (joined), which the client address is read from;
    ``peer`` is the TCP peer as ``(IP, port or None)`` (``("", None)`` when not given);
    ``local`` the listener's ``IP:PORT`` ("" when not given).
    """

    lines: tuple[tuple[str, str], ...]
    path: str
    authority: str | None
    xff: str | None
    peer: tuple[str, int | None]
    local: str

    def values(self, name: str) -> list[str]:
        """Every entry Envoy holds for a header name (any case), pseudo-headers included.

        Args:
            name: the header name.

        Returns:
            The values, in arrival order (empty when there is none).
        """
        wanted = name.lower()
        if wanted == ":path":
            return [self.path]
        if wanted in (":authority", "host"):
            return [] if self.authority is None else [self.authority]
        return [value for key, value in self.lines if key == wanted]

    def peer_address(self) -> str:
        """The TCP peer as ``IP:PORT`` (a generated cookie hashes it).

        Raises:
            ConfigError: the request gives no peer port.
        """
        ip, port = self.peer
        if not ip or port is None:
            raise ConfigError(
                "a cookie with a TTL that the request lacks is generated from the TCP peer "
                "and the listener: give peer as IP:PORT and local as IP:PORT"
            )
        return join_address(ip, port)


def check_header_name(name: str) -> str:
    """A header name a hash policy may use, lowercase.

    Args:
        name: the name (``x-user``, ``:path``, ``:authority``).

    Returns:
        The lowercase name.

    Raises:
        ConfigError: not a header name, a pseudo-header the model does not hash, or a
            header Envoy rewrites before hashing.
    """
    wanted = name.lower()
    if wanted.startswith(":"):
        if wanted not in PSEUDO_HEADERS:
            raise ConfigError(
                f"header {name!r}: the model hashes the pseudo-headers {', '.join(PSEUDO_HEADERS)}"
            )
        return wanted
    if not _TOKEN.fullmatch(name):
        raise ConfigError(f"header {name!r} is not a header name")
    if wanted in REWRITTEN_HEADERS or wanted.startswith("x-envoy-"):
        raise ConfigError(
            f"header {name!r}: Envoy rewrites or drops it before the router hashes, so the "
            "model cannot predict its value; hash another header"
        )
    return wanted


def view(request: Request, *, append_peer: bool = True) -> EnvoyView:
    """The request as Envoy's router sees it.

    Args:
        request: the request (see the module docstring for the fields it reads).
        append_peer: whether the peer is appended to X-Forwarded-For before the router
            (``use_remote_address: true``, Envoy Gateway's default).

    Returns:
        Its view.

    Raises:
        ConfigError: a target Envoy never forwards, a bad peer or local address.
    """
    raw = [*request.headers.items(), *request.header_lines]
    lines: list[tuple[str, str]] = []
    hosts: list[str] = []
    for name, value in raw:
        key, text = name.lower(), value.strip(" \t")
        if key == "host":
            hosts.append(text)
        elif _TOKEN.fullmatch(name):
            lines.append((key, text))
    if request.cookies:
        lines.append(("cookie", "; ".join(f"{k}={v}" for k, v in request.cookies.items())))
    authority: str | None = request.host.strip(" \t") if request.host else None
    if authority is None and hosts:
        authority = hosts[0]
    absolute = _ABSOLUTE.match(request.request_uri)
    if absolute:
        authority = absolute.group(1)
    forwarded = [value for key, value in lines if key == "x-forwarded-for"]
    if not forwarded and request.client_ip:
        forwarded = [request.client_ip.strip(" \t")]
    xff = ",".join(forwarded) if forwarded else None
    peer: tuple[str, int | None] = ("", None)
    if request.peer:
        peer = split_peer(request.peer, "peer")
    local = ""
    if request.local:
        local_ip, local_port = split_peer(request.local, "local")
        if local_port is None:
            raise ConfigError(f"local {request.local!r}: give the listener as IP:PORT")
        local = join_address(local_ip, local_port)
    merged = _merge_inline([(k, v) for k, v in lines if k != "x-forwarded-for"])
    if append_peer:
        appended = [*([xff] if xff is not None else []), *([peer[0]] if peer[0] else [])]
        if appended:
            merged.append(("x-forwarded-for", ",".join(appended)))
    elif xff is not None:
        merged.append(("x-forwarded-for", xff))
    return EnvoyView(
        tuple(merged), forwarded_path(request.request_uri), authority, xff, peer, local
    )


def _merge_inline(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    merged: list[tuple[str, str]] = []
    where: dict[str, int] = {}
    for key, value in lines:
        if key in INLINE_HEADERS and key in where:
            index = where[key]
            merged[index] = (key, merged[index][1] + "," + value)
            continue
        where[key] = len(merged)
        merged.append((key, value))
    return merged
