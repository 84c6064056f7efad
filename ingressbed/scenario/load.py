"""A scenario file to a validated ``Scenario`` (pure except for reading the file).

Everything is checked here, before anything is deployed: YAML syntax, unknown keys,
types, the Ingresses and Services, annotations and ConfigMap keys
(``ingressbed.ingress_keys.check``), curl commands, live edits against the objects of
their moment (``ingressbed.scenario.timeline``), step references and the steps
expectations name. The first problem raises ``ScenarioError`` as ``path:line: what is
wrong``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from ingressbed import ingress_keys, yamlsource
from ingressbed.errors import ConfigError, ScenarioError
from ingressbed.scenario import expects, pasted, steps, timeline
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.spec import AGAIN, MIX, Scenario, Step
from ingressbed.suggest import suggest
from ingressbed.traffic import MIX_ROUTES
from ingressbed.vocabulary import Capability, Setup
from ingressbed.yamlsource import Mapping

TOP_KEYS = (
    "title",
    "description",
    "needs",
    "controller",
    "hellogo",
    "ingress",
    "steps",
    "expect",
)
#: ConfigMap keys every scenario gets: steps send their client as X-Forwarded-For.
FORCED_CONTROLLER = {"use-forwarded-headers": "true"}
DEFAULT_REPLICAS = 6
MAX_REPLICAS = 50
MAX_DELAY_MS = 10_000


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it is inside it."""
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


def _controller(src: Source, top: Mapping) -> tuple[dict[str, str], dict[str, int], list[str]]:
    node = top.get("controller")
    if node is None or node.tag == "tag:yaml.org,2002:null":  # `controller:` left empty
        return {}, {}, []
    found = Mapping(src, node, "controller")
    keys = {k: yamlsource.text(src, v, f"controller key {k!r}") for k, v in found.values.items()}
    lines = {k: found.line(k) for k in keys}
    notes = [
        f"controller {k}: {keys[k]!r} changed to {v!r} (steps send their client as {k})"
        for k, v in FORCED_CONTROLLER.items()
        if k in keys and keys[k] != v
    ]
    return keys, lines, notes


@dataclass(frozen=True)
class Pods:
    """``hellogo:``: replicas (per Service where given), slow pods and their delay."""

    replicas: int = DEFAULT_REPLICAS
    per_service: dict[str, int] | None = None
    slow_pods: int = 0
    slow_ms: int = 0
    line: int = 0


def _hellogo(src: Source, top: Mapping) -> Pods:
    """``hellogo: {replicas: N | {service: N, ...}, slow: {pods: K, delay_ms: D}}``."""
    node = top.get("hellogo")
    if node is None:
        return Pods()
    found = Mapping(src, node, "hellogo")
    found.only(("replicas", "slow"))
    replicas, per_service = DEFAULT_REPLICAS, None
    if "replicas" in found:
        given = found.require("replicas")
        if isinstance(given, yaml.MappingNode):
            counts = Mapping(src, given, "hellogo.replicas")
            per_service = {
                name: yamlsource.integer(src, value, f"hellogo.replicas.{name}", 1, MAX_REPLICAS)
                for name, value in counts.values.items()
            }
        else:
            replicas = yamlsource.integer(src, given, "hellogo.replicas", 1, MAX_REPLICAS)
    if "slow" not in found:
        return Pods(replicas, per_service, line=found.line())
    slow = Mapping(src, found.require("slow"), "hellogo.slow")
    slow.only(("pods", "delay_ms"))
    pods = yamlsource.integer(src, slow.require("pods"), "hellogo.slow.pods", 1, replicas - 1)
    delay = yamlsource.integer(
        src, slow.require("delay_ms"), "hellogo.slow.delay_ms", 1, MAX_DELAY_MS
    )
    return Pods(replicas, per_service, pods, delay, found.line("slow"))


def _replicas(
    src: Source, pods: Pods, services: tuple[str, ...], several: bool
) -> tuple[int, dict[str, int]]:
    """The default replicas and the replicas per Service, checked against the Services."""
    if pods.per_service is None:
        return pods.replicas, {}
    known = set(services)
    for name in pods.per_service:
        if name not in known:
            raise src.error(
                pods.line,
                f"hellogo.replicas: no Service named {name!r}{suggest(name, known)}; "
                f"the Ingresses name {', '.join(sorted(known))}",
            )
    if not several:
        return next(iter(pods.per_service.values())), {}
    return DEFAULT_REPLICAS, dict(pods.per_service)


def _needs(src: Source, top: Mapping) -> tuple[Capability, ...]:
    node = top.get("needs")
    if node is None:
        return ()
    out: list[Capability] = []
    known = [str(c) for c in Capability]
    for name, name_node in yamlsource.names(src, node, "needs"):
        if name not in known:
            raise src.error(
                name_node,
                f"needs: {name!r} is not a capability{suggest(name, known)}; "
                f"known: {', '.join(known)}",
            )
        out.append(Capability(name))
    return tuple(out)


