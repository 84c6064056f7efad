"""The ``expect:`` list of a scenario file, validated into expectation values (pure).

Each item is a mapping with one key, the expectation's kind::

    - same_pod: [a, b]                        # per client, a and b on one pod
    - different_pods: {steps: [a, b], per: client, min_share: 0.5}
    - pods_count: {step: many, equals: 1}     # also at_least / at_most; per: all
    - cache_status: {step: many, last: HIT}   # or every: MISS, or ratio: {HIT: 0.9}
    - status: 200                             # every curl and http answer
    - spread: {step: load, max_mean: {at_most: 2.0}}

Every step an expectation names must exist.
"""

from __future__ import annotations

import yaml

from ingressbed import yamlsource
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.spec import (
    AGAIN,
    CACHE_STATUSES,
    PER_ALL,
    PER_CHOICES,
    PER_CLIENT,
    WEBSOCKET,
    Bound,
    CacheExpect,
    Expectation,
    PodsExpect,
    SpreadExpect,
    StatusExpect,
    Step,
)
from ingressbed.suggest import suggest
from ingressbed.yamlsource import Mapping, Node

SAME_POD, DIFFERENT_PODS, PODS_COUNT = "same_pod", "different_pods", "pods_count"
CACHE_STATUS, STATUS, SPREAD = "cache_status", "status", "spread"
KINDS = (SAME_POD, DIFFERENT_PODS, PODS_COUNT, CACHE_STATUS, STATUS, SPREAD)
_BOUND_KEYS = ("equals", "at_least", "at_most")


class _Reader:
    """Reads one expectation with the scenario's step names at hand."""

    def __init__(self, src: Source, steps: tuple[Step, ...]) -> None:
        self.src = src
        self.steps = {s.name: s for s in steps}

    def step_names(self, found: Mapping) -> tuple[str, ...]:
        if ("step" in found) == ("steps" in found):
            raise self.src.error(found.node, f"{found.what} needs step or steps (one of them)")
        key = "step" if "step" in found else "steps"
        return self.check_names(found.require(key))

    def check_names(self, node: Node) -> tuple[str, ...]:
        out: list[str] = []
        for name, name_node in yamlsource.names(self.src, node, "steps"):
            if name not in self.steps:
                known = ", ".join(self.steps)
                raise self.src.error(
                    name_node,
                    f"no step named {name!r}{suggest(name, self.steps)}; steps: {known}",
                )
            out.append(name)
        return tuple(dict.fromkeys(out))

    def base_kind(self, name: str) -> str:
        step = self.steps[name]
        while step.kind == AGAIN:
            step = self.steps[step.again]
        return step.kind

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

    # ------------------------------------------------------------------ kinds
    def pods(self, kind: str, node: Node, line: int) -> PodsExpect:
        if kind != PODS_COUNT and not isinstance(node, yaml.MappingNode):
            return PodsExpect(kind, self.check_names(node), line, PER_CLIENT)
        found = Mapping(self.src, node, kind)
        extra = _BOUND_KEYS if kind == PODS_COUNT else ()
        found.only(("step", "steps", "per", "min_share", *extra))
        steps = self.step_names(found)
        per = PER_ALL if kind == PODS_COUNT else PER_CLIENT
        if "per" in found:
            per = yamlsource.string(self.src, found.require("per"), "per")
            if per not in PER_CHOICES:
                raise self.src.error(
                    found.require("per"), f"per {per!r} is not one of {', '.join(PER_CHOICES)}"
                )
        share = 1.0
        if "min_share" in found:
            share = self.limit(found.require("min_share"), "min_share", 0.0, 1.0)
        bound = self.bound_from(found, kind, 0, None) if kind == PODS_COUNT else None
        return PodsExpect(kind, steps, line, per, share, bound)

    def cache(self, node: Node, line: int) -> CacheExpect:
        found = Mapping(self.src, node, CACHE_STATUS)
        found.only(("step", "steps", "last", "every", "ratio"))
        steps = self.step_names(found)
        modes = [m for m in ("last", "every", "ratio") if m in found]
        if len(modes) != 1:
            raise self.src.error(node, "cache_status needs one of last, every, ratio")
        mode = modes[0]
        if mode != "ratio":
            return CacheExpect(steps, line, self.cache_name(found.require(mode)), mode)
        ratio = Mapping(self.src, found.require("ratio"), "ratio")
        if len(ratio.values) != 1:
            raise self.src.error(ratio.node, "ratio names one status, e.g. {HIT: {at_least: 0.9}}")
        ((status, value_node),) = ratio.values.items()
        name = self.cache_name(ratio.keys[status])
        return CacheExpect(steps, line, name, mode, self.bound(value_node, "ratio", 0.0, 1.0))

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

    def status(self, node: Node, line: int) -> StatusExpect:
        if not isinstance(node, yaml.MappingNode):
            plain = tuple(n for n in self.steps if self.base_kind(n) != WEBSOCKET)
            if not plain:
                raise self.src.error(node, "status: no curl or http step to judge; name steps")
            return StatusExpect(plain, line, self.codes(node))
        found = Mapping(self.src, node, STATUS)
        found.only(("step", "steps", "equals"))
        return StatusExpect(self.step_names(found), line, self.codes(found.require("equals")))

    def spread(self, node: Node, line: int) -> SpreadExpect:
        found = Mapping(self.src, node, SPREAD)
        found.only(("step", "steps", "max_mean"))
        bound = self.bound(found.require("max_mean"), "max_mean", 1.0, None)
        return SpreadExpect(self.step_names(found), line, bound)


def parse(src: Source, node: Node, steps: tuple[Step, ...]) -> tuple[Expectation, ...]:
    """Validate the ``expect`` list against the scenario's ``steps``.

    Raises:
        ScenarioError: at the line of the first problem.
    """
    reader = _Reader(src, steps)
    out: list[Expectation] = []
    for item in yamlsource.items(src, node, "expect"):
        found = Mapping(src, item, "expectation")
        if len(found.values) != 1:
            raise src.error(item, f"an expectation has one key, one of {', '.join(KINDS)}")
        ((kind, value_node),) = found.values.items()
        line = src.line(item)
        if kind in (SAME_POD, DIFFERENT_PODS, PODS_COUNT):
            out.append(reader.pods(kind, value_node, line))
        elif kind == CACHE_STATUS:
            out.append(reader.cache(value_node, line))
        elif kind == STATUS:
            out.append(reader.status(value_node, line))
        elif kind == SPREAD:
            out.append(reader.spread(value_node, line))
        else:
            raise src.error(
                found.keys[kind],
                f"unknown expectation {kind!r}{suggest(kind, KINDS)}; known: {', '.join(KINDS)}",
            )
    return tuple(out)
