"""A scenario file to a validated ``Scenario`` (pure except for reading the file).

Everything is checked here, before anything is deployed: YAML syntax, unknown keys,
types, the Ingress, annotations and ConfigMap keys (``ingressbed.ingress_keys.check``),
curl commands, step references and the steps expectations name. The first problem
raises ``ScenarioError`` as ``path:line: what is wrong``.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType

from ingressbed import ingress_keys, yamlsource
from ingressbed.errors import ConfigError, ScenarioError
from ingressbed.scenario import expects, ingress, steps
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.spec import MIX, Scenario, Step
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


def _hellogo(src: Source, top: Mapping) -> tuple[int, int, int]:
    """``hellogo: {replicas: N, slow: {pods: K, delay_ms: D}}`` -> (N, K, D)."""
    node = top.get("hellogo")
    if node is None:
        return DEFAULT_REPLICAS, 0, 0
    found = Mapping(src, node, "hellogo")
    found.only(("replicas", "slow"))
    replicas = DEFAULT_REPLICAS
    if "replicas" in found:
        replicas = yamlsource.integer(
            src, found.require("replicas"), "hellogo.replicas", 1, MAX_REPLICAS
        )
    if "slow" not in found:
        return replicas, 0, 0
    slow = Mapping(src, found.require("slow"), "hellogo.slow")
    slow.only(("pods", "delay_ms"))
    pods = yamlsource.integer(src, slow.require("pods"), "hellogo.slow.pods", 1, replicas - 1)
    delay = yamlsource.integer(
        src, slow.require("delay_ms"), "hellogo.slow.delay_ms", 1, MAX_DELAY_MS
    )
    return replicas, pods, delay


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
    """A mix step needs /8080, /9090 and /ws routes that match any host."""
    mixes = [s for s in parsed if s.kind == MIX]
    if not mixes:
        return
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
    replicas, slow_pods, slow_ms = _hellogo(src, top)
    needs = _needs(src, top)
    ingress_node = top.require("ingress", " (paste the Ingress under `ingress: |`)")
    converted = ingress.from_block(src, ingress_node)
    setup = Setup(
        converted.spec,
        MappingProxyType({**controller, **FORCED_CONTROLLER}),
        replicas,
        slow_pods=slow_pods,
        slow_ms=slow_ms,
    )
    try:
        ingress_keys.check(setup)
    except ConfigError as exc:
        line = _line_of(str(exc), converted.annotation_lines, controller_lines)
        raise src.error(line or src.line(ingress_node), str(exc)) from None
    parsed_steps = steps.parse(src, top.require("steps"))
    _check_mix(src, ingress_node, setup, parsed_steps)
    expectations = expects.parse(src, top.require("expect"), parsed_steps, setup)
    return Scenario(
        path=path,
        title=title.strip(),
        setup=setup,
        steps=parsed_steps,
        expect=expectations,
        description=description.strip(),
        notes=(*converted.notes, *controller_notes),
        needs=needs,
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