def _check_mix(src: Source, node: yamlsource.Node, setup: Setup, parsed: tuple[Step, ...]) -> None:
    """A mix step needs one Ingress with /8080, /9090 and /ws routes that match any host."""
    mixes = [s for s in parsed if s.kind == MIX]
    if not mixes:
        return
    if setup.ingresses:
        raise src.error(
            mixes[0].line,
            "a mix step measures one Ingress on hellogo; this report has several objects",
        )
    paths = {r.path: r for r in setup.ingress.routes}
    lacking = [p for p in MIX_ROUTES if p not in paths]
    if lacking:
        raise src.error(
            mixes[0].line,
            f"a mix step sends to {', '.join(MIX_ROUTES)}; the Ingress has no "
            f"{', '.join(lacking)} path",
        )
    hosted = [p for p in MIX_ROUTES if paths[p].host]
    if hosted:
        raise src.error(
            node,
            f"a mix step sends pages on many hosts: give the rules of {', '.join(hosted)} "
            "no host (- host: left out)",
        )


def _line_of(message: str, *where: dict[str, int]) -> int | None:
    """The line of the first key quoted in ``message``."""
    for lines in where:
        for key, line in lines.items():
            if repr(key) in message:
                return line
    return None


def loads(text: str, path: str = "<scenario>") -> Scenario:
    """Validate scenario ``text``; ``path`` is what errors show.

    Raises:
        ScenarioError: ``path:line: what is wrong``.
    """
    src = Source(path)
    docs = src.compose_all(text)
    if not docs:
        raise src.error(1, "empty file; a scenario needs a title, an ingress, steps and expect")
    if len(docs) > 1:
        raise src.error(docs[1], "one scenario per file (found a second YAML document)")
    top = Mapping(src, docs[0], "scenario")
    top.only(TOP_KEYS)
    title = yamlsource.string(src, top.require("title"), "title")
    description = ""
    if "description" in top:
        description = yamlsource.string(src, top.require("description"), "description", empty=True)
    controller, controller_lines, controller_notes = _controller(src, top)
    pods = _hellogo(src, top)
    needs = _needs(src, top)
    ingress_node = top.require("ingress", " (paste the Ingress under `ingress: |`)")
    block = pasted.read(src, ingress_node, "ingress")
    if not block.ingresses:
        raise src.error(ingress_node, "the ingress block holds no Ingress; it needs one or more")
    for one in block.ingresses:
        try:
            ingress_keys.check_annotations(one.ingress.annotations)
        except ConfigError as exc:
            line = _line_of(str(exc), one.converted.annotation_lines)
            raise src.error(line or one.line, str(exc)) from None
    parsed_steps, blocks = steps.parse(src, top.require("steps"))
    _check_again(src, parsed_steps)
    first = timeline.first_world(block)
    base = Setup(
        block.ingresses[0].converted.spec,
        MappingProxyType({**controller, **FORCED_CONTROLLER}),
        pods.replicas,
        slow_pods=pods.slow_pods,
        slow_ms=pods.slow_ms,
    )
    probe = timeline.build(src, first, base, parsed_steps, blocks)
    replicas, per_service = _replicas(src, pods, probe.services, probe.several)
    if probe.several and pods.slow_pods:
        raise src.error(pods.line, "hellogo.slow slows one Service's pods; this report has several")
    base = Setup(
        base.ingress,
        base.controller,
        replicas,
        slow_pods=pods.slow_pods,
        slow_ms=pods.slow_ms,
        service_replicas=MappingProxyType(per_service),
    )
    moments = timeline.build(src, first, base, parsed_steps, blocks)
    setup = moments.setup
    try:
        ingress_keys.check(setup)
    except ConfigError as exc:
        line = _line_of(str(exc), controller_lines)
        raise src.error(line or src.line(ingress_node), str(exc)) from None
    _check_mix(src, ingress_node, setup, moments.steps)
    expectations = expects.parse(src, top.require("expect"), moments.steps, setup)
    return Scenario(
        path=path,
        title=title.strip(),
        setup=setup,
        steps=moments.steps,
        expect=expectations,
        description=description.strip(),
        notes=(*_object_notes(block, moments.several), *moments.notes, *controller_notes),
        needs=needs,
    )


def _object_notes(block: pasted.Block, several: bool) -> list[str]:
    """What was converted in the ``ingress`` block, per Ingress when there are several."""
    if not several:
        return [*block.notes, *block.ingresses[0].converted.notes]
    notes = list(block.notes)
    for one in block.ingresses:
        notes += [f"Ingress {one.ingress.name}: {n}" for n in one.converted.object_notes]
    return notes


def _check_again(src: Source, parsed: tuple[Step, ...]) -> None:
    """An ``again`` step resends traffic: it cannot name a live edit."""
    kinds = {s.name: s for s in parsed}
    for step in parsed:
        if step.kind == AGAIN and not kinds[step.again].sends:
            raise src.error(
                step.line,
                f"again: step {step.again!r} is a live edit ({kinds[step.again].kind}); "
                "again resends a traffic step",
            )


def load(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate the scenario file at ``path``.

    Raises:
        ScenarioError: the file cannot be read or is malformed (``path:line: ...``).
    """
    shown = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{shown}:1: cannot read the scenario file: {exc}") from None
    return loads(text, shown)
