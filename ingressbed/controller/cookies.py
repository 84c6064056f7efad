"""The affinity cookie as a browser will see it (pure).

The Lua balancer sets ``NAME=<key>|<backend key>`` with the attributes in this order:
``Expires`` (request time + ``session-cookie-expires`` seconds), ``Max-Age``, ``Domain``,
``Path`` (``session-cookie-path``, else the location's path as the Ingress wrote it),
``Secure`` (``session-cookie-secure``, else only over HTTPS), ``HttpOnly``, ``SameSite``
(sent only for exactly ``Strict``, ``Lax`` or ``None``; ``None`` is left out for the
User-Agents known to mishandle it with ``session-cookie-conditional-samesite-none``).

``returned`` says whether a browser sends the cookie back to the location that set it:
a browser matches the Path literally (RFC 6265), so a regex path as Path is never
matched by a real request.
"""

from __future__ import annotations

import re

from ingressbed.controller.model import Backend, CookieAffinity
from ingressbed.placement.cookie import backend_key

_REGEX_CHARS = re.compile(r"[\^$*+?()\[\]{}|\\]")
_LUA_DECIMAL = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")
_LUA_HEX = re.compile(r"\s*[+-]?0[xX][0-9a-fA-F]+\s*")


def lua_number(text: str) -> str | None:
    """What Lua's ``tonumber`` makes of an attribute value, printed; None when not a number."""
    if _LUA_HEX.fullmatch(text):
        return str(int(text.strip(), 16))
    if not _LUA_DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else f"{value:.14g}"


def cookie_path(cookie: CookieAffinity, location_path: str) -> str:
    """The Path attribute the balancer sets on a location."""
    return cookie.path or location_path


def set_cookie(backend: Backend, location_path: str, *, https: bool = False) -> str:
    """The ``Set-Cookie`` value the balancer sends on a location of ``backend``.

    Args:
        backend: the backend (with cookie affinity).
        location_path: the location's path as the Ingress wrote it.
        https: whether the request came over HTTPS.

    Returns:
        The header value, with ``<key>`` for the session key.
    """
    cookie = backend.affinity.cookie
    parts = [f"{cookie.name}=<key>|{backend_key(backend.name)}"]
    if cookie.expires:
        seconds = lua_number(cookie.expires)
        parts.append(
            f"Expires=<request time + {seconds} s>"
            if seconds is not None
            else "Expires=<not a number: not modelled>"
        )
    if cookie.max_age and lua_number(cookie.max_age) is not None:
        parts.append(f"Max-Age={lua_number(cookie.max_age)}")
    if cookie.domain:
        parts.append(f"Domain={cookie.domain}")
    parts.append(f"Path={cookie_path(cookie, location_path)}")
    if cookie.secure or https:
        parts.append("Secure")
    parts.append("HttpOnly")
    if cookie.samesite in ("Strict", "Lax", "None"):
        shown = cookie.samesite
        if shown == "None" and cookie.conditional_samesite_none:
            shown += " (left out for User-Agents that mishandle it)"
        parts.append(f"SameSite={shown}")
    return "; ".join(parts)


def returned(path: str, location_path: str) -> tuple[bool, str]:
    """Whether a browser sends a cookie with Path ``path`` back on the location it came from.

    Args:
        path: the cookie's Path.
        location_path: the location's path as the Ingress wrote it.

    Returns:
        ``(sent back, why)``.
    """
    if "?" in path or "#" in path:
        return False, (
            f"Path={path} holds {'?' if '?' in path else '#'}, which no request path holds: "
            "a browser never sends it back, so every request is a fresh pick"
        )
    if _REGEX_CHARS.search(path):
        return False, (
            f"Path={path} is a regex, but a browser compares the Path literally: only a "
            "request path that starts with that very text carries it back (in practice "
            "none), so every request is a fresh pick"
        )
    if path == "/" or location_path.startswith(path.rstrip("/") + "/") or location_path == path:
        return True, f"Path={path} covers the location {location_path}"
    return False, (
        f"Path={path} does not cover the location {location_path}: a browser sends it only "
        f"on requests under {path}"
    )
