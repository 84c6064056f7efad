"""The form of ingress-nginx's affinity cookie, which tells the two cookie modes apart.

A first visit (no cookie) gets ``Set-Cookie: <name>=<key>|<backend key>``. The key is
what the worker's balancer made: ``affinity-mode: persistent`` hashes the chosen
endpoint (md5, 32 hex digits), ``balanced`` (the default) writes
``<time>.<worker pid>.<random>`` (dotted numbers). A worker that has not yet applied a
mode change still writes the old form, which the answering port alone cannot show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingressbed.vocabulary import Setup

DEFAULT_COOKIE = "INGRESSCOOKIE"
_PERSISTENT = re.compile(r"[0-9a-f]{32}")
_BALANCED = re.compile(r"\d+(?:\.\d+){2,}")


def affinity_cookie(setup: Setup) -> tuple[str, str] | None:
    """The affinity cookie's name and mode (``persistent`` or ``balanced``), or None when
    ``setup`` has no cookie affinity."""
    ingress = setup.ingress
    if (ingress.annotation("affinity") or "") != "cookie":
        return None
    name = ingress.annotation("session-cookie-name") or DEFAULT_COOKIE
    mode = (ingress.annotation("affinity-mode") or "balanced").lower()
    return name, mode


def cookie_key(set_cookies: Iterable[str], name: str) -> str | None:
    """The key part of cookie ``name`` among ``Set-Cookie`` header values (None: not set)."""
    for header in set_cookies:
        pair = header.split(";", 1)[0].strip()
        cookie, sep, value = pair.partition("=")
        if sep and cookie.strip() == name:
            return value.strip().split("|", 1)[0]
    return None


def form_problem(key: str | None, mode: str) -> str:
    """Why ``key`` is not what a ``mode`` balancer writes ("" = it is)."""
    if key is None:
        return "no affinity cookie set on a first visit"
    persistent = bool(_PERSISTENT.fullmatch(key))
    balanced = bool(_BALANCED.fullmatch(key))
    if mode == "persistent" and not persistent:
        seen = "a balanced (dotted) key" if balanced else f"key {key!r}"
        return f"cookie has {seen}, persistent mode writes 32 hex digits"
    if mode != "persistent" and not balanced:
        seen = "a persistent (32 hex digits) key" if persistent else f"key {key!r}"
        return f"cookie has {seen}, balanced mode writes dotted numbers"
    return ""
