"""The one expectation language: what an e2e test, a scenario file or a catalog candidate
asks of a run (pure values; no behaviour beyond describing themselves).

Every expectation has a ``kind`` (``Kind``), the file ``line`` it came from (0 from
Python), a ``why`` (the reason, required in the catalog) and the data ``planes`` it
applies to (empty: every plane). ``ingressbed.judge`` turns an expectation and the run's
evidence into a ``Verdict``; the scenario parser (``ingressbed.scenario.expects``) and
the e2e helpers (``ingressbed.expect``) only build these values.

Two families:

- observation kinds judge the answers of named steps: ``same_pod``, ``different_pods``,
  ``pods_count``, ``cache_status``, ``status``, ``answered``, ``spread``, ``model_picks``,
  ``header`` (an answer header present, absent, equal to or matching a value) and
  ``cookie`` (a ``Set-Cookie``'s attributes, or whether a browser sent the cookie back);
- property kinds judge one property (``PROPERTIES``) of a ``mix`` step's traffic with a
  ``Check``: ``equals``, ``at_most``, ``at_least``, ``range``, ``binomial`` (exact binomial
  bounds of a probability the placement model gives, ``QUANTITIES``), ``model`` (the
  model's figure for the same traffic) or ``pod_bounds`` (every pod's load inside
  binomial bounds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ingressbed.vocabulary import DataPlane, Placement

#: Default width of binomial bounds, in standard deviations (never below 4).
DEFAULT_SIGMAS = 5.0
MIN_SIGMAS = 4.0
#: Tolerance of number comparisons (figures are shares and ratios).
TOLERANCE = 1e-9


class Kind(StrEnum):
    """Every expectation kind, as written in a scenario file's ``expect:`` list."""

    SAME_POD = "same_pod"
    DIFFERENT_PODS = "different_pods"
    PODS_COUNT = "pods_count"
    CACHE_STATUS = "cache_status"
    STATUS = "status"
    ANSWERED = "answered"
    SPREAD = "spread"
    MODEL_PICKS = "model_picks"
    HEADER = "header"
    COOKIE = "cookie"
    CLIENT_STICKINESS = "client_stickiness"
    CROSS_PORT = "cross_port"
    URL_STICKINESS = "url_stickiness"
    SPREAD_MAX_MEAN = "spread_max_mean"
    SPREAD_CV = "spread_cv"
    CACHE_HIT_RATIO = "cache_hit_ratio"
    MOVED_ON_SCALE = "moved_on_scale"
    MOVED_ELSEWHERE = "moved_elsewhere"
    MODEL_AGREEMENT = "model_agreement"
    SLOW_POD_SHARE = "slow_pod_share"
    ONE_UPSTREAM = "one_upstream"


POD_KINDS = frozenset({Kind.SAME_POD, Kind.DIFFERENT_PODS, Kind.PODS_COUNT})


class Check(StrEnum):
    """How a property's figure is checked."""

    EQUALS = "equals"
    AT_MOST = "at_most"
    AT_LEAST = "at_least"
    RANGE = "range"
    BINOMIAL = "binomial"
    MODEL = "model"
    POD_BOUNDS = "pod_bounds"


BOUNDED_CHECKS = frozenset({Check.EQUALS, Check.AT_MOST, Check.AT_LEAST, Check.RANGE})


class Per(StrEnum):
    """How pod expectations group answers."""

    CLIENT = "client"  # the X-Forwarded-For address
    URL = "url"  # host + path and query
    HOST = "host"
    CLIENT_ROUTE = "client_route"  # (client, Ingress path)
    ALL = "all"


@dataclass(frozen=True)
class Property:
    """A figure measured on a ``mix`` step; ``share`` figures are counts over trials."""

    kind: Kind
    title: str
    what: str
    share: bool
    quantities: frozenset[str] = frozenset()
    checks: frozenset[Check] = BOUNDED_CHECKS | {Check.BINOMIAL}


_SPREAD_CHECKS = BOUNDED_CHECKS | {Check.MODEL, Check.POD_BOUNDS}

