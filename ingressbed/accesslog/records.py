"""From a parsed log line to what the model needs: a request, its page and its time (pure).

``Extractor.build`` decides, once per run, which logged variables supply each part of
the request that the hash keys and the page cache read:

=================  ============================================================
request part       logged variable (first found)
=================  ============================================================
client address     ``$remote_addr``, else the leftmost ``$http_x_forwarded_for``
host               ``$host``, else ``$http_host``, else ``--host`` if given
request target     ``$request_uri``, else the target in ``"$request"``
method             ``$request_method``, else the method in ``"$request"``, else GET
scheme             ``$scheme``
header ``NAME``    ``$http_NAME``
cookie ``NAME``    ``$cookie_NAME``, else ``$http_cookie``
time               ``$time_local``, ``$time_iso8601`` or ``$msec``; else ``--rate``
=================  ============================================================

A part a key needs and the format lacks is an error, never a silent constant key. The
page (hellogo's cache key) is the host and the request target; GET and HEAD are
cacheable, other methods bypass the cache, as in hellogo.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ingressbed.accesslog import formats
from ingressbed.errors import ConfigError
from ingressbed.placement.variables import Request, host_value, normalize_path

#: Methods hellogo answers from its cache (others are BYPASS).
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
#: Host used for requests whose log line has none (the urls format with bare paths).
NO_HOST = "log.ingressbed.invalid"

_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_TIME_LOCAL = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")
_KEY_VARIABLE = re.compile(r"\$\{?([A-Za-z0-9_]+)")


@dataclass(frozen=True)
class Record:
    """One distinct request of the log: what the keys read and which page it asks for."""

    request: Request
    page: tuple[str, str]
    cacheable: bool
    method: str = "GET"


@dataclass(frozen=True)
class Extractor:
    """How to get requests, pages and times out of the parsed lines of one format.

    ``groups`` maps each request part (``client``, ``host``, ``uri``, ``method``,
    ``scheme``, ``header:NAME``, ``cookie:NAME``; ``url`` for the urls format) to the
    capture group of the variable that supplies it. ``time_group`` holds the time, or
    is None (then ``--rate`` spaces requests).
    """

    format_name: str
    regex: re.Pattern[str]
    groups: dict[str, int]
    sources: dict[str, str]
    time_group: int | None = None
    time_variable: str | None = None
    host: str | None = None

    @staticmethod
    def build(
        fmt: str,
        keys: Sequence[str],
        *,
        host: str | None = None,
        client: bool = False,
        logged: Sequence[str] = (),
    ) -> Extractor:
        """The extractor of format ``fmt`` for hash keys ``keys``.

        Only what the keys, the page cache and a replay read is captured.

        Args:
            fmt: ``upstreaminfo``, ``combined``, ``urls`` or an nginx format string.
            keys: the hash-key expressions of the candidates.
            host: the host to assume when the format logs none (``--host``).
            client: capture the client address even if no key reads it (a replay
                sends it as X-Forwarded-For).
            logged: more variables to capture as they are (``proxy_upstream_name``,
                ``upstream_addr``), as parts named ``log:NAME``; those the format lacks
                are left out.

        Returns:
            The extractor.

        Raises:
            ConfigError: an unknown variable, or a request part some key needs that the
                format does not log (one line naming the key, the part and the fix).
        """
        name, text = formats.resolve(fmt)
        wanted = key_needs(keys)
        if name == formats.URLS:
            for part in sorted(wanted - {"uri", "host", "scheme"}):
                raise ConfigError(_missing(part, keys, formats.URLS))
            return Extractor(
                format_name=name,
                regex=_URL_LINE,
                groups={"url": 1},
                sources={"url": "url"},
                host=host,
            )
        present = set(formats.variables(text))
        sources: dict[str, str] = {}

        def pick(part: str, *candidates: str) -> str | None:
            for variable in candidates:
                if variable in present:
                    sources[part] = variable
                    return variable
            return None

        if client or "client" in wanted:
            pick("client", "remote_addr", "http_x_forwarded_for")
        pick("host", "host", "http_host")
        if pick("uri", "request_uri", "request") is None:
            raise ConfigError(
                f'--log-format {name}: no $request_uri or "$request": the page cache and '
                "the hottest keys need the request target"
            )
        pick("method", "request_method", "request")
        if "scheme" in wanted:
            pick("scheme", "scheme")
        for part in wanted:
            if part.startswith("header:"):
                pick(part, "http_" + part[7:])
            elif part.startswith("cookie:"):
                pick(part, "cookie_" + part[7:], "http_cookie")
        for variable in logged:
            pick("log:" + variable, variable)
        for part in sorted(wanted):
            if part not in sources and not (part == "host" and host):
                raise ConfigError(_missing(part, keys, name))
        time_variable = next((v for v in formats.TIME_VARIABLES if v in present), None)
        capture = set(sources.values()) | ({time_variable} if time_variable else set())
        compiled = formats.compile_format(fmt, capture)
        return Extractor(
            format_name=name,
            regex=compiled.regex,
            groups={part: compiled.groups[v] for part, v in sources.items()},
            sources=sources,
            time_group=compiled.groups.get(time_variable) if time_variable else None,
            time_variable=time_variable,
            host=host,
        )

    def groups_for(self, parts: Sequence[str]) -> tuple[int, ...]:
        """The capture groups holding ``parts`` (each once, in order; absent parts left out).

        Args:
            parts: request parts, e.g. from ``key_needs``.

        Returns:
            Group numbers for ``re.Match.group``.
        """
        if "url" in self.groups:
            return (1,) if parts else ()
        wanted = set(parts)
        if "uri" in wanted and self.sources.get("uri") == "request":
            wanted.add("method")  # both come from "$request"
        return tuple(sorted({g for p, g in self.groups.items() if p in wanted}))

    def page_groups(self) -> tuple[int, ...]:
        """The groups a page (host, target, method) is read from."""
        return self.groups_for(("host", "uri", "method", "url"))

    def all_groups(self) -> tuple[int, ...]:
        """Every captured group but the time: what a replay keeps of a line."""
        return tuple(sorted(set(self.groups.values())))

    def record(self, groups: Sequence[int], values: str | Sequence[str]) -> Record:
        """Build the request of a line from the values of some of its groups.

        Args:
            groups: group numbers, as from ``groups_for``.
            values: ``match.group(*groups)`` (a string when there is one group).

        Returns:
            The record; parts whose group was not given are absent from the request.

        Raises:
            ConfigError: a value nginx would have refused (bad request line, Host or
                path), said in a few words.
        """
        by_group = dict(zip(groups, (values,) if isinstance(values, str) else values, strict=True))
        if "url" in self.groups:
            return _url_record(by_group.get(1, "/"), self.host)

        def get(part: str) -> str | None:
            group = self.groups.get(part)
            return None if group is None else by_group.get(group)

        return _record(get, self.sources, self.host)


_URI_VARIABLES = frozenset(
    {"request_uri", "uri", "document_uri", "args", "query_string", "is_args"}
)
_URL_LINE = re.compile(r"[ \t]*(\S+)[ \t]*[\r\n]*\Z")


def key_needs(keys: Sequence[str]) -> set[str]:
    """The request parts some hash keys read.

    Args:
        keys: hash-key expressions.

    Returns:
        Part names: ``client``, ``host``, ``uri``, ``scheme``, ``header:NAME``,
        ``cookie:NAME``.
    """
    needs: set[str] = set()
    for key in keys:
        for raw in _KEY_VARIABLE.findall(key):
            name = raw.lower()
            if name in ("remote_addr", "binary_remote_addr"):
                needs.add("client")
            elif name in ("host", "http_host"):
                needs.add("host")
            elif name in _URI_VARIABLES or name.startswith("arg_"):
                needs.add("uri")
            elif name == "scheme":
                needs.add("scheme")
            elif name.startswith("http_"):
                needs.add("header:" + name[5:])
            elif name.startswith("cookie_"):
                needs.add("cookie:" + name[7:])
    return needs


_PART_HINTS = {
    "client": "$remote_addr or $http_x_forwarded_for",
    "host": "$host or $http_host",
    "uri": '$request_uri or "$request"',
    "scheme": "$scheme",
}


def _missing(part: str, keys: Sequence[str], fmt: str) -> str:
    needing = [k for k in keys if part in key_needs([k])]
    if part.startswith("header:"):
        what = f"$http_{part[7:]}"
    elif part.startswith("cookie:"):
        what = f"$cookie_{part[7:]} or $http_cookie"
    else:
        what = _PART_HINTS[part]
    fix = "use a format that logs it"
    if part == "host":
        fix += ", or give --host NAME if every request went to one host"
    return (
        f"hash key {needing[0]!r} needs {what}, but the log format {fmt} has none: {fix} "
        "(a missing part would make every key the same)"
    )


def unescape(value: str) -> str:
    """Undo nginx's ``\\xHH`` escaping of a logged value.

    Args:
        value: the logged text.

    Returns:
        The value as sent (bytes decoded as UTF-8, invalid ones replaced).
    """
    if "\\x" not in value:
        return value
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return raw.encode("latin-1", errors="replace").decode("utf-8", errors="replace")


def _record(
    get: Callable[[str], str | None], sources: dict[str, str], host_option: str | None
) -> Record:
    # A part whose value was not given (get -> None) is not read by the caller: the
    # target then stays "/" unchecked.
    target = get("uri")
    method = get("method")
    if target is not None and sources.get("uri") == "request":
        # "$request" is METHOD SP TARGET SP PROTOCOL (junk for a request nginx refused).
        parts = target.split(" ")
        if len(parts) < 2 or not parts[1].startswith(("/", "http://", "https://")):
            raise ConfigError(f"request line {target!r} has no target")
        target = parts[1]
        if sources.get("method") == "request":
            method = parts[0]
    if target is None:
        target = "/"
    elif not target or target == "-":
        raise ConfigError("no request target")
    else:
        target = unescape(target)
        if target.startswith("/"):
            normalize_path(target.partition("?")[0])  # nginx refuses a path above the root
    method = (method or "GET").upper()
    client = (get("client") or "").split(",", 1)[0].strip()
    host = get("host")
    if host is None or host in ("", "-"):
        host = host_option or ""
    host = unescape(host)
    host_value(host)  # nginx refuses a bad Host with 400
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for part, variable in sources.items():
        value = get(part)
        if value is None or value == "-":  # nginx logs "-" for a missing value
            continue
        if part.startswith("header:"):
            headers[part[7:].replace("_", "-")] = unescape(value)
        elif part.startswith("cookie:"):
            if variable == "http_cookie":
                headers["Cookie"] = unescape(value)
            else:
                cookies[part[7:]] = unescape(value)
    return Record(
        request=Request(
            client_ip="" if client == "-" else client,
            host=host,
            request_uri=target,
            headers=headers,
            cookies=cookies,
            scheme=get("scheme") or "http",
        ),
        page=(host.lower() or NO_HOST, target),
        cacheable=method in CACHEABLE_METHODS,
        method=method,
    )


def _url_record(text: str, host_option: str | None) -> Record:
    url = text.strip()
    scheme = "http"
    if "://" in url:
        scheme, _, rest = url.partition("://")
        slash = rest.find("/")
        host, target = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    elif url.startswith("/"):
        host, target = "", url
    else:
        raise ConfigError("not a URL (http://host/path or /path)")
    host = host or host_option or ""
    host_value(host)  # nginx refuses a bad Host with 400
    return Record(
        request=Request(host=host, request_uri=target, scheme=scheme.lower()),
        page=(host.lower() or NO_HOST, target),
        cacheable=True,
    )


def parse_time(variable: str, text: str) -> float:
    """Seconds since the epoch from a logged time.

    Args:
        variable: ``time_local``, ``time_iso8601`` or ``msec``.
        text: the logged value.

    Returns:
        The time as a float.

    Raises:
        ValueError: text that is not such a time.
    """
    if variable == "msec":
        return float(text)
    if variable == "time_local":
        match = _TIME_LOCAL.fullmatch(text)
        if not match or match.group(2) not in _MONTHS:
            raise ValueError(f"not a $time_local: {text!r}")
        day, month, year, hour, minute, second, sign, tz_h, tz_m = match.groups()
        stamp = calendar.timegm(
            (int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
        )
        offset = (int(tz_h) * 60 + int(tz_m)) * 60
        return float(stamp - offset if sign == "+" else stamp + offset)
    return datetime.fromisoformat(text).timestamp()
