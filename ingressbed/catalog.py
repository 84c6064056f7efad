"""The candidate catalog: one scenario file per candidate under manifests/catalog/.

A candidate is a configuration a user could choose, written as a scenario file
(docs/scenarios.md): its Ingress and controller keys (the setup), a ``mix`` step (the
traffic every property is measured on) and expectations, each with the data planes it
is for (``on:``) and its reason (``why:``). Its id is the file name. Users add a
candidate by adding a file.

``load()`` validates every file with the scenario loader and adds the catalog's rules:
a mix step, a ``why`` on every expectation, at most one expectation per property and
data plane. A mistake is a ``ScenarioError`` starting with ``path:line:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ingressbed.errors import ConfigError
from ingressbed.expectations import PROPERTIES, Kind, PropertyExpect
from ingressbed.paths import MANIFESTS
from ingressbed.scenario.load import load as load_scenario
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.spec import MIX, Scenario
from ingressbed.vocabulary import ANNOTATION_PREFIX, DataPlane

DEFAULT_DIR = MANIFESTS / "catalog"
SUFFIX = ".yaml"
#: The data planes the catalog states expectations for: ingress-nginx first (the baseline
#: its users are leaving), then every rendering the local backend runs. An expectation
#: without ``on:`` holds on all of them.
PLANES: tuple[DataPlane, ...] = tuple(DataPlane)
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")


@dataclass(frozen=True)
class Candidate:
    """One configuration of the catalog: a scenario file."""

    scenario: Scenario

    @property
    def id(self) -> str:
        return self.scenario.id

    @property
    def intent(self) -> str:
        return self.scenario.title

    @property
    def replicas(self) -> int:
        return self.scenario.setup.replicas

    @property
    def annotations(self) -> dict[str, str]:
        """The Ingress annotations by their short names."""
        return {
            k.removeprefix(ANNOTATION_PREFIX): v
            for k, v in self.scenario.setup.ingress.annotations.items()
        }

    @property
    def controller(self) -> dict[str, str]:
        return dict(self.scenario.setup.controller)

    @property
    def layout(self) -> str:
        """The routes, e.g. ``/8080 → 8080, /9090 → 9090, /ws → 8081``."""
        return ", ".join(f"{r.path} → {r.service_port}" for r in self.scenario.setup.ingress.routes)

    @property
    def planes(self) -> tuple[DataPlane, ...]:
        """The data planes with at least one expectation."""
        return tuple(p for p in PLANES if self.scenario.expectations_for(p))

    def expectation(self, kind: Kind | str, plane: str) -> PropertyExpect | None:
        """The expectation of property ``kind`` on ``plane`` (None: not stated)."""
        for e in self.scenario.expectations_for(plane):
            if isinstance(e, PropertyExpect) and e.kind == kind:
                return e
        return None


@dataclass(frozen=True)
class Catalog:
    """All candidates, in file-name order."""

    path: Path
    candidates: tuple[Candidate, ...]

    def get(self, candidate_id: str) -> Candidate:
        """The candidate with this id (ConfigError naming the known ids otherwise)."""
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        known = ", ".join(c.id for c in self.candidates)
        raise ConfigError(f"no candidate {candidate_id!r} in {self.path}; known: {known}")


def check(scenario: Scenario) -> Candidate:
    """The catalog's rules on top of the scenario format.

    Raises:
        ScenarioError: ``path:line:`` of the first rule broken.
    """
    src = Source(scenario.path)
    if not _ID.match(scenario.id):
        raise src.error(1, f"candidate id {scenario.id!r} (the file name): use a-z, 0-9 and '-'")
    if not any(s.kind == MIX for s in scenario.steps):
        raise src.error(1, "a catalog candidate needs a mix step: - {name: mix, mix: {}}")
    seen: dict[tuple[str, str], int] = {}
    for e in scenario.expect:
        if not e.why:
            raise src.error(e.line, f"{e.kind}: a catalog expectation says why (why: ...)")
        if not isinstance(e, PropertyExpect):
            continue
        for plane in e.planes or PLANES:
            first = seen.setdefault((str(e.kind), str(plane)), e.line)
            if first != e.line:
                raise src.error(e.line, f"{e.kind} on {plane} is already stated at line {first}")
    return Candidate(scenario)


def load(folder: Path | str = DEFAULT_DIR) -> Catalog:
    """Read and validate every candidate file (``*.yaml``) in ``folder``.

    Raises:
        ConfigError: no folder or no candidate file in it.
        ScenarioError: a file is malformed or breaks a catalog rule (``path:line:``).
    """
    folder = Path(folder)
    files = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"no catalog candidates (*{SUFFIX}) in {folder}")
    return Catalog(folder, tuple(check(load_scenario(path)) for path in files))


#: Matrix columns of the report: every property, in order.
COLUMNS = PROPERTIES
