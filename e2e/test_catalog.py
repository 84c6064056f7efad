"""Every catalog candidate the backend can run, each property against its expectation.

The catalog (manifests/catalog.yaml) states, per data plane, what each candidate should
do to affinity, spread, cache hits and movement on scale. One test per candidate serves
it, drives its traffic (ingressbed.evaluate) and checks every property; candidates needing
a capability the backend lacks skip with it named. The same results feed the report
written at the end of the run (ingressbed.pytest_plugin.report).
"""

from __future__ import annotations

import pytest

from ingressbed import catalog
from ingressbed.errors import ConfigError
from ingressbed.evaluate import evaluate

try:
    CATALOG = catalog.load()
except ConfigError as exc:
    pytest.fail(f"ingressbed: {exc}", pytrace=False)


@pytest.mark.parametrize("candidate", CATALOG.candidates, ids=lambda c: c.id)
def test_candidate_has_its_expected_properties(candidate, serve, catalog_recorder):
    catalog_recorder.begin(candidate, CATALOG)
    bed = serve(candidate.setup())
    if bed.data_plane not in candidate.planes:
        pytest.skip(f"the catalog states no expectations for data plane {bed.data_plane}")

    result = evaluate(candidate, bed, steps=catalog_recorder.steps)
    catalog_recorder.record(result)

    assert not result.errors, f"{result.errors} requests failed, e.g.:\n" + "\n".join(
        result.error_examples
    )
    assert not result.failed, f"{candidate.id}: not as expected:\n" + "\n".join(
        f"- {p.name}: observed {p.observed:.4f} ({p.detail}); expected {p.expected}; {p.why}"
        for p in result.failed
    )
