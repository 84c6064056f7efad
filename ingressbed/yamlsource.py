"""Reading YAML with its line numbers, so every error says ``path:line: ...`` (pure).

A ``Source`` is where the text comes from: the path shown in errors, a line shift (a
YAML document inside a block scalar of another file has its lines shifted by where the
block starts) and the error class to raise (``ScenarioError``, ``ConfigError``...).
Text that is not valid YAML is such an error, at the line of the problem. Two views:

- nodes (``Source.compose_all``), checked with ``Mapping`` and the scalar helpers
  (``string``, ``integer``, ``items``...): every value keeps its own line;
- plain values (``Source.load``): dicts and lists that know their line (a ``line``
  attribute), for a checker that works on Python values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

from ingressbed.errors import BedError
from ingressbed.suggest import suggest

Node: TypeAlias = yaml.Node
_TYPE_NAMES = {
    "tag:yaml.org,2002:str": "a string",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "nothing (null)",
    "tag:yaml.org,2002:timestamp": "a date",
}


@dataclass(frozen=True)
class Source:
    """Where YAML text comes from: ``path`` as shown in errors, lines shifted by ``offset``.

    ``fixed`` (a line number) makes every node report that line: for YAML text whose
    lines are not the file's (a quoted or folded string). Errors are ``error_class``.
    """

    path: str
    offset: int = 0
    fixed: int = 0
    error_class: type[BedError] = field(kw_only=True)

    def line(self, node: Node) -> int:
        """1-based line of ``node`` in the file."""
        return self.fixed or node.start_mark.line + 1 + self.offset

    def _mark_line(self, mark: yaml.Mark | None) -> int:
        return self.fixed or (mark.line + 1 + self.offset if mark else self.offset + 1)

    def error(self, where: Node | int, message: str) -> BedError:
        """An ``error_class`` ``path:line: message``.

        ``where`` is a node, a line, or 0 when no line is known (``path: message``).
        """
        line = where if isinstance(where, int) else self.line(where)
        place = f"{self.path}:{line}" if line else self.path
        return self.error_class(f"{place}: {message}")

    def _invalid(self, exc: yaml.YAMLError) -> BedError:
        """The error for text that is not valid YAML, at the line of the problem."""
        if isinstance(exc, yaml.MarkedYAMLError):
            line = self._mark_line(exc.problem_mark or exc.context_mark)
            return self.error(line, f"not valid YAML: {exc.problem or exc.context}")
        # e.g. a character YAML does not allow
        return self.error(self._mark_line(getattr(exc, "mark", None)), f"not valid YAML: {exc}")

    def compose_all(self, text: str) -> list[Node]:
        """Compose every document of a YAML text (empty ones left out).

        Raises:
            BedError: (``error_class``) the text is not valid YAML.
        """
        try:
            return [n for n in yaml.compose_all(text, Loader=yaml.SafeLoader) if n is not None]
        except yaml.YAMLError as exc:
            raise self._invalid(exc) from None

    def load(self, text: str) -> Any:
        """The one document of a YAML text as safe Python values (None if it is empty).

        Mappings are dicts and lists are lists, each with its line as ``line``.

        Raises:
            BedError: (``error_class``) not valid YAML, more than one document, or a key
                given twice in a mapping.
        """
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            return None if node is None else _LineConstructor(self).construct_document(node)
        except yaml.YAMLError as exc:
            raise self._invalid(exc) from None


# The names of these two classes show in messages (the catalog's "x is _Map {...}").


class _Map(dict[str, Any]):
    """A YAML mapping that remembers its line."""

    line = 0


class _List(list[Any]):
    """A YAML sequence that remembers its line."""

    line = 0


class _LineConstructor(yaml.constructor.SafeConstructor):
    """Safe YAML values whose mappings and lists know their line; duplicate keys are errors."""

    def __init__(self, src: Source) -> None:
        super().__init__()
        self.src = src

    def line_map(self, node: yaml.MappingNode) -> _Map:
        """A mapping node as a ``_Map``; a key given twice is an error at its line."""
        out = _Map()
        out.line = self.src.line(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in out:
                raise self.src.error(key_node, f"duplicate key {key!r}")
            out[key] = self.construct_object(value_node, deep=True)
        return out

    def line_list(self, node: yaml.SequenceNode) -> _List:
        """A sequence node as a ``_List``."""
        out = _List(self.construct_object(item, deep=True) for item in node.value)
        out.line = self.src.line(node)
        return out


# The PyYAML stubs type add_constructor for plain loaders only; the subclass is one.
_LineConstructor.add_constructor(  # type: ignore[type-var]
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineConstructor.line_map
)
_LineConstructor.add_constructor(  # type: ignore[type-var]
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineConstructor.line_list
)


def kind_of(node: Node) -> str:
    """What a node is, for messages: "a string", "a list", "a mapping"..."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _TYPE_NAMES.get(node.tag, "a scalar")


