"""Request paths that reach a route, for the start-up check (pure).

A route's path is not always a request path. ingress-nginx makes every location of a host
a regex (``location ~* "^<path>"``) when one of its Ingresses has ``use-regex: "true"`` or
a ``rewrite-target``; the bed's other data planes take the path literally, as a prefix.
Either way the path may hold what no request path holds as written: ``?`` starts the
query, ``#`` a fragment, ``%`` an escape.

- ``literal(path)``: the path percent-encoded where a request needs it; nginx decodes the
  request path before it matches a location, so ``/pr/api/%3F(.*)`` reaches a literal
  ``/pr/api/?(.*)``.
- ``example(regex)``: a short path the regex ``^<regex>`` matches (case ignored), made
  from the regex itself (one repetition of an optional literal, the first branch, the
  first character of a class); None when it cannot make one.
"""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as parser  # type: ignore[attr-defined]
from typing import Any
from urllib.parse import quote

#: Characters a request path may carry as written (RFC 3986 pchar and ``/``).
_SAFE = "/:@!$&'()*+,;=-._~"
_ANY = "x"


def literal(path: str) -> str:
    """``path`` with what a request path cannot hold as written percent-encoded."""
    return quote(path, safe=_SAFE)


def _render(items: Any) -> str:
    out = []
    for op, value in items:
        out.append(_item(op, value))
    return "".join(out)


def _item(op: Any, value: Any) -> str:
    if op == sre.LITERAL:
        return chr(value)
    if op == sre.ANY:
        return _ANY
    if op == sre.IN:
        return _class(value)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
        low, _, body = value
        plain = all(o == sre.LITERAL for o, _ in body)
        return _render(body) * (low if low or not plain else 1)
    if op == sre.SUBPATTERN:
        return _render(value[-1])
    if op == sre.BRANCH:
        return _render(value[1][0])
    if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
        return ""
    raise ValueError(f"no example for {op}")


def _class(items: Any) -> str:
    for op, value in items:
        if op == sre.NEGATE:
            raise ValueError("no example for a negated class")
        if op == sre.LITERAL:
            return chr(value)
        if op == sre.RANGE:
            return chr(value[0])
        if op == sre.CATEGORY:
            return {
                sre.CATEGORY_DIGIT: "0",
                sre.CATEGORY_WORD: "a",
                sre.CATEGORY_SPACE: " ",
            }.get(value, _ANY)
    raise ValueError("no example for an empty class")


def example(regex: str) -> str | None:
    """A path that ``^<regex>`` matches (case ignored), or None."""
    try:
        made = _render(parser.parse(regex))
    except (ValueError, re.error, TypeError, IndexError, RecursionError):
        return None
    if not made.startswith("/"):
        return None
    try:
        matches = re.match(f"^(?:{regex})", made, re.IGNORECASE) is not None
    except re.error:
        return None
    return made if matches else None
