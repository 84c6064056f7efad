"""Scenario files: a user's bug report as a reproducible test (DESIGN.md, Scenario files).

A scenario file holds the user's Ingress as they wrote it, their curl commands and
other steps, and expectations. ``load`` validates it (errors are ``path:line: ...``),
``play`` serves it on a backend, sends the steps and judges the expectations into a
``Verdict`` whose ``render()`` shows what was observed. pytest collects scenario files
through ``ingressbed.pytest_plugin.scenarios``; ``ingressbed repro FILE`` runs one outside pytest.
Format and examples: docs/scenarios.md.
"""

from __future__ import annotations

from ingressbed.scenario.load import load, loads
from ingressbed.scenario.play import play, skip_reason
from ingressbed.scenario.run import Run, execute
from ingressbed.scenario.spec import Scenario, Step
from ingressbed.scenario.verdict import Outcome, Verdict, judge

__all__ = [
    "Outcome",
    "Run",
    "Scenario",
    "Step",
    "Verdict",
    "execute",
    "judge",
    "load",
    "loads",
    "play",
    "skip_reason",
]
