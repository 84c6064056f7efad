"""The candidate catalog (manifests/catalog.yaml): load, validate, turn into setups.

A candidate is one configuration a user could choose: Ingress annotations, controller
ConfigMap keys, a path layout and a replica count, plus, per data plane, the value each
property is expected to have and why. ``load()`` reads the file and checks everything it
can without a backend; a mistake is a ``ConfigError`` starting with ``path:line:`` and
naming the candidate, the field and what would be right.

Expectation kinds (one per property and data plane, each with a ``why``):

==================  =========================================================================
``equals: X``       the figure is exactly X
``at_most: X``      the figure is X or less (``at_least`` likewise)
``range: [A, B]``   A <= figure <= B
``binomial: Q``     a count inside exact binomial bounds (``sigmas``, default 5) of the
                    probability Q, computed at run time from the placement model
                    (``QUANTITIES``)
``model: exact``    the figure equals the placement model's figure for the same traffic
``pod_bounds: true``  every pod's load inside binomial bounds of its chance of a fresh key
                    (``sigmas``, default 5); max/mean and CV follow
``not_predicted``   measured and shown, no bound can be justified
``not_applicable``  not measured: the property means nothing for this candidate
==================  =========================================================================

Bounds default to 5 sigmas, not the suite's minimum of 4: one run checks some fifteen
binomial bounds, and at 5 sigmas (3e-7 per side) the whole run still does not flake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingressbed import ingress_keys, layouts
from ingressbed.errors import BedError, ConfigError
from ingressbed.paths import MANIFESTS
from ingressbed.placement import AFFINITY_MODES, DEFAULT_COOKIE_NAME, DEFAULT_SUBSET_SIZE, KeyExpr
from ingressbed.suggest import suggest
from ingressbed.vocabulary import Flavor, Setup
from ingressbed.yamlsource import Source

DEFAULT_PATH = MANIFESTS / "catalog.yaml"
#: Default width of binomial bounds, in standard deviations (never below 4).
DEFAULT_SIGMAS = 5.0
PLANES: tuple[str, ...] = (Flavor.NGINX, Flavor.INGRESS_NGINX)
BOTH = "both"


@dataclass(frozen=True)
class Property:
    """A figure computed for every candidate; ``share`` figures are counts over trials."""

    name: str
    title: str
    what: str
    share: bool
    quantities: frozenset[str] = frozenset()


PROPERTIES: tuple[Property, ...] = (
    Property(
        "client_stickiness",
        "client sticky",
        "share of (client, route) pairs whose 3 visits, each to another page, hit one pod",
        True,
        frozenset({"repeat"}),
    ),
    Property(
        "cross_port",
        "cross-port",
        "share of clients on one pod for every visit on all three routes (/8080, /9090, /ws)",
        True,
        frozenset({"repeat", "same_key_routes"}),
    ),
    Property(
        "url_stickiness",
        "URL sticky",
        "share of page URLs whose two visits (two different clients) hit one pod",
        True,
        frozenset({"repeat", "subset_revisit"}),
    ),
    Property("spread_max_mean", "max/mean", "busiest pod's load over the mean load", False),
    Property("spread_cv", "CV", "coefficient of variation of the load per pod", False),
    Property(
        "cache_hit_ratio",
        "cache hits",
        "share of X-Cache-Status: HIT in a second pass over the page URLs",
        True,
        frozenset({"repeat", "subset_revisit"}),
    ),
    Property(
        "moved_on_scale",
        "moved on +1 pod",
        "share of keys whose pod changed when one pod was added",
        True,
        frozenset({"new_pod_share"}),
    ),
    Property(
        "moved_elsewhere",
        "moved to old pods",
        "share of keys that moved to a pod other than the new one when one pod was added",
        True,
    ),
    Property(
        "model_agreement",
        "model",
        "share of picks equal to the placement model's prediction",
        True,
    ),
)
PROPERTY_NAMES: tuple[str, ...] = tuple(p.name for p in PROPERTIES)
BY_NAME: dict[str, Property] = {p.name: p for p in PROPERTIES}

#: Probabilities a ``binomial`` expectation may name, and the placements they exist for.
QUANTITIES: dict[str, tuple[str, frozenset[str]]] = {
    "repeat": (
        "chance that independent fresh picks (one per visit) all land on one pod",
        frozenset({"hash", "subset", "cookie-balanced", "cookie-persistent", "round-robin"}),
    ),
    "same_key_routes": (
        "chance that one key lands on the same pod on the rings of every route's port",
        frozenset({"hash"}),
    ),
    "new_pod_share": ("the added pod's share of the ring", frozenset({"hash", "cookie-balanced"})),
    "subset_revisit": (
        "chance that two picks inside a key's subset are the same pod",
        frozenset({"subset"}),
    ),
}

BOUNDED = ("equals", "at_most", "at_least", "range")
KINDS: tuple[str, ...] = (
    *BOUNDED,
    "binomial",
    "model",
    "pod_bounds",
    "not_predicted",
    "not_applicable",
)
_SPREAD_ONLY = {
    "model": frozenset({"hash"}),
    "pod_bounds": frozenset({"subset", "cookie-balanced", "cookie-persistent"}),
}
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class Expectation:
    """What one property should be on one data plane, and why."""

    kind: str
    why: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    quantity: str | None = None
    sigmas: float = DEFAULT_SIGMAS

    @property
    def measured(self) -> bool:
        """Whether the property is measured at all."""
        return self.kind != "not_applicable"

    def describe(self) -> str:
        """The expectation as short text, before any run-time figure is known."""
        if self.kind == "equals":
            return f"= {self.value:g}"
        if self.kind == "at_most":
            return f"≤ {self.value:g}"
        if self.kind == "at_least":
            return f"≥ {self.value:g}"
        if self.kind == "range":
            return f"{self.low:g} .. {self.high:g}"
        if self.kind == "binomial":
            return f"{self.sigmas:g}σ binomial bounds of p({self.quantity})"
        if self.kind == "model":
            return "= placement model (exact)"
        if self.kind == "pod_bounds":
            return f"every pod within {self.sigmas:g}σ binomial bounds"
        return "not predicted" if self.kind == "not_predicted" else "n/a"


@dataclass(frozen=True)
class Candidate:
    """One configuration of the catalog."""

    id: str
    intent: str
    layout: str
    replicas: int
    annotations: Mapping[str, str]
    controller: Mapping[str, str]
    planes: tuple[str, ...]
    expect: Mapping[str, Mapping[str, Expectation]]  # property -> plane -> expectation
    line: int = 0

    def setup(self) -> Setup:
        """The setup to serve. Rules match any host so that page traffic may use many."""
        return layouts.setup(
            self.layout,
            self.annotations,
            controller=self.controller,
            replicas=self.replicas,
            host=None,
        )

    def annotation(self, short: str) -> str | None:
        """An annotation's value by its short name."""
        return self.annotations.get(short)

    @property
    def hash_by(self) -> str | None:
        """The ``upstream-hash-by`` expression, if any."""
        return self.annotation("upstream-hash-by")

    @property
    def subset_size(self) -> int | None:
        """The subset size under ``upstream-hash-by-subset``, else None."""
        if self.placement != "subset":
            return None
        return int(self.annotation("upstream-hash-by-subset-size") or DEFAULT_SUBSET_SIZE)

    @property
    def cookie_name(self) -> str:
        """The affinity cookie's name."""
        return self.annotation("session-cookie-name") or DEFAULT_COOKIE_NAME

    @property
    def placement(self) -> str:
        """How the data plane places requests (decides what can be predicted)."""
        if (self.annotation("affinity") or "") == "cookie":
            mode = self.annotation("affinity-mode") or "balanced"
            return f"cookie-{mode}"
        if self.hash_by:
            subset = (self.annotation("upstream-hash-by-subset") or "").lower() == "true"
            return "subset" if subset else "hash"
        if (self.annotation("service-upstream") or "").lower() == "true":
            return "service-upstream"
        balance = self.annotation("load-balance") or self.controller.get("load-balance")
        return "ewma" if balance == "ewma" else "round-robin"

    def expectation(self, prop: str, plane: str) -> Expectation | None:
        """The expectation of ``prop`` on ``plane`` (None: the candidate is not for it)."""
        return self.expect.get(prop, {}).get(plane)


