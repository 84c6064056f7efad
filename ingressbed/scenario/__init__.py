"""Scenario files: a user's bug report, or a catalog candidate, as a reproducible test.

A scenario file holds an Ingress as the user wrote it, their curl commands and other
steps (a ``mix`` step sends the traffic the catalog's properties are measured on), and
expectations in the one expectation language (``ingressbed.expectations``). ``load``
validates it (errors are ``path:line: ...``), ``play`` serves it on a backend, sends the
steps and judges the expectations (``ingressbed.judge``) into a ``ScenarioVerdict``
whose ``render()`` shows what was observed. pytest collects scenario files through
``ingressbed.pytest_plugin.scenarios``; ``ingressbed repro FILE`` runs one outside
pytest. Format and examples: docs/scenarios.md.
"""

from __future__ import annotations

from ingressbed.scenario.load import load, loads
from ingressbed.scenario.play import play, required, skip_reason
from ingressbed.scenario.run import Run, execute
from ingressbed.scenario.spec import Scenario, Step
from ingressbed.scenario.verdict import ScenarioVerdict, judge

__all__ = [
    "Run",
    "Scenario",
    "ScenarioVerdict",
    "Step",
    "execute",
    "judge",
    "load",
    "loads",
    "play",
    "required",
    "skip_reason",
]
