"""Access-log formats: from an nginx ``log_format`` string to a line parser (pure).

A format is literal text and variables (``$name`` or ``${name}``). ``compile_format``
turns it into one regular expression whose capture groups are only the fields the
analysis reads (time, client, host, request, method, the headers a key names); every
other variable is matched but not captured, so parsing costs about what a hand-written
regex costs.

A variable whose value never holds a space (an address, a number, a name) is matched up
to the literal character that follows it in the format, and never across a space.
``$time_local`` has a fixed shape (``10/Oct/2000:13:55:36 -0700``, a space inside) and
is matched by that shape wherever it stands. The other variables whose values may hold
spaces (``$request``, headers, ``$uri``, ``$remote_user``, ...) are matched up to a
closing ``"`` when quoted (nginx escapes ``"``, ``\\`` and control bytes in logged
values, so a quoted field cannot end early); unquoted, they take whatever the rest of
the format leaves them. Upstream variables that list several attempts
(``10.0.0.1:80, 10.0.0.2:80``) may hold ``", "`` and ``" : "`` even where a space ends
the field.

Named formats:

* ``upstreaminfo``: ingress-nginx's default ``log-format-upstream``;
* ``combined``: nginx's predefined format;
* ``urls``: one URL per line (``http://host/path?q`` or ``/path?q``), the input of
  http_load; it has no time and no client address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingressbed.errors import ConfigError
from ingressbed.suggest import suggest

#: ingress-nginx's default access-log format (ConfigMap key ``log-format-upstream``).
UPSTREAMINFO = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] '
    "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length "
    "$upstream_response_time $upstream_status $req_id"
)
#: nginx's predefined ``combined`` format.
COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)
#: The plain URL list (one URL per line); not an nginx format.
URLS = "urls"
NAMED: dict[str, str] = {"upstreaminfo": UPSTREAMINFO, "combined": COMBINED}

#: Variables that carry a time, best first.
TIME_VARIABLES: tuple[str, ...] = ("time_local", "time_iso8601", "msec")

#: nginx variables the parser accepts in a format (besides the families below).
KNOWN: frozenset[str] = frozenset(
    {
        *TIME_VARIABLES,
        "args",
        "binary_remote_addr",
        "body_bytes_sent",
        "bytes_sent",
        "connection",
        "connection_requests",
        "content_length",
        "content_type",
        "document_root",
        "document_uri",
        "gzip_ratio",
        "host",
        "hostname",
        "ingress_name",
        "is_args",
        "location_path",
        "namespace",
        "pid",
        "pipe",
        "proxy_add_x_forwarded_for",
        "proxy_alternative_upstream_name",
        "proxy_protocol_addr",
        "proxy_protocol_port",
        "proxy_upstream_name",
        "query_string",
        "realip_remote_addr",
        "remote_addr",
        "remote_port",
        "remote_user",
        "req_id",
        "request",
        "request_body",
        "request_completion",
        "request_filename",
        "request_id",
        "request_length",
        "request_method",
        "request_time",
        "request_uri",
        "scheme",
        "server_addr",
        "server_name",
        "server_port",
        "server_protocol",
        "service_name",
        "service_port",
        "ssl_cipher",
        "ssl_protocol",
        "ssl_server_name",
        "status",
        "the_real_ip",
        "time_local",
        "upstream_addr",
        "upstream_bytes_received",
        "upstream_bytes_sent",
        "upstream_cache_status",
        "upstream_connect_time",
        "upstream_header_time",
        "upstream_response_length",
        "upstream_response_time",
        "upstream_status",
        "uri",
    }
)
#: Variable families: a header, cookie, argument or upstream header named after the prefix.
FAMILIES: tuple[str, ...] = (
    "http_",
    "sent_http_",
    "sent_trailer_",
    "upstream_http_",
    "upstream_cookie_",
    "upstream_trailer_",
    "cookie_",
    "arg_",
)
#: Upstream variables listing one value per attempt, separated by ", " or " : ".
_LISTS = frozenset(
    {
        "upstream_addr",
        "upstream_status",
        "upstream_response_time",
        "upstream_response_length",
        "upstream_connect_time",
        "upstream_header_time",
        "upstream_bytes_received",
        "upstream_bytes_sent",
        "upstream_cache_status",
    }
)
#: Variables whose values may hold spaces (besides the families in ``_SPACED_FAMILIES``).
_SPACED = frozenset(
    {
        "request",
        "remote_user",
        "uri",
        "document_uri",
        "document_root",
        "request_filename",
        "request_body",
        "content_type",
        "binary_remote_addr",  # raw bytes: 0x20 is not escaped
        "proxy_add_x_forwarded_for",  # "a, b"
        "location_path",
    }
)
#: Client addresses: a list (``a, b``) where a log writes X-Forwarded-For into them.
_ADDRESS_LISTS = frozenset({"remote_addr", "realip_remote_addr", "the_real_ip"})
#: Families whose values may hold spaces: headers, cookies and arguments as sent.
_SPACED_FAMILIES = FAMILIES
#: ``$time_local`` as nginx writes it, whatever surrounds it.
_TIME_LOCAL = r"\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}"
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_DIRECTIVE = re.compile(r"\s*log_format\s+\S+\s+(?:escape=\S+\s+)?(.*?)\s*;?\s*", re.S)
_SEGMENTS = re.compile(r"\s*((?:'[^']*'|\"(?:[^\"\\]|\\.)*\")\s*)+;?\s*", re.S)
_SEGMENT = re.compile(r"'([^']*)'|\"((?:[^\"\\]|\\.)*)\"", re.S)


def is_known(name: str) -> bool:
    """Whether the parser accepts ``$name`` in a format.

    Args:
        name: the variable name without ``$``, any case.

    Returns:
        True for the known names and the header/cookie/argument families.
    """
    lowered = name.lower()
    if lowered in KNOWN:
        return True
    return any(lowered.startswith(p) and len(lowered) > len(p) for p in FAMILIES)


def unquote(text: str) -> str:
    """The format string inside a pasted ``log_format`` directive or quoted segments.

    ``log_format main '$remote_addr ' '"$request"';`` and ``'$remote_addr ' '"$request"'``
    both give ``$remote_addr "$request"``; anything else is returned unchanged (a format
    in double quotes only inside a ``log_format`` directive).

    Args:
        text: what the user gave to ``--log-format``.

    Returns:
        The bare format.
    """
    directive = _DIRECTIVE.fullmatch(text)
    body = directive.group(1) if directive else text
    # Outside a directive only single-quoted pieces are unwrapped: '"$request"' alone is
    # a format whose field is quoted, not a quoted format.
    if (directive or body.lstrip().startswith("'")) and _SEGMENTS.fullmatch(body):
        return "".join(
            m.group(1) if m.group(1) is not None else m.group(2).replace('\\"', '"')
            for m in _SEGMENT.finditer(body)
        )
    return body


def variables(fmt: str) -> list[str]:
    """The variable names of a format, lowercased, in order.

    Args:
        fmt: a bare format string.

    Returns:
        Names without ``$``.
    """
    return [(braced or plain).lower() for braced, plain in _VARIABLE.findall(fmt)]


@dataclass(frozen=True)
class LineFormat:
    """A compiled format: the regex and the group number of each captured variable.

    ``groups`` maps a variable name to its capture group (1-based); only the names
    asked for in ``compile_format`` are captured. ``names`` lists every variable of
    the format.
    """

    name: str
    text: str
    regex: re.Pattern[str]
    groups: dict[str, int]
    names: frozenset[str]


def resolve(fmt: str) -> tuple[str, str]:
    """The display name and bare format string for a ``--log-format`` value.

    Args:
        fmt: ``upstreaminfo``, ``combined``, ``urls`` or an nginx format string.

    Returns:
        ``(name, format string)``; for ``urls`` the format string is empty.

    Raises:
        ConfigError: an empty format, a format without variables, or an unknown
            variable (named, with the closest known name).
    """
    if fmt in NAMED:
        return fmt, NAMED[fmt]
    if fmt == URLS:
        return URLS, ""
    text = unquote(fmt)
    found = variables(text)
    if not text.strip():
        raise ConfigError("--log-format is empty: give upstreaminfo, combined, urls or a format")
    if not found:
        raise ConfigError(
            f"--log-format {fmt!r} has no $variable: give upstreaminfo, combined, urls or an "
            "nginx log_format string such as '$remote_addr [$time_local] \"$request\"'"
        )
    for name in found:
        if not is_known(name):
            hint = suggest(name, KNOWN)
            raise ConfigError(
                f"--log-format: unknown variable ${name}{hint}; the parser knows the usual "
                "nginx and ingress-nginx variables and $http_*, $cookie_*, $arg_*, "
                "$sent_http_*, $upstream_http_*"
            )
    return "custom", text


def compile_format(fmt: str, capture: set[str] | frozenset[str]) -> LineFormat:
    """Build the line parser of a format, capturing the variables in ``capture``.

    Args:
        fmt: ``upstreaminfo``, ``combined`` or an nginx format string (not ``urls``).
        capture: variable names (lowercase) to capture; the first occurrence of each
            is captured, names the format lacks are ignored.

    Returns:
        The compiled format.

    Raises:
        ConfigError: as ``resolve``.
    """
    name, text = resolve(fmt)
    if name == URLS:
        raise ConfigError("the urls format has no log_format string to compile")
    pieces: list[str] = []
    groups: dict[str, int] = {}
    tokens = _tokens(text)
    for index, (kind, value) in enumerate(tokens):
        if kind == "text":
            pieces.append(re.escape(value))
            continue
        after = tokens[index + 1] if index + 1 < len(tokens) else ("end", "")
        pattern = _field(value, after)
        if value in capture and value not in groups:
            groups[value] = len(groups) + 1
            pieces.append(f"({pattern})")
        else:
            pieces.append(f"(?:{pattern})")
    pieces.append(r"[\r\n]*\Z")
    return LineFormat(
        name=name,
        text=text,
        regex=re.compile("".join(pieces)),
        groups=groups,
        names=frozenset(v for k, v in tokens if k == "var"),
    )


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            tokens.append(("text", text[position : match.start()]))
        tokens.append(("var", (match.group(1) or match.group(2)).lower()))
        position = match.end()
    if position < len(text):
        tokens.append(("text", text[position:]))
    return tokens


def can_hold_spaces(name: str) -> bool:
    """Whether nginx may log a value with a space for ``$name`` (lowercase)."""
    if name in _SPACED or name == "time_local":
        return True
    return any(name.startswith(p) and len(name) > len(p) for p in _SPACED_FAMILIES)


def _field(name: str, after: tuple[str, str]) -> str:
    """The regex of one variable's value, given the token after it."""
    if name == "time_local":
        return _TIME_LOCAL
    kind, following = after
    spaced = can_hold_spaces(name)
    if kind == "var":
        return ".*?"  # another variable follows directly: let the regex engine split them
    stop = following[0] if kind == "text" else "\n"
    if stop in " \r\n" and name in _LISTS:
        return r"[^ \r\n]*(?:(?:, | : )[^ \r\n]*)*"
    if stop in " \r\n" and name in _ADDRESS_LISTS:
        return r"[^ \r\n]*(?:, [^ \r\n]*)*"
    if stop in "\r\n":
        return r"[^\r\n]*" if spaced else r"[^ \r\n]*"
    if stop == '"' or not spaced:
        # a quoted value cannot hold an unescaped '"'; a value without spaces ends at one
        blanks = "" if spaced or stop == " " else " "
        return f"[^{re.escape(stop)}{blanks}\\r\\n]*"
    return r"[^\r\n]*?"  # may hold the stop character: the rest of the format decides
