"""Writing a ``Target``: what a user puts on the controller a plane stands for (pure).

A target is YAML a user can apply as it is: a merge patch of an object's annotations
(``kubectl patch service hellogo --type merge --patch-file FILE``), a patch of the
controller's ConfigMap, or a whole custom resource. Each document starts with a comment
saying where it goes. Multi-line values (HAProxy snippets) are written as block literals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from ingressbed.vocabulary import Setup


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, with multi-line strings as ``|`` blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(data: Mapping[str, Any]) -> str:
    """``data`` as YAML, keys in the order given."""
    return yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def annotations_patch(kind: str, name: str, annotations: Mapping[str, str]) -> str:
    """A merge patch adding ``annotations`` to ``kind`` ``name``, with the command to apply it."""
    head = f"# {kind} {name}: kubectl patch {kind.lower()} {name} --type merge --patch-file FILE\n"
    return head + dump({"metadata": {"annotations": dict(annotations)}})


def configmap_patch(what: str, data: Mapping[str, str]) -> str:
    """A merge patch of the controller's ConfigMap (``what`` says which one it is)."""
    head = f"# {what}: kubectl patch configmap NAME -n NAMESPACE --type merge --patch-file FILE\n"
    return head + dump({"data": dict(data)})


def documents(parts: Sequence[str]) -> str:
    """YAML documents joined with ``---``."""
    return "---\n".join(part if part.endswith("\n") else part + "\n" for part in parts if part)


def service_name(setup: Setup) -> str:
    """The Service the setup's routes go to (hellogo, or the one a report pasted)."""
    return setup.service_names[0]


def reads_forwarded_client(setup: Setup, reads_client: bool) -> bool:
    """Whether the target must make the controller take the client from X-Forwarded-For:
    the pick reads the client and the candidate trusts the header."""
    forwarded = str(setup.controller.get("use-forwarded-headers", "false")).lower() == "true"
    return reads_client and forwarded
