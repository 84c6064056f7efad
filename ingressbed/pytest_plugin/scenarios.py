"""pytest plugin: scenario files are test files.

Collected: ``*.yaml`` / ``*.yml`` under ``<rootdir>/e2e/scenarios/``, and any such file
named on the command line (``pytest path/to/report.yaml --backend local``). Other YAML
(manifests, CI config) is left alone. Each file is one item, named after the file.

The file is validated at collection, before anything is deployed; a malformed file
becomes an item that fails with ``path:line: what is wrong`` and never starts the bed.
A valid one runs on the session's ``bed`` (shared with the e2e tests). It carries a
``needs(...)`` marker with the capabilities its Ingress and ``needs:`` require, so a
backend lacking one skips it with the reason before setup; it also skips when it states
no expectation for the bed's data plane, or when the bed's controller release is outside
every version range its expectations state for that plane (``on: ingress-nginx@>=1.11``).
It fails with the verdict (notes, each expectation, what was seen or what was missing,
the observation table) when an expectation does not hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingressbed.backends.base import Backend
from ingressbed.errors import ScenarioError
from ingressbed.scenario.load import display_path, load
from ingressbed.scenario.play import play, required, skip_reason, version_skip
from ingressbed.scenario.spec import Scenario

#: The bed's plugin (options, the ``bed`` fixture), so ``-p ingressbed.pytest_plugin.scenarios``
#: alone runs a scenario file outside the repository.
pytest_plugins = ["ingressbed.pytest_plugin.bed"]

SUFFIXES = (".yaml", ".yml")
SCENARIO_DIR = ("e2e", "scenarios")


def _named(path: Path, config: pytest.Config) -> bool:
    """Whether ``path`` was given on the command line (``file`` or ``file::item``)."""
    here = config.invocation_params.dir
    for arg in config.args:
        candidate = Path(str(arg).split("::", 1)[0])
        if not candidate.is_absolute():
            candidate = here / candidate
        if candidate.resolve() == path.resolve():
            return True
    return False


def is_scenario_path(path: Path, config: pytest.Config) -> bool:
    """Whether pytest should collect ``path`` as a scenario file."""
    if path.suffix not in SUFFIXES:
        return False
    if path.resolve().is_relative_to(config.rootpath.joinpath(*SCENARIO_DIR).resolve()):
        return True
    return _named(path, config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_path(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioItem(pytest.Function):
    """A scenario file's one test; reported at the file, not at this module."""

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"scenario {self.name}"


def _failing(error: ScenarioError) -> Callable[[], None]:
    def malformed_scenario() -> None:
        raise error

    return malformed_scenario


def _runner(scenario: Scenario) -> Callable[[Backend, pytest.FixtureRequest], None]:
    def scenario_test(bed: Backend, request: pytest.FixtureRequest) -> None:
        from ingressbed.pytest_plugin.bed import (
            USED_KEY,  # here: the plugin module is imported by pytest
        )

        reason = skip_reason(scenario, bed) or version_skip(scenario, bed)
        if reason:  # capabilities are also decided before setup, by the needs marker
            pytest.skip(reason)
        request.node.stash[USED_KEY] = True  # diagnostics are written if it fails
        verdict = play(scenario, bed)
        if not verdict.passed:
            pytest.fail(verdict.render(), pytrace=False)

    return scenario_test


class ScenarioFile(pytest.File):
    """One scenario file: validated at collection, one item."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = load(self.path)
        except ScenarioError as exc:
            test: Callable[..., None] = _failing(exc)
            needed: tuple[str, ...] = ()
        else:
            test = _runner(scenario)
            needed = required(scenario)
        item = ScenarioItem.from_parent(self, name=self.path.stem, callobj=test)
        if needed:
            item.add_marker(pytest.mark.needs(*needed))
        yield item

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, display_path(self.path)
