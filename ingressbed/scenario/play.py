"""Play a scenario on a started backend: check capabilities, apply, run, judge.

Shared by the pytest items (``collect``) and ``ingressbed repro``; both create or
borrow the backend and close it themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from ingressbed import ingress_keys
from ingressbed.backends import base
from ingressbed.backends.base import Backend
from ingressbed.scenario.run import execute
from ingressbed.scenario.spec import Scenario
from ingressbed.scenario.verdict import Verdict, judge


def skip_reason(scenario: Scenario, bed: Backend) -> str | None:
    """Why ``bed`` cannot play ``scenario`` (a capability it lacks), or None."""
    return base.skip_reason(bed, ingress_keys.required_capabilities(scenario.setup))


def describe(bed: Backend) -> str:
    """``backend local (nginx)`` for a verdict's header."""
    return f"backend {bed.name} ({bed.data_plane})"


def play(
    scenario: Scenario,
    bed: Backend,
    *,
    progress: Callable[[str], None] | None = None,
) -> Verdict:
    """Serve ``scenario.setup`` on ``bed``, send the steps, judge the expectations.

    Raises:
        BedError: the backend could not serve the setup.
    """
    bed.apply(scenario.setup)
    run = execute(scenario, bed, progress=progress)
    pods = f"{len(run.pods)} pods"
    return judge(scenario, run, f"{describe(bed)}, {pods}")