PROPERTIES: tuple[Property, ...] = (
    Property(
        Kind.CLIENT_STICKINESS,
        "client sticky",
        "share of (client, route) pairs whose 3 visits, each to another page, hit one pod",
        True,
        frozenset({"repeat"}),
    ),
    Property(
        Kind.CROSS_PORT,
        "cross-port",
        "share of clients on one pod for every visit on all three routes (/8080, /9090, /ws)",
        True,
        frozenset({"repeat", "same_key_routes"}),
    ),
    Property(
        Kind.URL_STICKINESS,
        "URL sticky",
        "share of page URLs whose two visits (two different clients) hit one pod",
        True,
        frozenset({"repeat", "subset_revisit"}),
    ),
    Property(
        Kind.SPREAD_MAX_MEAN,
        "max/mean",
        "busiest pod's load over the mean load",
        False,
        checks=_SPREAD_CHECKS,
    ),
    Property(
        Kind.SPREAD_CV,
        "CV",
        "coefficient of variation of the load per pod",
        False,
        checks=_SPREAD_CHECKS,
    ),
    Property(
        Kind.CACHE_HIT_RATIO,
        "cache hits",
        "share of X-Cache-Status: HIT in a second pass over the page URLs",
        True,
        frozenset({"repeat", "subset_revisit"}),
    ),
    Property(
        Kind.MOVED_ON_SCALE,
        "moved on +1 pod",
        "share of keys whose pod changed when one pod was added",
        True,
        frozenset({"new_pod_share"}),
        BOUNDED_CHECKS | {Check.BINOMIAL, Check.MODEL},
    ),
    Property(
        Kind.MOVED_ELSEWHERE,
        "moved to old pods",
        "share of keys that moved to a pod other than the new one when one pod was added",
        True,
        checks=BOUNDED_CHECKS | {Check.BINOMIAL, Check.MODEL},
    ),
    Property(
        Kind.MODEL_AGREEMENT,
        "model",
        "share of picks equal to the placement model's prediction",
        True,
    ),
    Property(
        Kind.SLOW_POD_SHARE,
        "slow pod",
        "share of page requests answered by the pods the setup slows down (hellogo.slow)",
        True,
    ),
    Property(
        Kind.ONE_UPSTREAM,
        "one upstream",
        "share of routes whose balancer holds one peer that is no pod's address (the Service)",
        True,
    ),
)
PROPERTY_KINDS: tuple[Kind, ...] = tuple(p.kind for p in PROPERTIES)
BY_KIND: dict[Kind, Property] = {p.kind: p for p in PROPERTIES}

#: Probabilities a ``binomial`` check may name, and the placements they exist for.
QUANTITIES: dict[str, tuple[str, frozenset[Placement]]] = {
    "repeat": (
        "chance that independent fresh picks (one per visit) all land on one pod",
        frozenset(
            {
                Placement.HASH,
                Placement.SUBSET,
                Placement.COOKIE_BALANCED,
                Placement.COOKIE_PERSISTENT,
                Placement.ROUND_ROBIN,
            }
        ),
    ),
    "same_key_routes": (
        "chance that one key lands on the same pod on the rings of every route's port",
        frozenset({Placement.HASH}),
    ),
    "new_pod_share": (
        "the added pod's share of the ring",
        frozenset({Placement.HASH, Placement.COOKIE_BALANCED}),
    ),
    "subset_revisit": (
        "chance that two picks inside a key's subset are the same pod",
        frozenset({Placement.SUBSET}),
    ),
}
#: Placements a ``model`` / ``pod_bounds`` check exists for.
CHECK_PLACEMENTS: dict[Check, frozenset[Placement]] = {
    Check.MODEL: frozenset({Placement.HASH}),
    Check.POD_BOUNDS: frozenset(
        {Placement.SUBSET, Placement.COOKIE_BALANCED, Placement.COOKIE_PERSISTENT}
    ),
}


@dataclass(frozen=True)
class Bound:
    """A number's allowed range: ``equals``, or ``at_least`` and/or ``at_most``."""

    equals: float | None = None
    at_least: float | None = None
    at_most: float | None = None

    @property
    def low(self) -> float | None:
        return self.equals if self.equals is not None else self.at_least

    @property
    def high(self) -> float | None:
        return self.equals if self.equals is not None else self.at_most

    def holds(self, figure: float) -> bool:
        low, high = self.low, self.high
        return (low is None or figure >= low - TOLERANCE) and (
            high is None or figure <= high + TOLERANCE
        )

    def __str__(self) -> str:
        if self.equals is not None:
            return f"= {self.equals:g}"
        parts = []
        if self.at_least is not None:
            parts.append(f">= {self.at_least:g}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most:g}")
        return " and ".join(parts)


