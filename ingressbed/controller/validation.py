"""How the controller validates and parses one annotation value (pure).

Since v1.10.0 every annotation the controller reads has a validator (a character class,
a list of options, a boolean, an integer) and a risk level. The order is the
controller's: a value that is present and not empty is validated first; then it is
parsed (a string is trimmed line by line and must not end up empty; a boolean is what
Go's ``strconv.ParseBool`` accepts; an integer what ``strconv.Atoi`` accepts). Each
step can fail in its own way, and the annotation's parser decides what a failure means
(refuse the Ingress, or fall back to a default): ``Outcome`` says which step failed.

The character classes are those of the controller's ``parser/validators.go``, written
again here as Python patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum

from ingressbed.objects import go_bool
from ingressbed.vocabulary import ANNOTATION_PREFIX

#: Characters of simple values (names, hosts, paths): letters, digits, - . _ ~ / :
_ALPHANUMERIC = r"\-._~a-zA-Z0-9/:"
_BASIC = re.compile(rf"[/{_ALPHANUMERIC}]*")
_URL = re.compile(rf"[{_ALPHANUMERIC},:?&=]*")
_URL_NO_COMMA = re.compile(rf"[{_ALPHANUMERIC}:?&=]*")
_REGEX_PATH_WITH_CAPTURE = re.compile(rf"/?[{_ALPHANUMERIC}/$]*")
_VALID_REGEX = re.compile(rf"[/{_ALPHANUMERIC}{re.escape('^$[](){}*+?|&=' + chr(92))}]*")
_HASH_BY = re.compile(r"[A-Za-z0-9\-_${}]*")
#: The cookie expiry check: starts with 0, or ends in a (signed) number. As in the controller,
#: it is searched, not matched whole: "1h30" passes, "3600s" does not.
COOKIE_EXPIRES = re.compile(r"^0|-?[1-9][0-9]*\Z")
_MALICIOUS = re.compile(r"[\r\n]")
_GO_INT = re.compile(r"[+-]?[0-9]+")


class Risk(IntEnum):
    """An annotation's risk level; the ConfigMap's ``annotations-risk-level`` caps it."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3


def risk_level(text: str) -> Risk:
    """``annotations-risk-level`` as the controller reads it (unknown text is Low)."""
    return {
        "critical": Risk.CRITICAL,
        "high": Risk.HIGH,
        "medium": Risk.MEDIUM,
    }.get(text.lower(), Risk.LOW)


def go_int(text: str) -> int | None:
    """Go's ``strconv.Atoi`` (64-bit): the value, or None."""
    if not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def normalize(text: str) -> str:
    """The controller's string clean-up: every line trimmed."""
    return "\n".join(line.strip() for line in text.split("\n"))


Validator = Callable[[str], bool]


def pattern(regex: re.Pattern[str], *, remove_space: bool = False) -> Validator:
    """A character-class validator (the whole value must match; no CR or LF)."""

    def check(value: str) -> bool:
        if remove_space:
            value = value.replace(" ", "")
        return bool(regex.fullmatch(value)) and not _MALICIOUS.search(value)

    return check


def options(allowed: tuple[str, ...], *, case_sensitive: bool) -> Validator:
    """A validator for a fixed list of values (surrounding space trimmed)."""

    def check(value: str) -> bool:
        value = value.strip()
        return (value if case_sensitive else value.lower()) in allowed

    return check


def expires(value: str) -> bool:
    """The cookie expiry validator (spaces removed, then searched)."""
    value = value.replace(" ", "")
    return bool(COOKIE_EXPIRES.search(value)) and not _MALICIOUS.search(value)


def max_age(value: str) -> bool:
    """The cookie Max-Age validator (searched as written)."""
    return bool(COOKIE_EXPIRES.search(value)) and not _MALICIOUS.search(value)


def boolean(value: str) -> bool:
    return go_bool(value) is not None


def integer(value: str) -> bool:
    return go_int(value) is not None


BASIC = pattern(_BASIC, remove_space=True)
URL = pattern(_URL, remove_space=True)
URL_NO_COMMA = pattern(_URL_NO_COMMA, remove_space=True)
REGEX_PATH_WITH_CAPTURE = pattern(_REGEX_PATH_WITH_CAPTURE)
VALID_REGEX = pattern(_VALID_REGEX)
HASH_BY = pattern(_HASH_BY, remove_space=True)


@dataclass(frozen=True)
class Field:
    """One annotation the model reads: its validator, its risk, and what valid values are."""

    validator: Validator
    risk: Risk
    expects: str


class Outcome(Enum):
    """How reading one annotation went."""

    OK = "ok"
    MISSING = "missing"  # not set
    INVALID = "invalid"  # the validator refused it (ValidationError)
    EMPTY = "empty"  # nothing left to parse (InvalidContent)


@dataclass(frozen=True)
class Read:
    """One annotation as read: the outcome, the raw value (None when missing), the parsed value."""

    outcome: Outcome
    raw: str | None
    value: str | bool | int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def read(
    annotations: Mapping[str, str],
    short: str,
    kind: type,
    field: Field,
    *,
    validates: bool,
) -> Read:
    """Read one annotation the way the controller's ``Get<Kind>Annotation`` does.

    Args:
        annotations: the Ingress's annotations (full names).
        short: the annotation without the prefix.
        kind: ``str``, ``bool`` or ``int``.
        field: its validator.
        validates: whether the release validates values (v1.10.0 and later).

    Returns:
        The outcome and value.
    """
    raw = annotations.get(ANNOTATION_PREFIX + short)
    if raw is None:
        return Read(Outcome.MISSING, None)
    if validates and raw != "" and not field.validator(raw):
        return Read(Outcome.INVALID, raw)
    if kind is bool:
        parsed: str | bool | int | None = go_bool(raw)
    elif kind is int:
        parsed = go_int(raw)
    else:
        parsed = normalize(raw) or None
    if parsed is None:
        return Read(Outcome.EMPTY, raw)
    return Read(Outcome.OK, raw, parsed)
