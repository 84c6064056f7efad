"""``Set-Cookie`` answers and a browser's cookie jar, sans-I/O (RFC 6265).

``parse_set_cookie`` reads one ``Set-Cookie`` value into its name, value and attributes
as written (the expectations judge them). ``Jar`` keeps what one browser would: it
stores cookies from answers (``receive``) and says which it sends with a request
(``header``), following RFC 6265 section 5:

- **Domain**: without a ``Domain`` attribute a cookie is host-only (sent back to that
  very host); with one (a leading ``.`` dropped, case ignored) it is sent to the domain
  and its subdomains, and refused when the host that set it is outside that domain.
  Public suffixes are not checked (the bed's hosts are the report's own names).
- **Path**: a ``Path`` that does not start with ``/`` (or none) becomes the directory
  of the request path; a cookie is sent when its Path equals the request path or is a
  prefix of it ending at a ``/``. So a regex as Path (``/api/?(.*)``) is never sent:
  no request path holds ``?``.
- **Lifetime**: ``Max-Age`` wins over ``Expires``; zero or less, or a past date, removes
  the cookie. Dates are read with the RFC's own algorithm (``Mon, 07-Dec-26 13:54:18 GMT``
  included). Without either it lasts for the session (the whole run).
- **Secure**: a ``Secure`` cookie is never stored from, nor sent over, plain HTTP (RFC
  6265bis, as every current browser does); the bed serves plain HTTP. So is a
  ``SameSite=None`` cookie without ``Secure``.
- **Order**: same-name cookies are sent longer Path first, then older first; one with the
  same name, domain and Path replaces the older one and keeps its place.

``receive`` returns one reason per cookie it did not store, for the verdict.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from ipaddress import ip_address

_DELIMITER = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D.*)?\Z")
_DAY = re.compile(r"(\d{1,2})(?:\D.*)?\Z")
_YEAR = re.compile(r"(\d{2,4})(?:\D.*)?\Z")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class SetCookie:
    """One ``Set-Cookie`` value as written: name, value, attributes in order.

    ``attributes`` holds ``(name, value)`` pairs with the names as written (a flag such as
    ``HttpOnly`` has value ``""``); ``attribute`` looks one up the way a browser does
    (case ignored, the last one wins).
    """

    name: str
    value: str
    attributes: tuple[tuple[str, str], ...] = ()
    raw: str = ""

    def attribute(self, name: str) -> str | None:
        """The value of attribute ``name`` (any case; the last one), or None if absent."""
        found = [v for k, v in self.attributes if k.lower() == name.lower()]
        return found[-1] if found else None

    def has(self, name: str) -> bool:
        """Whether attribute ``name`` (a flag such as ``Secure``) is present."""
        return self.attribute(name) is not None


def parse_set_cookie(text: str) -> SetCookie | None:
    """Read one ``Set-Cookie`` value; None when a browser would ignore it (no ``=`` or
    no name before the first ``;``)."""
    pair, _, rest = text.partition(";")
    name, sep, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        return None
    attributes = []
    for part in rest.split(";") if rest else []:
        key, _, attr_value = part.partition("=")
        if key.strip():
            attributes.append((key.strip(), attr_value.strip()))
    return SetCookie(name, value, tuple(attributes), text)


def parse_date(text: str) -> float | None:
    """A cookie date (RFC 6265 section 5.1.1) as a POSIX time, or None if it is not one."""
    clock: tuple[int, int, int] | None = None
    day = month = year = None
    for token in filter(None, _DELIMITER.split(text)):
        if clock is None and (found := _TIME.match(token)):
            clock = (int(found[1]), int(found[2]), int(found[3]))
        elif day is None and (found := _DAY.match(token)):
            day = int(found[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (found := _YEAR.match(token)):
            year = int(found[1])
    if clock is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif year <= 69:
        year += 2000
    hour, minute, second = clock
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second)))


def default_path(request_path: str) -> str:
    """The Path of a cookie that names none: the request path's directory."""
    path = request_path.split("?", 1)[0]
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rindex("/")]


def path_matches(request_path: str, cookie_path: str) -> bool:
    """Whether a cookie with ``cookie_path`` is sent with a request for ``request_path``."""
    path = request_path.split("?", 1)[0] or "/"
    if path == cookie_path:
        return True
    if not path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or path[len(cookie_path)] == "/"