_RELEASE = re.compile(r"(?:controller-)?v?(\d+(?:\.\d+){0,2})\Z")
_OPERATORS = (">=", "<=", "==", ">", "<")


def release_parts(text: str) -> tuple[int, ...]:
    """``1.11``, ``v1.11.3`` or ``controller-v1.11.3`` as numbers.

    Raises:
        ValueError: not a release number.
    """
    found = _RELEASE.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a release like 1.11, 1.11.3 or v1.15.1")
    return tuple(int(part) for part in found[1].split("."))


@dataclass(frozen=True)
class VersionRange:
    """Controller releases, as ``>=1.11,<1.13``: every bound must hold.

    A bound with fewer parts stands for every release it starts: ``==1.11`` is any
    1.11.x, ``<=1.11`` is 1.11.x and older, ``>1.11`` is 1.12.0 and newer, ``>=1.11`` is
    1.11.0 and newer, ``<1.11`` is older than 1.11.0.
    """

    text: str
    bounds: tuple[tuple[str, tuple[int, ...]], ...]

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Read ``OP VERSION[,OP VERSION...]`` (OP one of ``>= <= == > <``).

        Raises:
            ValueError: what is wrong, in one line.
        """
        bounds: list[tuple[str, tuple[int, ...]]] = []
        for part in text.split(","):
            item = part.strip()
            op = next((o for o in _OPERATORS if item.startswith(o)), "")
            if not op:
                raise ValueError(
                    f"{item!r} has no comparison; write >=, <=, ==, > or < before the release"
                )
            bounds.append((op, release_parts(item[len(op) :])))
        return cls(",".join(f"{o}{'.'.join(map(str, v))}" for o, v in bounds), tuple(bounds))

    def contains(self, release: str) -> bool:
        """Whether ``release`` (e.g. ``v1.15.1``) is in the range.

        Raises:
            ValueError: not a release number.
        """
        got = release_parts(release)
        for op, bound in self.bounds:
            head = got[: len(bound)]
            if op == "==" and head != bound:
                return False
            if op == ">=" and head < bound:
                return False
            if op == "<" and head >= bound:
                return False
            if op == "<=" and head > bound:
                return False
            if op == ">" and head <= bound:
                return False
        return True

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Base:
    """What every expectation carries besides its kind's fields.

    ``versions`` pairs a data plane with a controller version range (``on:
    ingress-nginx@>=1.11``): on that plane the expectation is judged only for a controller
    in one of its ranges.
    """

    line: int = 0
    why: str = ""
    planes: tuple[DataPlane, ...] = ()  # empty: every data plane
    versions: tuple[tuple[DataPlane, VersionRange], ...] = ()

    def applies_to(self, plane: str | None, version: str | None = None) -> bool:
        """Whether this expectation is judged on data plane ``plane`` whose controller
        is ``version`` (None: not known, or no controller; ranges are then not checked)."""
        if self.planes and plane not in self.planes:
            return False
        ranges = [r for p, r in self.versions if p == plane]
        if not ranges or version is None:
            return True
        return any(r.contains(version) for r in ranges)


@dataclass(frozen=True)
class PodsExpect(Base):
    """``same_pod``, ``different_pods`` or ``pods_count``, judged per group.

    Answers of ``steps`` are grouped ``per`` client, URL, host, (client, route) or all
    together; each group's number of distinct pods must be 1 (same_pod), 2 or more
    (different_pods) or within ``bound`` (pods_count), in at least ``min_share`` of the
    groups.
    """

    kind: Kind = Kind.SAME_POD
    steps: tuple[str, ...] = ()
    per: Per = Per.CLIENT
    min_share: float = 1.0
    bound: Bound | None = None


@dataclass(frozen=True)
class CacheExpect(Base):
    """``cache_status``: the ``last`` answer's status, ``every`` answer's, or a ``ratio``."""

    kind: Kind = Kind.CACHE_STATUS
    steps: tuple[str, ...] = ()
    status: str = "HIT"
    mode: str = "last"  # "last", "every" or "ratio"
    bound: Bound | None = None


@dataclass(frozen=True)
class StatusExpect(Base):
    """``status``: every answer of ``steps`` has one of ``codes``."""

    kind: Kind = Kind.STATUS
    steps: tuple[str, ...] = ()
    codes: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class AnsweredExpect(Base):
    """``answered``: every request of ``steps`` was answered by a pod, status below 400."""

    kind: Kind = Kind.ANSWERED
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpreadExpect(Base):
    """``spread``: the busiest pod's load over the mean load, over every pod of the bed."""

    kind: Kind = Kind.SPREAD
    steps: tuple[str, ...] = ()
    max_mean: Bound = Bound()


