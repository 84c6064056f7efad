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
from ingressbed.scenario.spec import Scenario
from ingressbed.vocabulary import Setup
from ingressbed.yamlsource import Mapping

TOP_KEYS = ("title", "description", "controller", "hellogo", "ingress", "steps", "expect")
#: ConfigMap keys every scenario gets: steps send their client as X-Forwarded-For.
FORCED_CONTROLLER = {"use-forwarded-headers": "true"}
DEFAULT_REPLICAS = 6
MAX_REPLICAS = 50


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


def _replicas(src: Source, top: Mapping) -> int:
    node = top.get("hellogo")
    if node is None:
        return DEFAULT_REPLICAS
    found = Mapping(src, node, "hellogo")
    found.only(("replicas",))
    if "replicas" not in found:
        return DEFAULT_REPLICAS
    return yamlsource.integer(src, found.require("replicas"), "hellogo.replicas", 1, MAX_REPLICAS)


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
        raise src.error(1, f"empty file; a scenario needs {', '.join(TOP_KEYS[2:])} and a title")
    if len(docs) > 1:
        raise src.error(docs[1], "one scenario per file (found a second YAML document)")
    top = Mapping(src, docs[0], "scenario")
    top.only(TOP_KEYS)
    title = yamlsource.string(src, top.require("title"), "title")
    description = ""
    if "description" in top:
        description = yamlsource.string(src, top.require("description"), "description", empty=True)
    controller, controller_lines, controller_notes = _controller(src, top)
    replicas = _replicas(src, top)
    ingress_node = top.require("ingress", " (paste the Ingress under `ingress: |`)")
    converted = ingress.from_block(src, ingress_node)
    setup = Setup(
        converted.spec,
        MappingProxyType({**controller, **FORCED_CONTROLLER}),
        replicas,
    )
    try:
        ingress_keys.check(setup)
    except ConfigError as exc:
        line = _line_of(str(exc), converted.annotation_lines, controller_lines)
        raise src.error(line or src.line(ingress_node), str(exc)) from None
    parsed_steps = steps.parse(src, top.require("steps"))
    expectations = expects.parse(src, top.require("expect"), parsed_steps)
    return Scenario(
        path=path,
        title=title.strip(),
        setup=setup,
        steps=parsed_steps,
        expect=expectations,
        description=description.strip(),
        notes=(*converted.notes, *controller_notes),
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
