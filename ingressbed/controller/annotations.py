"""One Ingress's annotations as the controller parses them, with a note for every surprise (pure).

``parse(ingress, version, configmap)`` returns ``Parsed``: the hash key, subset,
``load-balance``, ``service-upstream``, cookie affinity, canary and rewrite settings of
this Ingress alone, as the controller's annotation parsers leave them, or the reason
the controller refuses the whole Ingress. What ends up in a backend is decided later by
the build (the oldest Ingress that references a backend creates it). Every value that
is ignored or replaced by a default gets a ``Note`` saying why.

The controller's rules, in the order it applies them:

- an annotation above the ConfigMap's ``annotations-risk-level`` (the snippet
  annotations are Critical; the default level is High) refuses the Ingress;
- ``upstream-hash-by`` and ``load-balance`` with a value their validator refuses refuse
  the Ingress (the admission webhook rejects it; without the webhook the controller
  leaves it out); an empty value drops the setting;
- every other annotation the model reads falls back to its default when invalid;
- ``upstream-hash-by-subset-size`` without ``upstream-hash-by-subset: "true"`` and the
  subset without a hash key have no effect; cookie attributes without
  ``affinity: cookie`` are not read; canary settings without ``canary: "true"`` are
  dropped as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ingressbed.controller import validation as v
from ingressbed.controller.model import (
    DEFAULT_COOKIE_NAME,
    DEFAULT_SUBSET_SIZE,
    CookieAffinity,
    HashBy,
    Note,
    NoteKind,
    TrafficShaping,
)
from ingressbed.controller.validation import Field, Outcome, Read, Risk
from ingressbed.controller.versions import ControllerVersion
from ingressbed.objects import Ingress
from ingressbed.vocabulary import ANNOTATION_PREFIX

_LB_ALGORITHMS = ("round_robin", "chash", "chashsubset", "sticky_balanced", "sticky_persistent")
FIELDS: Mapping[str, Field] = {
    "upstream-hash-by": Field(v.HASH_BY, Risk.HIGH, "letters, digits, -, _, $, { and } only"),
    "upstream-hash-by-subset": Field(v.boolean, Risk.LOW, "a boolean"),
    "upstream-hash-by-subset-size": Field(v.integer, Risk.LOW, "an integer"),
    "load-balance": Field(
        v.options((*_LB_ALGORITHMS, "ewma"), case_sensitive=True),
        Risk.LOW,
        "one of " + ", ".join((*_LB_ALGORITHMS, "ewma")),
    ),
    "service-upstream": Field(v.boolean, Risk.LOW, "a boolean"),
    "affinity": Field(v.options(("cookie",), case_sensitive=True), Risk.LOW, '"cookie"'),
    "affinity-mode": Field(
        v.options(("balanced", "persistent"), case_sensitive=True),
        Risk.MEDIUM,
        "balanced or persistent (lower case)",
    ),
    "affinity-canary-behavior": Field(
        v.options(("sticky", "legacy"), case_sensitive=True), Risk.LOW, "sticky or legacy"
    ),
    "session-cookie-name": Field(v.BASIC, Risk.MEDIUM, "letters, digits, - . _ ~ / :"),
    "session-cookie-secure": Field(v.boolean, Risk.LOW, "a boolean"),
    "session-cookie-expires": Field(v.expires, Risk.MEDIUM, "a number of seconds"),
    "session-cookie-max-age": Field(v.max_age, Risk.MEDIUM, "a number of seconds"),
    "session-cookie-path": Field(v.URL, Risk.MEDIUM, "a path without special characters"),
    "session-cookie-domain": Field(v.BASIC, Risk.MEDIUM, "letters, digits, - . _ ~ / :"),
    "session-cookie-samesite": Field(
        v.options(("none", "lax", "strict"), case_sensitive=False),
        Risk.LOW,
        "None, Lax or Strict",
    ),
    "session-cookie-conditional-samesite-none": Field(v.boolean, Risk.LOW, "a boolean"),
    "session-cookie-change-on-failure": Field(v.boolean, Risk.LOW, "a boolean"),
    "canary": Field(v.boolean, Risk.LOW, "a boolean"),
    "canary-weight": Field(v.integer, Risk.LOW, "an integer"),
    "canary-weight-total": Field(v.integer, Risk.LOW, "an integer"),
    "canary-by-header": Field(v.BASIC, Risk.MEDIUM, "letters, digits, - . _ ~ / :"),
    "canary-by-header-value": Field(v.BASIC, Risk.MEDIUM, "letters, digits, - . _ ~ / :"),
    "canary-by-header-pattern": Field(v.VALID_REGEX, Risk.MEDIUM, "a simple regular expression"),
    "canary-by-cookie": Field(v.BASIC, Risk.MEDIUM, "letters, digits, - . _ ~ / :"),
    "rewrite-target": Field(v.REGEX_PATH_WITH_CAPTURE, Risk.MEDIUM, "a path with $1-style groups"),
    "use-regex": Field(v.boolean, Risk.LOW, "a boolean"),
}
#: Annotations whose risk is Critical: refused at the default risk level since v1.12.0.
CRITICAL: frozenset[str] = frozenset(
    {
        "auth-snippet",
        "configuration-snippet",
        "modsecurity-snippet",
        "server-snippet",
        "stream-snippet",
    }
)
COOKIE_ATTRIBUTES: tuple[str, ...] = tuple(k for k in FIELDS if k.startswith("session-cookie-"))
CANARY_SETTINGS: tuple[str, ...] = (
    "canary-weight",
    "canary-weight-total",
    "canary-by-header",
    "canary-by-header-value",
    "canary-by-header-pattern",
    "canary-by-cookie",
)
#: Annotations that change routing or balancing which the model does not follow.
UNMODELLED: Mapping[str, str] = {
    "default-backend": "a custom default backend for locations without endpoints",
    "custom-http-errors": "error pages served by another backend",
    "server-alias": "extra host names (and the cookie locations they add)",
    "ssl-passthrough": "TLS passthrough",
    "app-root": "the redirect of /",
    "permanent-redirect": "a redirect instead of a backend",
    "temporal-redirect": "a redirect instead of a backend",
    "from-to-www-redirect": "the www redirect",
    "mirror-target": "request mirroring",
}


@dataclass(frozen=True)
class Affinity:
    """One Ingress's affinity settings (``cookie`` is None without ``affinity: cookie``)."""

    type: str = ""
    mode: str = ""
    canary_behavior: str = ""
    cookie: CookieAffinity | None = None


