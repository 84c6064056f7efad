"""Evaluating a hash-key expression (``upstream-hash-by``, nginx's ``hash``) for a request.

Three grammars, all compiled once into a ``KeyExpr`` and then evaluated per request:

* ingress-nginx 0.33.0 and later: the annotation is cut into tokens the way its Lua
  ``parse_complex_value`` does: ``\\$name`` is literal text (backslash kept), ``${name}``
  and ``$name`` are variables, a ``$`` not followed by a name is literal, any other
  backslash is dropped. A variable nginx does not find adds nothing. An unbalanced
  ``${`` (which the Lua code would hash as text) is refused as nginx's parser refuses it.
* ingress-nginx up to 0.32: the annotation minus its first character is ONE variable
  name. A name nginx cannot resolve (``host$request_uri``) yields nil, and the ring hashes
  the three bytes ``nil``, so every request lands on the same endpoint.
* plain nginx: ``$name`` / ``${name}`` variables in literal text; a ``$`` without a valid
  name, a missing ``}`` or a regex capture (``$1``) is a configuration error. A variable
  not found adds nothing; an empty key makes nginx fall back to round robin.

Variable names are compared without case, as in nginx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingressbed.errors import ConfigError
from ingressbed.placement import variables
from ingressbed.placement.ring import RingKind, check_flavor
from ingressbed.placement.variables import Request

#: The controller release whose behaviour the model follows unless told otherwise.
PINNED_CONTROLLER_VERSION = "1.15.1"

#: First release where ``upstream-hash-by`` may combine variables and text (PR #5571).
COMBINED_KEYS_SINCE: tuple[int, int, int] = (0, 33, 0)

#: The releases that have ``upstream-hash-by``: from 0.9.0 (a beta of 0.9.0 added it) to
#: the last release before the project was retired.
FIRST_HASH_RELEASE: tuple[int, int, int] = (0, 9, 0)
LAST_RELEASE: tuple[int, int, int] = (1, 15, 1)

#: What the legacy Lua balancer hashes when the variable is missing: ``tostring(nil)``.
LEGACY_MISSING = b"nil"

_VERSION = re.compile(
    r"(?:controller-|nginx-)?v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?",
)
_LUA_TOKENS = re.compile(
    r"(\\\$[0-9a-zA-Z_]+)|\$\{([0-9a-zA-Z_]+)\}|\$([0-9a-zA-Z_]+)|(\$|[^$\\]+)",
)
_NAME_CHARS = re.compile(r"[0-9A-Za-z_]*")
_SUPPORTED_HINT = (
    "the model knows $remote_addr, $binary_remote_addr, $host, $request_uri, $uri, $args, "
    "$is_args, $scheme, $http_NAME, $arg_NAME, $cookie_NAME"
)


def parse_version(version: str | None) -> tuple[int, int, int]:
    """Parse a controller version such as ``0.25.0``, ``v1.11.3`` or ``controller-v1.15.1``.

    Args:
        version: the version text; ``None`` means ``PINNED_CONTROLLER_VERSION``.

    Returns:
        ``(major, minor, patch)``.

    Raises:
        ConfigError: text that is not a version, or a version outside the releases that
            have ``upstream-hash-by`` (0.9.0 to the last, 1.15.1).
    """
    text = PINNED_CONTROLLER_VERSION if version is None else version.strip()
    match = _VERSION.fullmatch(text)
    if not match:
        raise ConfigError(
            f"controller version {version!r} is not like 0.25.0, v1.11.3 or controller-v1.15.1"
        )
    major, minor, patch = match.groups()
    parsed = int(major), int(minor), int(patch or 0)
    if not FIRST_HASH_RELEASE <= parsed <= LAST_RELEASE:
        first, last = (".".join(map(str, v)) for v in (FIRST_HASH_RELEASE, LAST_RELEASE))
        why = (
            f"ingress-nginx has upstream-hash-by from {first} on"
            if parsed < FIRST_HASH_RELEASE
            else f"ingress-nginx's last release is {last}"
        )
        raise ConfigError(
            f"controller version {version!r}: {why}; give a release from {first} to {last}"
        )
    return parsed


def is_legacy(version: str | None) -> bool:
    """Whether a release reads ``upstream-hash-by`` as one variable name.

    Args:
        version: the controller version (``None``: the pinned one).

    Returns:
        True below 0.33.0.

    Raises:
        ConfigError: text that is not a version.
    """
    return parse_version(version) < COMBINED_KEYS_SINCE


@dataclass(frozen=True)
class _Text:
    value: bytes


@dataclass(frozen=True)
class _Var:
    name: str


@dataclass(frozen=True)
class _Legacy:
    name: str
    resolvable: bool


class KeyExpr:
    """A compiled hash-key expression; ``evaluate`` turns a request into key bytes."""

    def __init__(
        self,
        expr: str,
        *,
        flavor: str = RingKind.LUA,
        controller_version: str | None = None,
    ) -> None:
        """Compile ``expr`` for a data plane.

        Args:
            expr: the annotation value or the argument of nginx's ``hash`` directive.
            flavor: ``"ingress-nginx"`` or ``"nginx"``.
            controller_version: ingress-nginx release (``None``: the pinned one); ignored
                for the nginx flavor.

        Raises:
            ConfigError: empty expression, bad syntax, or a variable the model cannot
                evaluate (named in the message).
        """
        check_flavor(flavor)
        if not expr:
            raise ConfigError("the hash-by expression is empty (that means no hashing at all)")
        self.expr = expr
        self.flavor = flavor
        self.legacy = flavor == RingKind.LUA and is_legacy(controller_version)
        if self.legacy:
            self._parts: tuple[_Text | _Var | _Legacy, ...] = (_legacy_part(expr),)
        elif flavor == RingKind.NGINX:
            self._parts = tuple(_nginx_parts(expr))
        else:
            self._parts = tuple(_lua_parts(expr))
        for part in self._parts:
            if isinstance(part, _Var) and not variables.is_supported(part.name):
                raise ConfigError(_unsupported(part.name, expr))

    @property
    def reads(self) -> frozenset[str]:
        """The variables the key reads from a request (lowercase names, no ``$``)."""
        return frozenset(
            part.name
            for part in self._parts
            if isinstance(part, _Var) or (isinstance(part, _Legacy) and part.resolvable)
        )

    def constant(self) -> str | None:
        """Why every request gets the same key (so the same endpoint), or None.

        Returns:
            A clause to follow the key (``reads no variable, ...``); for a release below
            0.33.0 whose whole annotation is a name nginx does not have, what it hashes.
        """
        if self.reads:
            return None
        if self.legacy:
            return (
                "is read as one variable name below ingress-nginx 0.33.0, a name nginx does "
                f"not have, so every request hashes {LEGACY_MISSING.decode()!r}"
            )
        return "reads no variable, so every request hashes the same text"

    def evaluate(self, request: Request) -> bytes:
        """The key bytes for ``request`` (may be empty).

        Args:
            request: the request.

        Returns:
            The bytes the data plane hashes.

        Raises:
            ConfigError: the request lacks what the key reads or nginx would refuse it.
        """
        out = bytearray()
        for part in self._parts:
            if isinstance(part, _Text):
                out += part.value
            elif isinstance(part, _Var):
                out += variables.lookup(part.name, request) or b""
            else:
                found = variables.lookup(part.name, request) if part.resolvable else None
                out += LEGACY_MISSING if found is None else found
        return bytes(out)

    def __repr__(self) -> str:
        mode = "legacy" if self.legacy else self.flavor
        return f"KeyExpr({self.expr!r}, {mode})"


def hash_key(
    expr: str,
    request: Request,
    *,
    controller_version: str | None = None,
    flavor: str = RingKind.LUA,
) -> bytes:
    """Evaluate a hash-key expression for one request.

    Args:
        expr: the ``upstream-hash-by`` annotation (or nginx ``hash`` key).
        request: the request.
        controller_version: ingress-nginx release; ``None`` means the pinned one. Below
            0.33.0 the whole annotation is one variable name.
        flavor: ``"ingress-nginx"`` (default) or ``"nginx"`` (its stricter syntax).

    Returns:
        The key bytes the ring hashes.

    Raises:
        ConfigError: bad syntax or an unsupported variable (named in the message), or a
            request lacking what the key reads.
    """
    return KeyExpr(expr, flavor=flavor, controller_version=controller_version).evaluate(request)


def _unsupported(name: str, expr: str) -> str:
    if name.isdigit():
        return f"${name} in {expr!r} is a regex capture, which the model cannot know"
    return f"unsupported variable ${name} in hash key {expr!r}: {_SUPPORTED_HINT}"


_UNBALANCED = re.compile(r"(?<!\\)\$\{(?![0-9A-Za-z_]+\})")


def _lua_parts(expr: str) -> list[_Text | _Var]:
    unbalanced = _UNBALANCED.search(expr)
    if unbalanced:
        # The Lua balancer would hash "${..." as plain text: every request the same key.
        # nginx's parser refuses it; so does the model, rather than answer nonsense.
        raise ConfigError(
            f"unbalanced '${{' at position {unbalanced.start() + 1} of hash key {expr!r}: "
            "write ${name} with a closing '}'"
        )
    parts: list[_Text | _Var] = []
    for match in _LUA_TOKENS.finditer(expr):
        escaped, braced, plain, text = match.groups()
        name = braced or plain
        if name:
            parts.append(_Var(name.lower()))
        else:
            parts.append(_Text((escaped or text).encode()))
    return parts


def _nginx_parts(expr: str) -> list[_Text | _Var]:
    parts: list[_Text | _Var] = []
    position = 0
    while position < len(expr):
        dollar = expr.find("$", position)
        if dollar < 0:
            parts.append(_Text(expr[position:].encode()))
            break
        if dollar > position:
            parts.append(_Text(expr[position:dollar].encode()))
        start = dollar + 1
        if start < len(expr) and expr[start] in "123456789":
            raise ConfigError(_unsupported(expr[start], expr))
        braced = start < len(expr) and expr[start] == "{"
        start += braced
        found = _NAME_CHARS.match(expr, start)  # matches always, maybe empty
        name = found.group() if found else ""
        position = start + len(name)
        if braced:
            if position >= len(expr) or expr[position] != "}":
                raise ConfigError(f"nginx: the closing bracket of ${{{name} is missing in {expr!r}")
            position += 1
        if not name:
            raise ConfigError(f"nginx: invalid variable name after '$' in {expr!r}")
        parts.append(_Var(name.lower()))
    return parts


def _legacy_part(expr: str) -> _Legacy:
    # The old balancer drops the first character (meant to be "$") and asks nginx for a
    # variable with the rest of the text as its name.
    name = expr[1:].lower()
    if variables.is_supported(name):
        return _Legacy(name, resolvable=True)
    if name.isdigit():
        raise ConfigError(_unsupported(name, expr))
    if _NAME_CHARS.fullmatch(name) and name:
        # A well-formed name the model does not evaluate: nginx may well define it.
        raise ConfigError(_unsupported(name, expr) + " (legacy: the whole value is one name)")
    # Characters no nginx variable name holds: nginx finds nothing, the key becomes "nil".
    return _Legacy(name, resolvable=False)
