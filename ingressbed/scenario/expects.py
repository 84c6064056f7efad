"""The ``expect:`` list of a scenario file, validated into expectation values (pure).

Each item is a mapping with one expectation kind (``ingressbed.expectations.Kind``) and,
optionally, ``why:`` (the reason; required in the catalog) and ``on:`` (the data planes it
is judged on, default every one; ``ingress-nginx@>=1.11,<1.13`` limits it to controller
releases in that range)::

    - same_pod: [a, b]                        # per client, a and b on one pod
    - different_pods: {steps: [a, b], per: client, min_share: 0.5}
    - pods_count: {step: many, equals: 1}     # also at_least / at_most; per: all
    - cache_status: {step: many, last: HIT}   # or every: MISS, or ratio: {HIT: 0.9}
    - status: 200                             # every curl and http answer
    - answered: [a, b]                        # every request answered by a pod, < 400
    - spread: {step: load, max_mean: {at_most: 2.0}}
    - model_picks: [a, b]                     # every pick as the placement model's
    - header: {step: a, name: X-Served-By, matches: "^v2"}    # or present / absent / equals
    - cookie: {step: a, name: INGRESSCOOKIE, path: /, httponly: true}   # or set / sent
    - client_stickiness: {binomial: repeat, sigmas: 6}    # a property of the mix step
      on: nginx
      why: "..."

Every step an expectation names must exist; a property needs a ``mix`` step (``step:``
names it when there are several); ``binomial``, ``model`` and ``pod_bounds`` checks
must exist for the setup's placement (``ingressbed.balancing``).
"""

from __future__ import annotations

from dataclasses import replace

import yaml

from ingressbed import planes, yamlsource
from ingressbed.balancing import Balancing
from ingressbed.expectations import (
    BY_KIND,
    CHECK_PLACEMENTS,
    DEFAULT_SIGMAS,
    MIN_SIGMAS,
    POD_KINDS,
    PROPERTY_KINDS,
    QUANTITIES,
    AnsweredExpect,
    Base,
    Bound,
    CacheExpect,
    Check,
    Expectation,
    Kind,
    Per,
    PicksExpect,
    Placement,
    PodsExpect,
    PropertyExpect,
    SpreadExpect,
    StatusExpect,
    VersionRange,
)
from ingressbed.scenario import expects_headers
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.spec import AGAIN, CACHE_STATUSES, MIX, WEBSOCKET, Step
from ingressbed.suggest import suggest
from ingressbed.vocabulary import DataPlane, Setup
from ingressbed.yamlsource import Mapping, Node

KINDS: tuple[str, ...] = tuple(str(k) for k in Kind)
_BOUND_KEYS = ("equals", "at_least", "at_most")
_ITEM_KEYS = ("why", "on")