@dataclass(frozen=True)
class Canary:
    """One Ingress's canary settings."""

    enabled: bool = False
    shaping: TrafficShaping = field(default_factory=TrafficShaping)


@dataclass(frozen=True)
class Parsed:
    """One Ingress's annotations as the controller parsed them.

    ``rejected`` says why the controller refuses the Ingress (empty: it does not).
    """

    hash_by: HashBy = field(default_factory=HashBy)
    load_balance: str = ""
    service_upstream: bool = False
    affinity: Affinity = field(default_factory=Affinity)
    canary: Canary = field(default_factory=Canary)
    rewrite_target: str = ""
    use_regex: bool = False
    notes: tuple[Note, ...] = ()
    rejected: str = ""
    #: the annotations this Ingress sets for the backends it creates (short name -> value)
    set_for_backend: Mapping[str, str] = field(default_factory=dict)


class _Parser:
    def __init__(self, ingress: Ingress, version: ControllerVersion, path_commas: bool) -> None:
        self.ingress = ingress
        self.version = version
        self.notes: list[Note] = []
        self.fields = dict(FIELDS)
        if not path_commas:
            self.fields["session-cookie-path"] = Field(
                v.URL_NO_COMMA, Risk.MEDIUM, "a path without special characters (no comma)"
            )

    def note(self, kind: NoteKind, short: str, reason: str) -> None:
        raw = self.ingress.annotations.get(ANNOTATION_PREFIX + short)
        self.notes.append(Note(kind, reason, self.ingress.key, short, raw))

    def read(self, short: str, kind: type) -> Read:
        if not self.version.knows(short):
            if ANNOTATION_PREFIX + short in self.ingress.annotations:
                self.note(
                    NoteKind.IGNORED,
                    short,
                    f"controller {self.version} does not know it (it came in "
                    f"{self.version.since(short)})",
                )
            return Read(Outcome.MISSING, None)
        return v.read(
            self.ingress.annotations,
            short,
            kind,
            self.fields[short],
            validates=self.version.validates,
        )

    def lenient(
        self, short: str, kind: type, default: str | bool | int, said: str = ""
    ) -> str | bool | int:
        """Read an annotation whose parser falls back to ``default`` on any failure."""
        got = self.read(short, kind)
        if got.ok and got.value is not None:
            return got.value
        if got.outcome is Outcome.INVALID:
            self.note(
                NoteKind.DEFAULTED,
                short,
                f"not {self.fields[short].expects}: {said or repr(default)} is used",
            )
        elif got.outcome is Outcome.EMPTY:
            self.note(
                NoteKind.DEFAULTED,
                short,
                f"empty or not {self.fields[short].expects}: {said or repr(default)} is used",
            )
        return default


