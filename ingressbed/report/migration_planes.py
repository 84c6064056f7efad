"""What each data plane does to an ingress-nginx candidate, in words (pure).

``about`` is the plane's own paragraph (``Plane.about``); ``translation`` states how one
candidate is rendered there, from the plane's translation (the same the local data planes
are configured with), rebuilt from the annotations a report records.
"""

from __future__ import annotations

from ingressbed import planes
from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError
from ingressbed.report.results import CandidateResult
from ingressbed.vocabulary import ANNOTATION_PREFIX, IngressSpec, Placement, Setup

#: The data plane being left; the default baseline of a migration report.
BASELINE = "ingress-nginx"


def about(plane: str) -> str:
    """The paragraph of ``plane`` (a plain note for a plane this bed does not know)."""
    try:
        return planes.plane(plane).about
    except ConfigError:
        return f"No description of data plane {plane!r} in this version."


def _setup(candidate: CandidateResult) -> Setup:
    annotations = {
        key if key.startswith(ANNOTATION_PREFIX) else ANNOTATION_PREFIX + key: value
        for key, value in candidate.annotations.items()
    }
    return Setup(IngressSpec(candidate.id, (), annotations), dict(candidate.controller))


def translation(candidate: CandidateResult, plane: str) -> tuple[str, tuple[str, ...]] | None:
    """How ``plane`` renders ``candidate``'s balancing, and what the rendering changes.

    Only hash keys and round robin translate one to one; for cookie affinity, subsets,
    EWMA and service-upstream, None (each successor has its own feature, or none).
    """
    setup = _setup(candidate)
    if Balancing.of(setup).placement not in (Placement.HASH, Placement.ROUND_ROBIN):
        return None
    try:
        balance = planes.translate(plane, setup)
    except ConfigError as exc:
        return f"no translation: {exc}", ()
    return balance.describe().partition(": ")[2], balance.notes
