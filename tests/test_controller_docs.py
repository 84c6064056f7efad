"""docs/controller-model.md's example explanation is what the model prints for its objects."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ingressbed.controller import build, explain, read_objects, service_from_dict
from ingressbed.vocabulary import Endpoint

DOC = Path(__file__).resolve().parent.parent / "docs" / "controller-model.md"


def example() -> tuple[str, str]:
    """The YAML and text blocks of the doc's "The explanation" section."""
    section = DOC.read_text().split("## The explanation", 1)[1]
    yaml_block = re.search(r"```yaml\n(.*?)```", section, re.S)
    text_block = re.search(r"```text\n(.*?)```", section, re.S)
    assert yaml_block and text_block, "the section needs a yaml and a text block"
    return yaml_block.group(1), text_block.group(1)


def example_explanation(objects_yaml: str) -> str:
    objects = read_objects(list(yaml.safe_load_all(objects_yaml)))
    services = [
        service_from_dict(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
            }
        )
        for name in ("app", "app-v2")
    ]
    endpoints = {
        ("default", "app", 80): [Endpoint(f"10.0.0.{i}", 8080) for i in (1, 2, 3)],
        ("default", "app-v2", 80): [Endpoint("10.0.1.1", 8080)],
    }
    return explain(build(objects.ingresses, services, endpoints))


def test_the_docs_example_is_what_the_model_explains():
    objects_yaml, shown = example()
    assert shown == example_explanation(objects_yaml)