def _risk(ingress: Ingress, configmap: Mapping[str, str], version: ControllerVersion) -> str:
    level = v.risk_level(configmap.get("annotations-risk-level", version.default_risk_level))
    for key in sorted(ingress.annotations):
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        short = key[len(ANNOTATION_PREFIX) :]
        risk = (
            Risk.CRITICAL if short in CRITICAL else FIELDS[short].risk if short in FIELDS else None
        )
        if risk is not None and risk > level:
            return (
                f"annotation {short} is {risk.name.title()} risk, above the ConfigMap's "
                f"annotations-risk-level {level.name.title()}"
            )
    return ""


def _hash_by(p: _Parser) -> tuple[HashBy, str]:
    """The hash group; the second value is the reason the Ingress is refused, if it is."""
    reads = (
        ("upstream-hash-by", p.read("upstream-hash-by", str)),
        ("upstream-hash-by-subset", p.read("upstream-hash-by-subset", bool)),
        ("upstream-hash-by-subset-size", p.read("upstream-hash-by-subset-size", int)),
    )
    for short, got in reads:
        if got.outcome is Outcome.INVALID:
            return HashBy(), f"{short} {got.raw!r} is not {FIELDS[short].expects}"
        if got.outcome is Outcome.EMPTY and p.version.validates:
            p.note(
                NoteKind.DEFAULTED,
                short,
                "empty or not a value: the controller drops the whole upstream-hash-by group "
                "(no hash key, no subset)",
            )
            return HashBy(), ""
    key, subset, size = (got.value if got.ok else None for _, got in reads)
    found = HashBy(str(key or ""), bool(subset), int(size or 0) or DEFAULT_SUBSET_SIZE)
    if reads[2][1].ok and not found.subset:
        p.note(
            NoteKind.IGNORED,
            "upstream-hash-by-subset-size",
            'has no effect without upstream-hash-by-subset: "true"',
        )
    if found.subset and not found.key:
        p.note(
            NoteKind.IGNORED, "upstream-hash-by-subset", "has no effect without upstream-hash-by"
        )
    return found, ""


def _cookie(p: _Parser) -> CookieAffinity:
    name = p.lenient("session-cookie-name", str, DEFAULT_COOKIE_NAME)
    cookie = CookieAffinity(
        name=str(name),
        expires=_expiry(p, "session-cookie-expires"),
        max_age=_expiry(p, "session-cookie-max-age"),
        path=str(p.lenient("session-cookie-path", str, "", "no Path (the location path)")),
        domain=str(p.lenient("session-cookie-domain", str, "", "no Domain")),
        samesite=str(p.lenient("session-cookie-samesite", str, "", "no SameSite")),
        secure=bool(p.lenient("session-cookie-secure", bool, False)),
        conditional_samesite_none=bool(
            p.lenient("session-cookie-conditional-samesite-none", bool, False)
        ),
        change_on_failure=bool(p.lenient("session-cookie-change-on-failure", bool, False)),
    )
    if cookie.samesite and cookie.samesite not in ("Strict", "Lax", "None"):
        p.note(
            NoteKind.IGNORED,
            "session-cookie-samesite",
            "passes the controller's check but the balancer sends SameSite only for exactly "
            "Strict, Lax or None: the cookie gets no SameSite",
        )
    return cookie


def _expiry(p: _Parser, short: str) -> str:
    got = p.read(short, str)
    if got.ok and v.COOKIE_EXPIRES.search(str(got.value)):
        return str(got.value)
    if got.outcome is not Outcome.MISSING:
        p.note(NoteKind.DEFAULTED, short, "not a number of seconds: the attribute is left out")
    return ""


def _affinity(p: _Parser) -> Affinity:
    kind = str(p.lenient("affinity", str, "", "no affinity"))
    mode = str(p.lenient("affinity-mode", str, "", "the default (balanced)"))
    behavior = str(p.lenient("affinity-canary-behavior", str, "", "the default (sticky)"))
    if kind == "cookie":
        return Affinity(kind, mode, behavior, _cookie(p))
    for short in COOKIE_ATTRIBUTES:
        if ANNOTATION_PREFIX + short in p.ingress.annotations:
            p.note(NoteKind.IGNORED, short, 'not read without affinity: "cookie" on this Ingress')
    return Affinity(kind, mode, behavior, None)


