"""Every catalog candidate the backend can run, each expectation judged.

The catalog (manifests/catalog/<id>.yaml, one scenario file per candidate) states, per
data plane and with its reason, what each candidate should do to affinity, spread,
cache hits and movement on scale. One test per candidate serves it, sends its steps (a
``mix`` step: the property traffic) and judges every expectation for the bed's data
plane (ingressbed.judge). Before anything is served for a candidate:

- a data plane whose controller has no equivalent of it (``NoEquivalent``: subsets on
  HAProxy, sticky cookies on open-source nginx) is recorded as ``no equivalent`` with the
  reason, and the test checks the catalog states nothing for that plane;
- a capability the backend lacks, or a data plane the candidate states nothing for, skips
  it with the reason named.

The same verdicts feed the report written at the end of the run
(ingressbed.pytest_plugin.report).
"""

from __future__ import annotations

import pytest

from ingressbed import catalog
from ingressbed.errors import BedError
from ingressbed.scenario.play import no_equivalent, play, skip_reason

try:
    CATALOG = catalog.load()
except BedError as exc:
    pytest.fail(f"ingressbed: {exc}", pytrace=False)

CANDIDATES = [pytest.param(c, id=c.id) for c in CATALOG.candidates]


@pytest.mark.parametrize("candidate", CANDIDATES)
def test_candidate_has_its_expected_properties(candidate, bed, serve, catalog_recorder):
    catalog_recorder.begin(candidate, CATALOG)
    missing = no_equivalent(candidate.scenario, bed.data_plane)
    if missing:
        catalog_recorder.record_no_equivalent(candidate, missing)
        stated = candidate.scenario.expectations_for(bed.data_plane)
        assert not stated, (
            f"{candidate.id}: {missing}; yet the catalog states {len(stated)} expectations "
            f"for {bed.data_plane}"
        )
        return
    reason = skip_reason(candidate.scenario, bed)  # a capability, or a plane it states nothing for
    if reason:
        pytest.skip(reason)
    serve(candidate.scenario.setup)  # applied once: play() sends and judges

    verdict = play(candidate.scenario, bed, steps=catalog_recorder.steps, served=True)
    catalog_recorder.record_verdict(candidate, verdict)

    assert verdict.passed, f"{candidate.id}: not as expected:\n{verdict.render()}"
