"""Play a scenario on a started backend: check capabilities and versions, apply, run, judge.

Shared by the pytest items (``ingressbed.pytest_plugin.scenarios``), the catalog test and
``ingressbed repro``; each creates or borrows the backend and closes it itself. On a data
plane that follows ingress-nginx's releases the verdict carries the controller model's
explanation (``ingressbed.scenario.explain``): its notes always, its text on request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ingressbed import ingress_keys, planes
from ingressbed.backends import base
from ingressbed.backends.base import Backend, ShowsController
from ingressbed.errors import BedError, ConfigError, NoEquivalent
from ingressbed.evidence import Evidence
from ingressbed.progress import Steps
from ingressbed.scenario.explain import Explanation, explain
from ingressbed.scenario.run import execute
from ingressbed.scenario.spec import SCALE, Scenario
from ingressbed.scenario.verdict import ScenarioVerdict, judge
from ingressbed.vocabulary import Capability


def required(scenario: Scenario) -> tuple[str, ...]:
    """Every capability ``scenario`` needs (each setup's, its ``needs:``, ``scale`` for a
    scale step), sorted."""
    needed: set[str] = set(scenario.needs)
    for setup in scenario.setups:
        needed |= ingress_keys.required_capabilities(setup)
    if any(s.kind == SCALE for s in scenario.steps):
        needed.add(Capability.SCALE)
    return tuple(sorted(needed))


#: The release a scenario needing ``legacy-hash-by`` stands for (incident 2's controller).
LEGACY_RELEASE = "0.25.0"


def no_equivalent(scenario: Scenario, plane: str) -> str | None:
    """Why the controller data plane ``plane`` stands for has nothing like ``scenario``'s
    setups (the plane's ``NoEquivalent``), or None.

    A scenario that needs ``legacy-hash-by`` is translated for a controller below 0.33
    (``LEGACY_RELEASE``), the one that bug belongs to. Other refusals (a key the plane
    cannot hash on) are not an absence of equivalent: they come when the setup is served.
    """
    version = LEGACY_RELEASE if Capability.LEGACY_HASH in scenario.needs else None
    for setup in scenario.setups:
        try:
            planes.translate(plane, setup, controller_version=version)
        except NoEquivalent as exc:
            return str(exc)
        except ConfigError:
            return None
    return None


def skip_reason(scenario: Scenario, bed: Backend) -> str | None:
    """Why ``bed`` cannot play ``scenario`` (its data plane has no equivalent of it, a
    capability it lacks, or no expectation for its data plane), or None. Decided before
    anything starts."""
    reason = no_equivalent(scenario, bed.data_plane) or base.skip_reason(bed, required(scenario))
    if reason:
        return reason
    if not scenario.expectations_for(bed.data_plane):
        return f"{scenario.path} states no expectations for data plane {bed.data_plane}"
    return None


def follows_releases(bed: Backend) -> bool:
    """Whether ``bed``'s data plane follows ingress-nginx's releases (has a controller
    version, and the controller model explains it)."""
    return planes.plane(bed.data_plane).versioned


def version_skip(scenario: Scenario, bed: Backend) -> str | None:
    """Why ``scenario`` is not judged on ``bed``'s controller release, or None.

    Only a file whose expectations state version ranges for the bed's data plane
    (``on: ingress-nginx@>=1.11``) can skip here: when no expectation applies to the
    release the backend says it runs, or when it cannot say (a cluster's controller
    whose image names no release).
    """
    ranges = scenario.ranges(bed.data_plane)
    if not ranges:
        return None
    version = bed.controller_version()
    stated = ", ".join(str(r) for r in ranges)
    if version is None:
        return (
            f"{scenario.path} states {bed.data_plane} versions ({stated}) and the backend "
            "cannot tell the controller's"
        )
    if not scenario.expectations_for(bed.data_plane, version):
        return (
            f"{scenario.path}: controller {version} is outside every range the file states "
            f"for {bed.data_plane} ({stated})"
        )
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
    explained: bool = False,
) -> ScenarioVerdict:
    """Serve ``scenario.setup`` on ``bed`` (unless ``served``: the caller applied it just
    before), send the steps, judge the expectations.

    Args:
        explained: put the controller model's explanation on the verdict on any data
            plane (on ingress-nginx planes it is always there).

    Raises:
        BedError: the backend could not serve the setup.
    """
    versioned = follows_releases(bed)
    version = bed.controller_version() if versioned else None
    if not served:
        bed.apply(scenario.setup)
    run = execute(scenario, bed, progress=progress, steps=steps)
    run = replace(run, version=version)
    explanation = None
    if versioned or explained:
        explanation = _explain(scenario, run, bed, version)
        if not versioned:  # the model is ingress-nginx's: its notes are not this plane's
            head = f"{_rendering(scenario, bed)}; what ingress-nginx builds, for comparison:\n"
            explanation = replace(explanation, text=head + explanation.text, notes=())
    pods = f"{len(run.pods)} pods"
    return judge(scenario, run, f"{describe(bed)}, {pods}", explanation)


def _rendering(scenario: Scenario, bed: Backend) -> str:
    """How ``bed``'s data plane balances the scenario's first setup, in one line."""
    try:
        return planes.translate(bed.data_plane, scenario.setup).describe()
    except ConfigError as exc:
        return f"{bed.data_plane}: {exc}"


def _explain(scenario: Scenario, run: Evidence, bed: Backend, version: str | None) -> Explanation:
    state = None
    problem = ""
    if isinstance(bed, ShowsController):
        try:
            state = bed.controller_state()
        except BedError as exc:
            problem = f"the controller could not be asked: {exc}"
    try:
        found = explain(scenario, run, state, version=version)
    except ConfigError as exc:
        return Explanation(f"no explanation: {exc}\n", (f"no explanation: {exc}",))
    if problem:
        found = replace(found, text=f"{problem}\n{found.text}", notes=(*found.notes, problem))
    return found
