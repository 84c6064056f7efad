"""The stale hash key footgun of ingress-nginx (kind and cluster only).

ingress-nginx builds a consistent-hash balancer with the ``upstream-hash-by`` key it reads
when the balancer is created; later syncs refresh the endpoints only, and a change of the
key alone makes no nginx reload. So changing the key on a live Ingress with a plain apply
leaves the old key deciding, although ``/dbg`` already shows the new one. The bed's own
``apply`` guards against it by dropping the backend first; ``apply_keeping_balancers``
applies the way ``kubectl apply`` does. See docs/kind.md, "The stale hash key".

The scenario file format has one setup per scenario, so this is a test, not a scenario.
"""

from __future__ import annotations

import pytest

from ingressbed import layouts
from ingressbed.backends import converge
from ingressbed.vocabulary import Capability

KEYS = 40
OLD_KEY = "$binary_remote_addr"
NEW_KEY = "$request_uri"


def _disagreements(bed, setup):
    """Where traffic differs from the placement model for ``setup`` (same samples each time)."""
    endpoints = {port: bed.endpoints(port) for port in setup.ingress.ports}
    plan = converge.plan(setup, endpoints, bed.data_plane, keys=KEYS, seed=11)
    return plan.samples, converge.disagreements(
        plan.samples, converge.send(bed.address(), plan.samples)
    )


@pytest.mark.needs(Capability.RAW_APPLY)
def test_a_new_hash_key_on_a_live_ingress_keeps_the_old_key_until_the_balancer_is_remade(serve):
    old = layouts.setup("one-port", {"upstream-hash-by": OLD_KEY})
    new = layouts.setup("one-port", {"upstream-hash-by": NEW_KEY})
    bed = serve(old)

    samples, under_old = _disagreements(bed, old)
    assert under_old == [], "the bed's apply must serve the first key"

    bed.apply_keeping_balancers(new)  # returns once /dbg shows the new key
    _, still_old = _disagreements(bed, old)
    _, under_new = _disagreements(bed, new)
    assert still_old == [], f"the old key no longer decides: {still_old[:3]}"
    assert len(under_new) > len(samples) // 2, "the new key already decides"

    bed.apply(new)  # the bed drops the backend first, so the balancer is made afresh
    _, fixed = _disagreements(bed, new)
    assert fixed == [], f"after the bed's apply the new key must decide: {fixed[:3]}"
