"""The ``header`` and ``cookie`` expectations of a scenario file, validated (pure)::

    - header: {step: a, name: X-Canary, present: true}      # or false: absent
    - header: {step: a, name: Content-Type, equals: text/plain, answers: last}
    - header: {steps: [a, b], name: Set-Cookie, matches: "Path=/;"}
    - cookie:
        step: a
        name: INGRESSCOOKIE
        path: /               # a value; null: the attribute must be absent
        samesite: Lax         # also domain
        max_age: 3600         # a number, a bound ({at_least: 60}), or null
        expires: true         # present (false: absent), or seconds after Date (a bound)
        secure: false         # flags: present (true) or absent (false); also httponly
    - cookie: {step: b, name: INGRESSCOOKIE, sent: false}   # requests of b never carried it
    - cookie: {step: c, name: INGRESSCOOKIE, set: false}    # no answer of c set it

``answers`` is ``every`` (default), ``any``, ``first`` or ``last``. ``set`` is true when
attributes are given. Steps must send traffic and not be mix steps (the mix keeps no
headers).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

import yaml

from ingressbed import yamlsource
from ingressbed.expectations import Bound, CookieAttribute, CookieExpect, HeaderExpect, Kind
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.spec import MIX
from ingressbed.yamlsource import Mapping, Node

ANSWERS = ("every", "any", "first", "last")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
#: Cookie attribute keys of the file -> the attribute as a browser names it.
VALUE_ATTRIBUTES = {"path": "Path", "domain": "Domain", "samesite": "SameSite"}
FLAG_ATTRIBUTES = {"secure": "Secure", "httponly": "HttpOnly"}
_COOKIE_KEYS = (
    "step",
    "steps",
    "name",
    "set",
    "sent",
    "max_age",
    "expires",
    *VALUE_ATTRIBUTES,
    *FLAG_ATTRIBUTES,
)
_BOUND_KEYS = ("equals", "at_least", "at_most")


class Reader(Protocol):
    """What these parsers use of ``expects._Reader``."""

    src: Source

    def step_names(self, found: Mapping, mix: bool | None = None) -> tuple[str, ...]: ...

    def base_kind(self, name: str) -> str: ...

    def bound(self, node: Node, what: str, low: float, high: float | None) -> Bound: ...


def _steps(reader: Reader, found: Mapping, what: str) -> tuple[str, ...]:
    steps = reader.step_names(found)
    for name in steps:
        if reader.base_kind(name) == MIX:
            node = found.get("step") or found.require("steps")
            raise reader.src.error(
                node, f"{what}: step {name!r} is a mix step, which keeps no headers"
            )
    return steps


def _flag(src: Source, node: Node, what: str) -> bool:
    value = yamlsource.value(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, bool):
        raise src.error(node, f"{what} must be true or false, not {yamlsource.kind_of(node)}")
    return value


def _is_null(node: Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def header(reader: Reader, node: Node) -> HeaderExpect:
    """``header: {step(s), name, present | equals | matches, answers}``."""
    src = reader.src
    found = Mapping(src, node, Kind.HEADER)
    found.only(("step", "steps", "name", "present", "equals", "matches", "answers"))
    steps = _steps(reader, found, Kind.HEADER)
    name = yamlsource.string(src, found.require("name", " (the header's name)"), "name")
    if not _TOKEN.match(name):
        raise src.error(found.require("name"), f"{name!r} is not a header name")
    tests = [k for k in ("present", "equals", "matches") if k in found]
    if len(tests) != 1:
        raise src.error(node, "header needs one of present, equals, matches")
    answers = "every"
    if "answers" in found:
        answers = yamlsource.string(src, found.require("answers"), "answers")
        if answers not in ANSWERS:
            raise src.error(
                found.require("answers"), f"answers {answers!r} is not one of {', '.join(ANSWERS)}"
            )
    expect = HeaderExpect(steps=steps, name=name.lower(), answers=answers)
    test = tests[0]
    value = found.require(test)
    if test == "present":
        return replace(expect, present=_flag(src, value, "present"))
    text = yamlsource.text(src, value, test)
    if test == "equals":
        return replace(expect, equals=text)
    try:
        re.compile(text)
    except re.error as exc:
        raise src.error(value, f"matches {text!r} is not a regular expression: {exc}") from None
    return replace(expect, matches=text)


def cookie(reader: Reader, node: Node) -> CookieExpect:
    """``cookie: {step(s), name, set, sent, attributes...}``."""
    src = reader.src
    found = Mapping(src, node, Kind.COOKIE)
    found.only(_COOKIE_KEYS)
    steps = _steps(reader, found, Kind.COOKIE)
    name = yamlsource.string(src, found.require("name", " (the cookie's name)"), "name")
    if not _TOKEN.match(name):
        raise src.error(found.require("name"), f"{name!r} is not a cookie name")
    attributes = _attributes(reader, found)
    set_ = _flag(src, found.require("set"), "set") if "set" in found else None
    sent = _flag(src, found.require("sent"), "sent") if "sent" in found else None
    if attributes and set_ is False:
        raise src.error(found.require("set"), "set: false leaves no Set-Cookie to have attributes")
    if attributes:
        set_ = True
    if set_ is None and sent is None:
        raise src.error(node, "cookie needs set, sent or an attribute (path, max_age, ...)")
    return CookieExpect(steps=steps, name=name, set=set_, sent=sent, attributes=attributes)


def _attributes(reader: Reader, found: Mapping) -> tuple[CookieAttribute, ...]:
    src = reader.src
    out: list[CookieAttribute] = []
    for key, attribute in VALUE_ATTRIBUTES.items():
        if key in found:
            value = found.require(key)
            if _is_null(value):
                out.append(CookieAttribute(attribute, present=False))
            else:
                out.append(CookieAttribute(attribute, value=yamlsource.text(src, value, key)))
    for key, attribute in FLAG_ATTRIBUTES.items():
        if key in found:
            out.append(CookieAttribute(attribute, present=_flag(src, found.require(key), key)))
    if "max_age" in found:
        value = found.require("max_age")
        if _is_null(value):
            out.append(CookieAttribute("Max-Age", present=False))
        else:
            bound = reader.bound(value, "max_age", float("-inf"), None)
            out.append(CookieAttribute("Max-Age", seconds=bound))
    if "expires" in found:
        value = found.require("expires")
        flag = yamlsource.value(value) if isinstance(value, yaml.ScalarNode) else None
        if isinstance(flag, bool):
            out.append(CookieAttribute("Expires", present=flag))
        else:
            bound = reader.bound(value, "expires (seconds after the answer's Date)", 0, None)
            out.append(CookieAttribute("Expires", seconds=bound))
    return tuple(out)
