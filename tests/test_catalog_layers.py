"""Imports only go down: vocabulary, statistics, placement (pure) -> backends, clients ->
measurements -> the judge -> the report -> the faces (CLI, pytest plugin).

Each module's ``ingressbed`` imports (read from its source, so a lazy import inside a
function counts too) must avoid the layers above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "ingressbed"

FACES = ("ingressbed.cli", "ingressbed.pytest_plugin")
REPORT = ("ingressbed.report", *FACES)
JUDGE = ("ingressbed.judge", "ingressbed.expect", "ingressbed.scenario", "ingressbed.catalog")
DRIVING = ("ingressbed.backends", "ingressbed.clients", "ingressbed.mix", "httpx")

#: module -> import prefixes it must not use.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "expectations": (*DRIVING, *JUDGE, *REPORT, "ingressbed.properties"),
    "balancing": (*DRIVING, *JUDGE, *REPORT),
    "stats": (*DRIVING, *JUDGE, *REPORT),
    "traffic": (*DRIVING, *JUDGE, *REPORT),
    "verdict": (*DRIVING, *JUDGE, *REPORT),
    "measure": (*JUDGE, *REPORT),
    "odds": (*DRIVING, *JUDGE, *REPORT),
    "model": (*JUDGE, *REPORT, "ingressbed.mix"),
    "properties": (*JUDGE, *REPORT, "ingressbed.mix"),
    "evidence": (*JUDGE, *REPORT, "ingressbed.mix"),
    "mix": (*JUDGE, *REPORT),
    "judge": ("ingressbed.expect", "ingressbed.scenario", "ingressbed.catalog", *REPORT),
    "judge_answers": ("ingressbed.expect", "ingressbed.scenario", "ingressbed.catalog", *REPORT),
    "judge_figures": ("ingressbed.expect", "ingressbed.scenario", "ingressbed.catalog", *REPORT),
    "report/results": ("ingressbed.catalog", "ingressbed.scenario", "ingressbed.mix", *FACES),
    "report/markdown": ("ingressbed.catalog", "ingressbed.scenario", "ingressbed.mix", *FACES),
    "report/plots": ("ingressbed.catalog", "ingressbed.scenario", "ingressbed.mix", *FACES),
    "report/__init__": ("ingressbed.catalog", "ingressbed.scenario", "ingressbed.mix", *FACES),
    "scenario/spec": (*DRIVING, "ingressbed.judge", *REPORT),
    "scenario/expects": (*DRIVING, "ingressbed.judge", *REPORT),
    "scenario/steps": (*DRIVING, "ingressbed.judge", *REPORT),
    "scenario/load": (*DRIVING, "ingressbed.judge", *REPORT),
    "scenario/verdict": REPORT,
    "scenario/run": REPORT,
    "catalog": (*DRIVING, *REPORT),
}


def imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_imports_only_go_down(module):
    bad = sorted(
        name
        for name in imports(module)
        for prefix in FORBIDDEN[module]
        if name == prefix or name.startswith(prefix + ".")
    )
    assert not bad, f"ingressbed/{module}.py imports from a layer above it: {', '.join(bad)}"


def test_the_old_catalog_modules_are_gone():
    for old in ("evaluate", "figures"):
        assert not (ROOT / f"{old}.py").exists()