@dataclass(frozen=True)
class PicksExpect(Base):
    """``model_picks``: every answer of ``steps`` came from the pod the placement model
    picks for it (the setup's ``upstream-hash-by`` on the flavor of the bed's data plane)."""

    kind: Kind = Kind.MODEL_PICKS
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeaderExpect(Base):
    """``header``: an answer header of ``steps``, lower-case ``name``, judged on ``answers``
    (``every``, ``any``, ``first`` or ``last`` answer): ``present`` (True) or absent
    (False), equal to ``equals``, or matching the regular expression ``matches`` (a search)."""

    kind: Kind = Kind.HEADER
    steps: tuple[str, ...] = ()
    name: str = ""
    present: bool = True
    equals: str | None = None
    matches: str = ""
    answers: str = "every"


@dataclass(frozen=True)
class CookieAttribute:
    """One attribute a ``Set-Cookie`` must have: ``name`` as a browser reads it (``Path``,
    ``Domain``, ``SameSite``, ``Max-Age``, ``Expires``, ``Secure``, ``HttpOnly``).

    ``present`` False: it must be absent. ``value``: what it must equal (case ignored but
    for ``Path``). ``seconds``: a bound on ``Max-Age``, or on ``Expires`` minus the answer's
    ``Date``.
    """

    name: str
    present: bool = True
    value: str | None = None
    seconds: Bound | None = None

    def describe(self) -> str:
        key = self.name
        if not self.present:
            return f"no {key}"
        if self.seconds is not None:
            what = "s after Date" if key == "Expires" else ""
            return f"{key} {self.seconds}{what}"
        return key if self.value is None else f"{key}={self.value}"


@dataclass(frozen=True)
class CookieExpect(Base):
    """``cookie``: cookie ``name`` on the answers and requests of ``steps``.

    ``set`` True: some answers set it, and every ``Set-Cookie`` of it has ``attributes``;
    False: no answer set it. ``sent`` True: every request carried it (from the jar of a
    ``cookies: keep`` step); False: none did. None: not judged.
    """

    kind: Kind = Kind.COOKIE
    steps: tuple[str, ...] = ()
    name: str = ""
    set: bool | None = None
    sent: bool | None = None
    attributes: tuple[CookieAttribute, ...] = ()


@dataclass(frozen=True)
class PropertyExpect(Base):
    """A property of a ``mix`` step's traffic, checked one way (``check``)."""

    kind: Kind = Kind.CLIENT_STICKINESS
    step: str = ""
    check: Check = Check.EQUALS
    bound: Bound = Bound()
    quantity: str = ""  # binomial: a key of QUANTITIES
    sigmas: float = DEFAULT_SIGMAS

    def describe(self) -> str:
        """The expectation as short text, before any run-time figure is known."""
        if self.check in BOUNDED_CHECKS:
            bound = self.bound
            if self.check == Check.RANGE:
                return f"{bound.at_least:g} .. {bound.at_most:g}"
            return str(bound).replace(">=", "≥").replace("<=", "≤")
        if self.check == Check.BINOMIAL:
            return f"{self.sigmas:g}σ binomial bounds of p({self.quantity})"
        if self.check == Check.MODEL:
            return "= placement model (exact)"
        return f"every pod within {self.sigmas:g}σ binomial bounds"


Expectation = (
    PodsExpect
    | CacheExpect
    | StatusExpect
    | AnsweredExpect
    | SpreadExpect
    | PicksExpect
    | HeaderExpect
    | CookieExpect
    | PropertyExpect
)


def steps_of(expectation: Expectation) -> tuple[str, ...]:
    """The step names an expectation judges."""
    if isinstance(expectation, PropertyExpect):
        return (expectation.step,)
    return expectation.steps