class _Reader:
    """Reads one expectation with the scenario's steps and setup at hand."""

    def __init__(self, src: Source, steps: tuple[Step, ...], setup: Setup) -> None:
        self.src = src
        self.steps = {s.name: s for s in steps}
        self.setup = setup
        self.balancing = Balancing.of(setup)

    # ---------------------------------------------------------------- steps
    def step_names(self, found: Mapping, mix: bool | None = None) -> tuple[str, ...]:
        if ("step" in found) == ("steps" in found):
            raise self.src.error(found.node, f"{found.what} needs step or steps (one of them)")
        key = "step" if "step" in found else "steps"
        return self.check_names(found.require(key), mix)

    def check_names(self, node: Node, mix: bool | None = None) -> tuple[str, ...]:
        """Names of existing steps; ``mix`` True: mix steps only, False: no mix step."""
        out: list[str] = []
        for name, name_node in yamlsource.names(self.src, node, "steps"):
            if name not in self.steps:
                known = ", ".join(self.steps)
                raise self.src.error(
                    name_node,
                    f"no step named {name!r}{suggest(name, self.steps)}; steps: {known}",
                )
            if not self.steps[name].sends:
                raise self.src.error(
                    name_node,
                    f"step {name!r} is a live edit ({self.steps[name].kind}): it sends nothing "
                    "to judge; name a traffic step",
                )
            if mix is not None and (self.base_kind(name) == MIX) != mix:
                what = "a property" if mix else "model_picks"
                wanted = "a mix step" if mix else "steps other than mix steps (see model_agreement)"
                raise self.src.error(name_node, f"step {name!r}: {what} judges {wanted}")
            out.append(name)
        return tuple(dict.fromkeys(out))

    def base_kind(self, name: str) -> str:
        step = self.steps[name]
        while step.kind == AGAIN:
            step = self.steps[step.again]
        return step.kind

    def names_or_mapping(
        self, kind: str, node: Node, extra: tuple[str, ...], mix: bool | None = None
    ) -> tuple[tuple[str, ...], Mapping | None]:
        """``[a, b]`` / ``a``, or a mapping with ``step``/``steps`` and ``extra`` keys."""
        if not isinstance(node, yaml.MappingNode):
            return self.check_names(node, mix), None
        found = Mapping(self.src, node, kind)
        found.only(("step", "steps", *extra))
        return self.step_names(found, mix), found

    # --------------------------------------------------------------- bounds
    def bound(self, node: Node, what: str, low: float, high: float | None) -> Bound:
        """``{equals: x}`` or ``{at_least: x, at_most: y}``; a bare number means equals."""
        if isinstance(node, yaml.ScalarNode):
            return Bound(equals=self.limit(node, what, low, high))
        found = Mapping(self.src, node, what)
        found.only(_BOUND_KEYS)
        return self.bound_from(found, what, low, high)

    def bound_from(self, found: Mapping, what: str, low: float, high: float | None) -> Bound:
        values = {
            k: self.limit(found.require(k), f"{what} {k}", low, high)
            for k in _BOUND_KEYS
            if k in found
        }
        if not values:
            raise self.src.error(found.node, f"{what} needs equals, at_least or at_most")
        if "equals" in values and len(values) > 1:
            raise self.src.error(found.node, f"{what}: equals excludes at_least and at_most")
        bound = Bound(**values)
        lo, hi = bound.at_least, bound.at_most
        if lo is not None and hi is not None and lo > hi:
            raise self.src.error(found.node, f"{what}: at_least is above at_most")
        return bound

    def limit(self, node: Node, what: str, low: float, high: float | None) -> float:
        figure = yamlsource.number(self.src, node, what)
        if figure < low or (high is not None and figure > high):
            upper = f"..{high:g}" if high is not None else " or more"
            raise self.src.error(node, f"{what} must be {low:g}{upper}, not {figure:g}")
        return figure

    # ------------------------------------------------------ observation kinds
    def pods(self, kind: Kind, node: Node) -> PodsExpect:
        extra = _BOUND_KEYS if kind == Kind.PODS_COUNT else ()
        if kind == Kind.PODS_COUNT and not isinstance(node, yaml.MappingNode):
            raise self.src.error(node, "pods_count is a mapping: {step: a, equals: 1}")
        steps, found = self.names_or_mapping(kind, node, ("per", "min_share", *extra))
        per = Per.ALL if kind == Kind.PODS_COUNT else Per.CLIENT
        share = 1.0
        bound = None
        if found is not None:
            if "per" in found:
                text = yamlsource.string(self.src, found.require("per"), "per")
                if text not in tuple(Per):
                    raise self.src.error(
                        found.require("per"), f"per {text!r} is not one of {', '.join(Per)}"
                    )
                per = Per(text)
            if "min_share" in found:
                share = self.limit(found.require("min_share"), "min_share", 0.0, 1.0)
            if kind == Kind.PODS_COUNT:
                bound = self.bound_from(found, kind, 0, None)
        return PodsExpect(kind=kind, steps=steps, per=per, min_share=share, bound=bound)

    def cache(self, node: Node) -> CacheExpect:
        found = Mapping(self.src, node, Kind.CACHE_STATUS)
        found.only(("step", "steps", "last", "every", "ratio"))
        steps = self.step_names(found)
        modes = [m for m in ("last", "every", "ratio") if m in found]
        if len(modes) != 1:
            raise self.src.error(node, "cache_status needs one of last, every, ratio")
        mode = modes[0]
        if mode != "ratio":
            return CacheExpect(steps=steps, status=self.cache_name(found.require(mode)), mode=mode)
        ratio = Mapping(self.src, found.require("ratio"), "ratio")
        if len(ratio.values) != 1:
            raise self.src.error(ratio.node, "ratio names one status, e.g. {HIT: {at_least: 0.9}}")
        ((status, value_node),) = ratio.values.items()
        name = self.cache_name(ratio.keys[status])
        bound = self.bound(value_node, "ratio", 0.0, 1.0)
        return CacheExpect(steps=steps, status=name, mode=mode, bound=bound)

    def cache_name(self, node: Node) -> str:
        name = yamlsource.string(self.src, node, "cache status").upper()
        if name not in CACHE_STATUSES:
            raise self.src.error(
                node, f"cache status {name!r} is not one of {', '.join(CACHE_STATUSES)}"
            )
        return name

    def codes(self, node: Node) -> tuple[int, ...]:
        listed = (
            yamlsource.items(self.src, node, "status")
            if isinstance(node, yaml.SequenceNode)
            else [node]
        )
        return tuple(yamlsource.integer(self.src, n, "status code", 100, 599) for n in listed)

    def plain_steps(self, node: Node, what: str) -> tuple[str, ...]:
        plain = tuple(
            n
            for n, step in self.steps.items()
            if step.sends and self.base_kind(n) not in (WEBSOCKET, MIX)
        )
        if not plain:
            raise self.src.error(node, f"{what}: no curl or http step to judge; name steps")
        return plain

    def status(self, node: Node) -> StatusExpect:
        if not isinstance(node, yaml.MappingNode):
            return StatusExpect(steps=self.plain_steps(node, "status"), codes=self.codes(node))
        found = Mapping(self.src, node, Kind.STATUS)
        found.only(("step", "steps", "equals"))
        codes = self.codes(found.require("equals"))
        return StatusExpect(steps=self.step_names(found), codes=codes)

    def answered(self, node: Node) -> AnsweredExpect:
        steps, _ = self.names_or_mapping(Kind.ANSWERED, node, ())
        return AnsweredExpect(steps=steps)

    def spread(self, node: Node) -> SpreadExpect:
        found = Mapping(self.src, node, Kind.SPREAD)
        found.only(("step", "steps", "max_mean"))
        bound = self.bound(found.require("max_mean"), "max_mean", 1.0, None)
        return SpreadExpect(steps=self.step_names(found), max_mean=bound)

    def picks(self, node: Node) -> PicksExpect:
        if self.setup.ingresses:
            raise self.src.error(
                node,
                "model_picks judges one Ingress on hellogo; this report has several objects "
                "(judge their picks with same_pod, different_pods or pods_count)",
            )
        if self.balancing.placement != Placement.HASH:
            raise self.src.error(
                node,
                "model_picks needs upstream-hash-by (without subset or cookie affinity); "
                f"this setup's placement is {self.balancing.placement}",
            )
        # Not a mix step: it scales, and the model holds the peers from before the steps.
        steps, _ = self.names_or_mapping(Kind.MODEL_PICKS, node, (), mix=False)
        return PicksExpect(steps=steps)

    # ------------------------------------------------------------ properties
    def mix_step(self, found: Mapping | None, node: Node) -> str:
        if found is not None and "step" in found:
            (name,) = self.check_names(found.require("step"), mix=True)
            return name
        mixes = [n for n, s in self.steps.items() if s.kind == MIX]
        if len(mixes) != 1:
            what = "no mix step" if not mixes else f"mix steps {', '.join(mixes)}"
            raise self.src.error(
                node, f"a property is measured on a mix step; the file has {what} (name it: step)"
            )
        return mixes[0]

    def property(self, kind: Kind, node: Node) -> PropertyExpect:
        prop = BY_KIND[kind]
        high = 1.0 if prop.share else None
        if isinstance(node, yaml.ScalarNode):
            value = self.limit(node, str(kind), 0.0, high)
            step = self.mix_step(None, node)
            return PropertyExpect(kind=kind, step=step, check=Check.EQUALS, bound=Bound(value))
        found = Mapping(self.src, node, kind)
        found.only(("step", "sigmas", *(str(c) for c in Check)))
        step = self.mix_step(found, node)
        given = [c for c in Check if c in found]
        if len(given) != 1:
            raise self.src.error(node, f"{kind} needs exactly one of {', '.join(Check)}")
        check = given[0]
        value_node = found.require(check)
        if check not in prop.checks:
            allowed = ", ".join(sorted(prop.checks))
            raise self.src.error(
                value_node, f"{kind} cannot be checked by {check} (can: {allowed})"
            )
        sigmas = DEFAULT_SIGMAS
        if "sigmas" in found:
            sigmas = self.limit(found.require("sigmas"), "sigmas", MIN_SIGMAS, None)
        placement = self.balancing.placement
        if check in (Check.EQUALS, Check.AT_MOST, Check.AT_LEAST):
            value = self.limit(value_node, f"{kind} {check}", 0.0, high)
            bound = Bound(**{str(check): value})
            return PropertyExpect(kind=kind, step=step, check=check, bound=bound, sigmas=sigmas)
        if check == Check.RANGE:
            ends = yamlsource.items(self.src, value_node, "range")
            if len(ends) != 2:
                raise self.src.error(value_node, "range needs [low, high]")
            low, top = (self.limit(n, f"{kind} range", 0.0, high) for n in ends)
            if low > top:
                raise self.src.error(value_node, "range: low is above high")
            bound = Bound(at_least=low, at_most=top)
            return PropertyExpect(kind=kind, step=step, check=check, bound=bound)
        if check == Check.BINOMIAL:
            name = yamlsource.string(self.src, value_node, "binomial")
            if name not in prop.quantities:
                known = ", ".join(sorted(prop.quantities)) or "none"
                raise self.src.error(
                    value_node, f"binomial {name!r} is not known for {kind} (known: {known})"
                )
            placements = QUANTITIES[name][1]
            if placement not in placements:
                raise self.src.error(
                    value_node,
                    f"binomial {name!r} needs a placement among "
                    f"{', '.join(sorted(placements))}, this setup's is {placement!r}",
                )
            return PropertyExpect(kind=kind, step=step, check=check, quantity=name, sigmas=sigmas)
        wanted = "exact" if check == Check.MODEL else True
        if yamlsource.value(value_node) != wanted:
            raise self.src.error(value_node, f"write '{check}: {str(wanted).lower()}'")
        if placement not in CHECK_PLACEMENTS[check]:
            raise self.src.error(
                value_node,
                f"{check} needs a placement among {', '.join(sorted(CHECK_PLACEMENTS[check]))}, "
                f"this setup's is {placement!r}",
            )
        return PropertyExpect(kind=kind, step=step, check=check, sigmas=sigmas)

    # ------------------------------------------------------------ one item
    def base(self, found: Mapping, line: int) -> Base:
        why = ""
        if "why" in found:
            why = " ".join(yamlsource.string(self.src, found.require("why"), "why").split())
        planes: list[DataPlane] = []
        versions: list[tuple[DataPlane, VersionRange]] = []
        bare: set[DataPlane] = set()
        if "on" in found:
            for name, node in yamlsource.names(self.src, found.require("on"), "on"):
                plane, version = self.plane_on(name, node)
                planes.append(plane)
                if version is None:
                    bare.add(plane)
                else:
                    versions.append((plane, version))
        ranged = tuple((p, v) for p, v in versions if p not in bare)  # a bare plane: any
        return Base(line, why, tuple(dict.fromkeys(planes)), ranged)

    def plane_on(self, name: str, node: Node) -> tuple[DataPlane, VersionRange | None]:
        """``nginx`` or ``ingress-nginx@>=1.11,<1.13``: the plane and its version range."""
        plane_name, at, text = name.partition("@")
        if plane_name not in tuple(DataPlane):
            raise self.src.error(
                node,
                f"on: {plane_name!r} is not a data plane ({', '.join(DataPlane)})"
                f"{suggest(plane_name, tuple(DataPlane))}",
            )
        plane = DataPlane(plane_name)
        if not at:
            return plane, None
        if not planes.plane(plane).versioned:
            raise self.src.error(
                node,
                f"on: {name!r}: a version range names ingress-nginx releases; {plane} has "
                "none (write it without @)",
            )
        try:
            return plane, VersionRange.parse(text)
        except ValueError as exc:
            raise self.src.error(node, f"on: {name!r}: {exc}") from None

    def item(self, item: Node) -> Expectation:
        found = Mapping(self.src, item, "expectation")
        kinds = [k for k in found.values if k not in _ITEM_KEYS]
        if len(kinds) != 1:
            raise self.src.error(
                item,
                f"an expectation has one kind, one of {', '.join(KINDS)} (and may have why and on)",
            )
        name = kinds[0]
        if name not in KINDS:
            raise self.src.error(
                found.keys[name],
                f"unknown expectation {name!r}{suggest(name, KINDS)}; known: {', '.join(KINDS)}",
            )
        kind = Kind(name)
        base = self.base(found, self.src.line(item))
        expectation = self.kind(kind, found.values[name])
        return replace(
            expectation,
            line=base.line,
            why=base.why,
            planes=base.planes,
            versions=base.versions,
        )

    def kind(self, kind: Kind, node: Node) -> Expectation:
        if kind in POD_KINDS:
            return self.pods(kind, node)
        if kind in PROPERTY_KINDS:
            return self.property(kind, node)
        if kind == Kind.CACHE_STATUS:
            return self.cache(node)
        if kind == Kind.STATUS:
            return self.status(node)
        if kind == Kind.ANSWERED:
            return self.answered(node)
        if kind == Kind.SPREAD:
            return self.spread(node)
        if kind == Kind.HEADER:
            return expects_headers.header(self, node)
        if kind == Kind.COOKIE:
            return expects_headers.cookie(self, node)
        return self.picks(node)


def parse(
    src: Source, node: Node, steps: tuple[Step, ...], setup: Setup
) -> tuple[Expectation, ...]:
    """Validate the ``expect`` list against the scenario's ``steps`` and ``setup``.

    Raises:
        ScenarioError: at the line of the first problem.
    """
    reader = _Reader(src, steps, setup)
    return tuple(reader.item(item) for item in yamlsource.items(src, node, "expect"))