@dataclass(frozen=True)
class Catalog:
    """All candidates, in file order."""

    path: Path
    candidates: tuple[Candidate, ...]

    def get(self, candidate_id: str) -> Candidate:
        """The candidate with this id (ConfigError naming the known ids otherwise)."""
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        known = ", ".join(c.id for c in self.candidates)
        raise ConfigError(f"no candidate {candidate_id!r} in {self.path}; known: {known}")


def load(path: Path | str = DEFAULT_PATH) -> Catalog:
    """Read and validate a catalog file.

    Args:
        path: the YAML file (default manifests/catalog.yaml).

    Returns:
        The catalog.

    Raises:
        ConfigError: unreadable file, bad YAML, or an invalid entry (``path:line:`` first).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the catalog {path}: {exc.strerror or exc}") from exc
    return parse(text, path)


def parse(text: str, source: Path | str = "<catalog>") -> Catalog:
    """Validate catalog text; see ``load``."""
    src = Source(str(source), error_class=ConfigError)
    return _Parser(src).catalog(src.load(text), Path(source))


class _Parser:
    """Turns the loaded YAML into a ``Catalog``, failing at the first mistake."""

    def __init__(self, src: Source) -> None:
        self.src = src

    def fail(self, node: object, what: str, where: str = "") -> BedError:
        """A ``ConfigError`` at the line of ``node`` (none for a scalar), under ``where``."""
        return self.src.error(getattr(node, "line", 0), (f"{where}: " if where else "") + what)

    def known_keys(
        self, mapping: dict[str, Any], known: set[str], where: str, hint: str = ""
    ) -> None:
        """Reject a key of ``mapping`` not in ``known``, at the mapping's line."""
        for key in mapping:
            if key not in known:
                extra = hint or f"known: {', '.join(sorted(known))}"
                raise self.fail(
                    mapping, f"unknown key {key!r}{suggest(str(key), known)}; {extra}", where
                )

    def catalog(self, data: Any, path: Path) -> Catalog:
        if not isinstance(data, dict):
            raise self.fail(data, "the catalog must be a mapping with a 'candidates' list")
        self.known_keys(data, {"version", "candidates"}, "catalog")
        entries = data.get("candidates")
        if not isinstance(entries, list) or not entries:
            raise self.fail(data, "'candidates' must be a non-empty list")
        candidates: list[Candidate] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries, 1):
            candidate = self.candidate(entry, index)
            if candidate.id in seen:
                raise self.fail(
                    entry, f"duplicate id {candidate.id!r} (first at line {seen[candidate.id]})"
                )
            seen[candidate.id] = candidate.line
            candidates.append(candidate)
        return Catalog(path, tuple(candidates))

    def candidate(self, entry: Any, index: int) -> Candidate:
        where = f"candidate #{index}"
        if not isinstance(entry, dict):
            raise self.fail(entry, "must be a mapping (id, intent, layout, ...)", where)
        ident = entry.get("id")
        if not isinstance(ident, str) or not _ID.fullmatch(ident):
            raise self.fail(entry, "'id' must be lowercase letters, digits and '-'", where)
        where = f"candidate {ident!r}"
        self.known_keys(
            entry,
            {"id", "intent", "layout", "replicas", "annotations", "controller", "planes", "expect"},
            where,
        )
        intent = entry.get("intent")
        if not isinstance(intent, str) or not intent.strip() or "\n" in intent.strip():
            raise self.fail(entry, "'intent' must be one line of text", where)
        layout = entry.get("layout", "three-ports")
        if layout not in layouts.PATHS:
            raise self.fail(
                entry, f"layout {layout!r} is not one of {', '.join(layouts.PATHS)}", where
            )
        replicas = entry.get("replicas", 6)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 2 <= replicas <= 50:
            raise self.fail(
                entry, f"replicas must be a whole number 2..50, not {replicas!r}", where
            )
        planes = entry.get("planes", list(PLANES))
        if not isinstance(planes, list) or not planes or not set(planes) <= set(PLANES):
            raise self.fail(
                entry, f"planes must be a list of {', '.join(PLANES)}, not {planes!r}", where
            )
        candidate = Candidate(
            id=ident,
            intent=intent.strip(),
            layout=layout,
            replicas=replicas,
            annotations=self.strings(entry, "annotations", where),
            controller=self.strings(entry, "controller", where),
            planes=tuple(p for p in PLANES if p in planes),
            expect={},
            line=getattr(entry, "line", 0),
        )
        self.check_setup(entry, candidate, where)
        expect = self.expectations(entry.get("expect"), entry, candidate, where)
        return Candidate(**{**candidate.__dict__, "expect": expect})

    def strings(self, entry: dict[str, Any], key: str, where: str) -> dict[str, str]:
        value = entry.get(key) or {}
        if not isinstance(value, dict):
            raise self.fail(entry, f"'{key}' must be a mapping of names to strings", where)
        for name, item in value.items():
            if not isinstance(item, str):
                raise self.fail(
                    value,
                    f"{key}.{name} is {type(item).__name__} {item!r}; Kubernetes wants a "
                    f'string: quote it ("{str(item).lower() if isinstance(item, bool) else item}")',
                    where,
                )
        return {str(k): v for k, v in value.items()}

    def check_setup(self, entry: Any, candidate: Candidate, where: str) -> None:
        try:
            ingress_keys.check(candidate.setup())
            if candidate.hash_by:
                for plane in candidate.planes:
                    KeyExpr(candidate.hash_by, flavor=plane)
        except BedError as exc:
            block = entry.get("controller") if "ConfigMap" in str(exc) else None
            node = block or entry.get("annotations") or entry
            raise self.fail(node, str(exc), where) from exc
        node = entry.get("annotations") or entry
        mode = candidate.annotation("affinity-mode")
        if mode is not None and mode not in AFFINITY_MODES:
            raise self.fail(
                node, f"affinity-mode {mode!r} is not one of {', '.join(AFFINITY_MODES)}", where
            )
        size = candidate.annotation("upstream-hash-by-subset-size")
        if size is not None and (not size.isdigit() or int(size) < 1):
            raise self.fail(node, f"upstream-hash-by-subset-size {size!r} is not >= 1", where)

    def expectations(
        self, raw: Any, entry: Any, candidate: Candidate, where: str
    ) -> dict[str, dict[str, Expectation]]:
        if not isinstance(raw, dict):
            raise self.fail(entry, "'expect' must map every property to its expectations", where)
        for name in raw:
            if name not in BY_NAME:
                raise self.fail(
                    raw, f"unknown property {name!r}{suggest(name, PROPERTY_NAMES)}", where
                )
        missing = [p for p in PROPERTY_NAMES if p not in raw]
        if missing:
            raise self.fail(
                raw, f"expect lacks {', '.join(missing)} (every property is stated)", where
            )
        out: dict[str, dict[str, Expectation]] = {}
        for name in PROPERTY_NAMES:
            out[name] = self.per_plane(raw[name], candidate, name, f"{where}: expect.{name}")
        return out

    def per_plane(
        self, raw: Any, candidate: Candidate, prop: str, where: str
    ) -> dict[str, Expectation]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(raw, "give 'both:' or one entry per data plane", where)
        allowed = {BOTH, *candidate.planes}
        self.known_keys(
            raw,
            allowed,
            where,
            hint=f"planes of this candidate: {', '.join(candidate.planes)}",
        )
        if BOTH in raw and len(raw) > 1:
            raise self.fail(raw, "'both' and a per-plane entry exclude each other", where)
        if BOTH not in raw and set(raw) != set(candidate.planes):
            lacking = ", ".join(sorted(set(candidate.planes) - set(raw)))
            raise self.fail(raw, f"no expectation for data plane {lacking}", where)
        out: dict[str, Expectation] = {}
        for plane in candidate.planes:
            label = BOTH if BOTH in raw else plane
            out[plane] = self.expectation(raw[label], candidate, prop, f"{where}.{label}")
        return out

    def expectation(self, raw: Any, candidate: Candidate, prop: str, where: str) -> Expectation:
        if not isinstance(raw, dict):
            raise self.fail(raw, "an expectation is a mapping like {equals: 1.0, why: ...}", where)
        kinds = [k for k in raw if k in KINDS]
        self.known_keys(raw, {*KINDS, "why", "sigmas"}, where)
        if len(kinds) != 1:
            raise self.fail(raw, f"give exactly one of {', '.join(KINDS)}", where)
        kind = kinds[0]
        why = raw.get("why")
        if not isinstance(why, str) or not why.strip():
            raise self.fail(raw, "'why' must say where the expected value comes from", where)
        sigmas = raw.get("sigmas", DEFAULT_SIGMAS)
        if not _number(sigmas) or sigmas < 4:
            raise self.fail(
                raw, f"sigmas must be a number >= 4 (closer bounds flake), not {sigmas!r}", where
            )
        expectation = Expectation(kind, " ".join(why.split()), sigmas=float(sigmas))
        return self.bounds(raw, kind, expectation, candidate, BY_NAME[prop], where)

    def bounds(
        self,
        raw: dict[str, Any],
        kind: str,
        base: Expectation,
        candidate: Candidate,
        prop: Property,
        where: str,
    ) -> Expectation:
        value = raw[kind]
        limit = (0.0, 1.0) if prop.share else (0.0, float("inf"))
        if kind in ("equals", "at_most", "at_least"):
            if not _number(value) or not limit[0] <= value <= limit[1]:
                raise self.fail(
                    raw, f"{kind} needs a number in {_span(limit)}, not {value!r}", where
                )
            return _replace(base, value=float(value))
        if kind == "range":
            ok = isinstance(value, list) and len(value) == 2 and all(map(_number, value))
            if not ok or not limit[0] <= value[0] <= value[1] <= limit[1]:
                raise self.fail(
                    raw, f"range needs [low, high] in {_span(limit)}, not {value!r}", where
                )
            return _replace(base, low=float(value[0]), high=float(value[1]))
        if kind == "binomial":
            if not prop.share:
                raise self.fail(raw, f"{prop.name} is not a count over trials: no binomial", where)
            if value not in prop.quantities:
                allowed = ", ".join(sorted(prop.quantities)) or "none"
                raise self.fail(
                    raw,
                    f"binomial {value!r} is not known for {prop.name} (known: {allowed})",
                    where,
                )
            placements = QUANTITIES[value][1]
            if candidate.placement not in placements:
                raise self.fail(
                    raw,
                    f"binomial {value!r} needs a placement among {', '.join(sorted(placements))}, "
                    f"this candidate's is {candidate.placement!r}",
                    where,
                )
            return _replace(base, quantity=value)
        if kind in _SPREAD_ONLY:
            if prop.share:
                raise self.fail(raw, f"{kind} applies to the spread properties only", where)
            if candidate.placement not in _SPREAD_ONLY[kind]:
                raise self.fail(
                    raw,
                    f"{kind} needs a placement among {', '.join(sorted(_SPREAD_ONLY[kind]))}, "
                    f"this candidate's is {candidate.placement!r}",
                    where,
                )
            wanted = "exact" if kind == "model" else True
            if value != wanted:
                raise self.fail(raw, f"write '{kind}: {str(wanted).lower()}'", where)
            return base
        if value is not True:
            raise self.fail(raw, f"write '{kind}: true'", where)
        return base


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _span(limit: tuple[float, float]) -> str:
    return f"{limit[0]:g}..{limit[1]:g}"


def _replace(base: Expectation, **changes: float | str) -> Expectation:
    return Expectation(**{**base.__dict__, **changes})