class Mapping:
    """A YAML mapping node with string keys, read key by key with line-aware errors."""

    def __init__(self, src: Source, node: Node, what: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            raise src.error(node, f"{what} must be a mapping, not {kind_of(node)}")
        self.src = src
        self.node = node
        self.what = what
        self.keys: dict[str, Node] = {}
        self.values: dict[str, Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:null":
                raise src.error(key, f"{what}: keys must be names, not {kind_of(key)}")
            if key.value in self.values:
                first = src.line(self.keys[key.value])
                raise src.error(
                    key, f"{what}: key {key.value!r} given twice (first at line {first})"
                )
            self.keys[key.value] = key
            self.values[key.value] = value

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> Node | None:
        return self.values.get(key)

    def require(self, key: str, hint: str = "") -> Node:
        """The value of ``key``, or an error at the mapping's line saying it is missing."""
        if key not in self.values:
            raise self.src.error(self.node, f"{self.what} has no {key!r}{hint}")
        return self.values[key]

    def only(self, allowed: Iterable[str]) -> None:
        """Reject keys not in ``allowed``, naming the key, its line and a close match."""
        known = set(allowed)
        for name, key in self.keys.items():
            if name not in known:
                raise self.src.error(
                    key,
                    f"{self.what}: unknown key {name!r}{suggest(name, known)}; "
                    f"known keys: {', '.join(sorted(known))}",
                )

    def line(self, key: str | None = None) -> int:
        """Line of ``key`` (or of the mapping itself)."""
        return self.src.line(self.keys[key] if key else self.node)


def value(node: Node) -> Any:
    """The Python value of a scalar node (YAML's safe types)."""
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def string(src: Source, node: Node, what: str, *, empty: bool = False) -> str:
    """A string scalar (a number written without quotes is an error, not converted)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        raise src.error(node, f"{what} must be a string, not {kind_of(node)}")
    if not empty and not node.value.strip():
        raise src.error(node, f"{what} must not be empty")
    return str(node.value)


def text(src: Source, node: Node, what: str) -> str:
    """A scalar as written (numbers and booleans kept as their text: "300", "true")."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise src.error(node, f"{what} must be a string, not {kind_of(node)}")
    return str(node.value)


def integer(src: Source, node: Node, what: str, low: int = 0, high: int | None = None) -> int:
    """An integer in ``low..high``."""
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
        raise src.error(node, f"{what} must be an integer, not {kind_of(node)}")
    number = int(value(node))
    if number < low or (high is not None and number > high):
        upper = f"..{high}" if high is not None else " or more"
        raise src.error(node, f"{what} must be {low}{upper}, not {number}")
    return number


def number(src: Source, node: Node, what: str) -> float:
    """An integer or a float."""
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    ):
        raise src.error(node, f"{what} must be a number, not {kind_of(node)}")
    return float(value(node))


def items(src: Source, node: Node, what: str) -> list[Node]:
    """The nodes of a non-empty list."""
    if not isinstance(node, yaml.SequenceNode):
        raise src.error(node, f"{what} must be a list, not {kind_of(node)}")
    if not node.value:
        raise src.error(node, f"{what} must not be empty")
    return list(node.value)


def names(src: Source, node: Node, what: str) -> list[tuple[str, Node]]:
    """One name or a list of names, each with its node (for its line)."""
    if isinstance(node, yaml.SequenceNode):
        return [(string(src, n, f"{what} item"), n) for n in items(src, node, what)]
    return [(string(src, node, what), node)]
