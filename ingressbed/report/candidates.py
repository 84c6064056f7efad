"""A catalog candidate's record in the report, from its verdict or from why it was not
played (pure).

The pytest plugin's recorder and ``ingressbed repro`` of a catalog file both build a
candidate's ``CandidateResult`` here, so a report written by either says the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingressbed import measure
from ingressbed.catalog import Candidate, Catalog
from ingressbed.expectations import PROPERTIES, PropertyExpect
from ingressbed.report.results import (
    MEASURED,
    NO_EQUIVALENT,
    NOT_RUN,
    CandidateResult,
    PropertyResult,
    Report,
)
from ingressbed.scenario.verdict import ScenarioVerdict


def described(candidate: Candidate, plane: str, status: str, **rest: Any) -> CandidateResult:
    """A result carrying ``candidate``'s description; ``rest`` holds the outcome."""
    return CandidateResult(
        id=candidate.id,
        intent=candidate.intent,
        status=status,
        plane=plane,
        layout=candidate.layout,
        replicas=candidate.replicas,
        annotations=candidate.annotations,
        controller=candidate.controller,
        **rest,
    )


def played(candidate: Candidate, plane: str, verdict: ScenarioVerdict) -> CandidateResult:
    """The report's record of a played candidate: every verdict, the page load per pod."""
    run = verdict.run
    observations = [o for mix in run.mixes.values() for o in mix.all()]
    bad = [o for o in [*run.observations, *observations] if not o.ok]
    load: dict[str, int] = {}
    for mix in run.mixes.values():
        load = dict(measure.spread(mix.first, list(mix.pod_ips)).counts)
    return described(
        candidate,
        plane,
        MEASURED,
        properties=tuple(PropertyResult.of(v) for v in verdict.verdicts),
        load=load,
        requests=len(run.observations) + sum(m.requests for m in run.mixes.values()),
        errors=len(bad),
        error_examples=tuple(
            f"{o.protocol} {o.client} {o.host}{o.key} -> {o.status} {o.error}" for o in bad[:5]
        ),
        seconds=round(sum(m.seconds for m in run.mixes.values()), 2),
    )


def not_played(candidate: Candidate, status: str, reason: str, plane: str) -> CandidateResult:
    """A result without verdicts: the candidate's expectations, for the record.

    They are those of ``plane`` when the candidate states some, else of its first plane.
    """
    planes = candidate.planes or (plane,)
    plane = plane if plane in planes else planes[0]
    properties = tuple(
        PropertyResult(str(e.kind), str(e.check), e.describe(), e.why)
        for e in candidate.scenario.expectations_for(plane)
        if isinstance(e, PropertyExpect)
    )
    return described(candidate, plane, status, reason=reason, properties=properties)


def no_equivalent(candidate: Candidate, reason: str, plane: str) -> CandidateResult:
    """The record of a candidate ``plane`` has no equivalent of: the reason, no figures.

    The catalog states no expectation for such a plane, so none is listed.
    """
    return described(candidate, plane, NO_EQUIVALENT, reason=reason)


def full_report(
    catalog: Catalog,
    results: Mapping[str, CandidateResult],
    *,
    backend: str,
    data_plane: str,
    versions: Mapping[str, str],
    started: str,
    finished: str,
) -> Report:
    """The report of a catalog run: every candidate of ``catalog``, its result where one
    was recorded, ``not run`` otherwise."""
    rows = [
        results.get(c.id) or not_played(c, NOT_RUN, "not selected in this run", data_plane)
        for c in catalog.candidates
    ]
    return Report(
        backend=backend,
        data_plane=data_plane,
        versions=dict(versions),
        catalog=_shown(catalog.path),
        started=started,
        finished=finished,
        properties=tuple((str(p.kind), p.title, p.what) for p in PROPERTIES),
        candidates=tuple(rows),
    )


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