def _canary(p: _Parser) -> Canary:
    enabled = bool(p.lenient("canary", bool, False))
    shaping = TrafficShaping(
        weight=int(p.lenient("canary-weight", int, 0)),
        weight_total=int(p.lenient("canary-weight-total", int, 100)),
        header=str(p.lenient("canary-by-header", str, "", "no header")),
        header_value=str(p.lenient("canary-by-header-value", str, "", "no header value")),
        header_pattern=str(p.lenient("canary-by-header-pattern", str, "", "no pattern")),
        cookie=str(p.lenient("canary-by-cookie", str, "", "no cookie")),
    )
    if not enabled:
        configured = shaping.weight > 0 or any(
            (shaping.header, shaping.header_value, shaping.header_pattern, shaping.cookie)
        )
        for short in CANARY_SETTINGS:
            if ANNOTATION_PREFIX + short in p.ingress.annotations:
                p.note(
                    NoteKind.IGNORED,
                    short,
                    'without canary: "true" the controller drops every canary setting'
                    if configured
                    else 'has no effect without canary: "true"',
                )
        return Canary()
    if shaping.weight_total < 100:
        p.note(
            NoteKind.DEFAULTED,
            "canary-weight-total",
            "below 100: the balancer uses 100",
        )
    if shaping.header_value and shaping.header_pattern:
        p.note(
            NoteKind.IGNORED,
            "canary-by-header-pattern",
            "canary-by-header-value is set and wins over the pattern",
        )
    for short, value in (
        ("canary-by-header-value", shaping.header_value),
        ("canary-by-header-pattern", shaping.header_pattern),
    ):
        if value and not shaping.header:
            p.note(NoteKind.IGNORED, short, "has no effect without canary-by-header")
    return Canary(True, shaping)


def parse(ingress: Ingress, version: ControllerVersion, configmap: Mapping[str, str]) -> Parsed:
    """Parse one Ingress's annotations as the controller does.

    Args:
        ingress: the Ingress.
        version: the controller release.
        configmap: the controller's ConfigMap keys.

    Returns:
        The parsed settings, their notes, or the reason the Ingress is refused.
    """
    risky = _risk(ingress, configmap, version)
    if risky:
        return Parsed(rejected=risky)
    p = _Parser(ingress, version, version.comma_in_cookie_path)
    hash_by, refused = _hash_by(p)
    if refused:
        return Parsed(rejected=refused)
    balance = p.read("load-balance", str)
    if balance.outcome is Outcome.INVALID:
        return Parsed(
            rejected=f"load-balance {balance.raw!r} is not {FIELDS['load-balance'].expects}"
        )
    if balance.outcome is Outcome.EMPTY:
        p.note(NoteKind.DEFAULTED, "load-balance", "empty: the ConfigMap's load-balance is used")
    upstream = p.read("service-upstream", bool)
    if upstream.outcome in (Outcome.INVALID, Outcome.EMPTY):
        p.note(NoteKind.DEFAULTED, "service-upstream", "not a boolean: service-upstream is off")
    service_upstream = (
        bool(upstream.value)
        if upstream.outcome is not Outcome.MISSING
        else v.go_bool(configmap.get("service-upstream", "false")) is True
    )
    affinity = _affinity(p)
    canary = _canary(p)
    target = str(p.lenient("rewrite-target", str, "", "no rewrite"))
    use_regex = bool(p.lenient("use-regex", bool, False))
    for short, what in UNMODELLED.items():
        if ANNOTATION_PREFIX + short in ingress.annotations:
            p.note(NoteKind.UNMODELLED, short, f"the model does not follow {what}")
    set_for_backend = {
        short: ingress.annotations[ANNOTATION_PREFIX + short]
        for short in (
            "upstream-hash-by",
            "upstream-hash-by-subset",
            "upstream-hash-by-subset-size",
            "load-balance",
            "service-upstream",
        )
        if ANNOTATION_PREFIX + short in ingress.annotations
    }
    return Parsed(
        hash_by=hash_by,
        load_balance=str(balance.value) if balance.ok else "",
        service_upstream=service_upstream,
        affinity=affinity,
        canary=canary,
        rewrite_target=target,
        use_regex=use_regex,
        notes=tuple(p.notes),
        set_for_backend=set_for_backend,
    )