def domain_matches(host: str, domain: str) -> bool:
    """Whether ``host`` is ``domain`` or a subdomain of it (never for an IP address)."""
    host, domain = host.lower(), domain.lower()
    if host == domain:
        return True
    try:
        ip_address(host.strip("[]"))
    except ValueError:
        return host.endswith("." + domain)
    return False


@dataclass(frozen=True)
class Stored:
    """A cookie in the jar (RFC 6265 section 5.3's fields that decide sending)."""

    name: str
    value: str
    domain: str
    host_only: bool
    path: str
    secure: bool
    expiry: float | None  # None: until the session ends
    created: int


@dataclass
class Jar:
    """One browser's cookies (see the module docstring). ``clock`` gives POSIX time."""

    clock: Callable[[], float] = time.time
    cookies: list[Stored] = field(default_factory=list)
    _serial: int = 0

    def receive(
        self, host: str, path: str, values: Iterable[str], *, https: bool = False
    ) -> list[str]:
        """Store the cookies of an answer's ``Set-Cookie`` values, as a browser would.

        Args:
            host: the request's host (no port).
            path: the request target (path and query).
            values: every ``Set-Cookie`` value of the answer, in order.
            https: whether the request went over HTTPS.

        Returns:
            One line per cookie not stored (or removed), saying why.
        """
        host = host.lower()
        refused: list[str] = []
        for text in values:
            cookie = parse_set_cookie(text)
            if cookie is None:
                refused.append(f"Set-Cookie {text!r} ignored: no NAME=VALUE before the first ';'")
                continue
            why = self._store(cookie, host, path, https)
            if why:
                refused.append(f"cookie {cookie.name} from {host}{path} {why}")
        return refused

    def _store(self, cookie: SetCookie, host: str, path: str, https: bool) -> str:
        now = self.clock()
        expiry = _expiry(cookie, now)
        domain_attr = (cookie.attribute("Domain") or "").lstrip(".").lower()
        if domain_attr and not domain_matches(host, domain_attr):
            return f"not stored: Domain={domain_attr} does not cover the host {host}"
        secure = cookie.has("Secure")
        if secure and not https:
            return "not stored: Secure, and the answer came over plain HTTP"
        if (cookie.attribute("SameSite") or "").lower() == "none" and not secure:
            return "not stored: SameSite=None without Secure (browsers refuse it)"
        cookie_path = cookie.attribute("Path") or ""
        if not cookie_path.startswith("/"):
            cookie_path = default_path(path)
        stored = Stored(
            cookie.name,
            cookie.value,
            domain_attr or host,
            not domain_attr,
            cookie_path,
            secure,
            expiry,
            self._serial,
        )
        self._serial += 1
        same = (stored.name, stored.domain, stored.path)
        for index, old in enumerate(self.cookies):
            if (old.name, old.domain, old.path) == same:
                del self.cookies[index]
                stored = replace(stored, created=old.created)
                break
        if expiry is not None and expiry <= now:
            return "removed: its Max-Age or Expires is already over"
        self.cookies.append(stored)
        return ""

    def header(self, host: str, path: str, *, https: bool = False) -> str:
        """The ``Cookie`` header a browser sends with a request ("" when none).

        Args:
            host: the request's host (no port).
            path: the request target (path and query).
            https: whether the request goes over HTTPS.
        """
        now = self.clock()
        host = host.lower()
        self.cookies = [c for c in self.cookies if c.expiry is None or c.expiry > now]
        sent = [
            c
            for c in self.cookies
            if (c.domain == host if c.host_only else domain_matches(host, c.domain))
            and path_matches(path, c.path)
            and (https or not c.secure)
        ]
        sent.sort(key=lambda c: (-len(c.path), c.created))
        return "; ".join(f"{c.name}={c.value}" for c in sent)


def _expiry(cookie: SetCookie, now: float) -> float | None:
    """When the cookie expires (Max-Age over Expires), or None for a session cookie."""
    max_age = cookie.attribute("Max-Age")
    if max_age is not None and re.fullmatch(r"-?\d+", max_age):
        seconds = int(max_age)
        return now + seconds if seconds > 0 else float("-inf")
    expires = cookie.attribute("Expires")
    if expires is not None:
        return parse_date(expires)
    return None
