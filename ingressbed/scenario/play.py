"""Play a scenario on a started backend: check capabilities, apply, run, judge.

Shared by the pytest items (``ingressbed.pytest_plugin.scenarios``), the catalog test and
``ingressbed repro``; each creates or borrows the backend and closes it itself.
"""

from __future__ import annotations

from collections.abc import Callable

from ingressbed import ingress_keys
from ingressbed.backends import base
from ingressbed.backends.base import Backend
from ingressbed.progress import Steps
from ingressbed.scenario.run import execute
from ingressbed.scenario.spec import Scenario
from ingressbed.scenario.verdict import ScenarioVerdict, judge


def required(scenario: Scenario) -> tuple[str, ...]:
    """Every capability ``scenario`` needs (its Ingress's and its ``needs:``), sorted."""
    needed = set(ingress_keys.required_capabilities(scenario.setup)) | set(scenario.needs)
    return tuple(sorted(needed))


def skip_reason(scenario: Scenario, bed: Backend) -> str | None:
    """Why ``bed`` cannot play ``scenario`` (a capability it lacks, or no expectation for
    its data plane), or None."""
    reason = base.skip_reason(bed, required(scenario))
    if reason:
        return reason
    if not scenario.expectations_for(bed.data_plane):
        return f"{scenario.path} states no expectations for data plane {bed.data_plane}"
    return None


def describe(bed: Backend) -> str:
    """``backend local (nginx)`` for a verdict's header."""
    return f"backend {bed.name} ({bed.data_plane})"


def play(
    scenario: Scenario,
    bed: Backend,
    *,
    progress: Callable[[str], None] | None = None,
    steps: Steps | None = None,
    served: bool = False,
) -> ScenarioVerdict:
    """Serve ``scenario.setup`` on ``bed`` (unless ``served``: the caller applied it just
    before), send the steps, judge the expectations.

    Raises:
        BedError: the backend could not serve the setup.
    """
    if not served:
        bed.apply(scenario.setup)
    run = execute(scenario, bed, progress=progress, steps=steps)
    pods = f"{len(run.pods)} pods"
    return judge(scenario, run, f"{describe(bed)}, {pods}")
