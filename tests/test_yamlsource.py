"""Line-aware YAML reading shared by scenario files and the catalog."""

from __future__ import annotations

import pytest

from ingressbed import yamlsource
from ingressbed.errors import ConfigError, ScenarioError
from ingressbed.scenario.nodes import Source as ScenarioSource
from ingressbed.suggest import suggest
from ingressbed.yamlsource import Mapping, Source

CONFIG = Source("c.yaml", error_class=ConfigError)


def test_errors_are_the_sources_class_with_path_and_line():
    assert isinstance(CONFIG.error(3, "bad"), ConfigError)
    assert str(CONFIG.error(3, "bad")) == "c.yaml:3: bad"
    assert str(CONFIG.error(0, "bad")) == "c.yaml: bad"  # no line known
    assert isinstance(ScenarioSource("s.yaml").error(1, "bad"), ScenarioError)


def test_lines_are_shifted_by_the_offset_or_fixed():
    node = CONFIG.compose_all("a: 1\nb: 2\n")[0]
    key_b = node.value[1][0]
    assert CONFIG.line(key_b) == 2
    assert Source("c.yaml", offset=10, error_class=ConfigError).line(key_b) == 12
    assert Source("c.yaml", fixed=7, error_class=ConfigError).line(key_b) == 7


def test_load_gives_values_whose_mappings_and_lists_know_their_line():
    data = CONFIG.load("top: 1\nnested:\n  inner: [a, b]\nitems:\n  - x\n")
    assert data == {"top": 1, "nested": {"inner": ["a", "b"]}, "items": ["x"]}
    assert (data.line, data["nested"].line, data["items"].line) == (1, 3, 5)
    assert data["nested"]["inner"].line == 3
    assert CONFIG.load("") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: [\n", "c.yaml:3: not valid YAML: "),
        ("a: 1\n---\nb: 2\n", "c.yaml:2: not valid YAML: but found another document"),
        ("a: 1\nb: 2\na: 3\n", "c.yaml:3: duplicate key 'a'"),
        ("a: !nope 1\n", "c.yaml:1: not valid YAML: could not determine a constructor"),
    ],
)
def test_load_fails_at_the_line_of_the_problem(text, message):
    with pytest.raises(ConfigError) as info:
        CONFIG.load(text)
    assert str(info.value).startswith(message), str(info.value)


def test_compose_all_leaves_out_empty_documents_and_fails_with_the_class():
    assert CONFIG.compose_all("# nothing\n") == []
    assert len(CONFIG.compose_all("a: 1\n---\nb: 2\n")) == 2
    with pytest.raises(ScenarioError, match=r"^s\.yaml:2: not valid YAML"):
        ScenarioSource("s.yaml").compose_all("a: 1\n  b: 2\n")


def test_mapping_names_unknown_and_repeated_keys_at_their_line():
    src = ScenarioSource("s.yaml")
    node = src.compose_all("name: x\nnmae: y\n")[0]
    with pytest.raises(ScenarioError, match=r"s\.yaml:2: top: unknown key 'nmae' \(did you"):
        Mapping(src, node, "top").only(("name",))
    twice = src.compose_all("a: 1\na: 2\n")[0]
    with pytest.raises(ScenarioError, match="key 'a' given twice"):
        Mapping(src, twice, "top")


def test_scalar_helpers_check_the_type_and_range():
    src = ScenarioSource("s.yaml")
    value = src.compose_all("n: 70000\n")[0].value[0][1]
    with pytest.raises(ScenarioError, match=r"s\.yaml:1: port must be 1\.\.65535, not 70000"):
        yamlsource.integer(src, value, "port", 1, 65535)
    with pytest.raises(ScenarioError, match="name must be a string, not an integer"):
        yamlsource.string(src, value, "name")
    assert yamlsource.text(src, value, "text") == "70000"


def test_suggest_names_the_closest_known_name_or_nothing():
    assert suggest("equal", ("equals", "at_most")) == " (did you mean 'equals'?)"
    assert suggest("zzz", ("equals",)) == ""
