"""What each data plane does to an ingress-nginx candidate, in words and in YAML (pure).

``about`` is the plane's own paragraph (``Plane.about``); ``rendering`` states how one
candidate is rendered there (the plane's translation, the same the local data planes are
configured with, rebuilt from what a report records) and what to write on the controllers
the plane stands for (``Plane.targets``), or why there is nothing to write (its
``NoEquivalent``). Every plane in the registry is asked the same way, so a new plane's
targets appear here without changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ingressbed import planes
from ingressbed.errors import ConfigError, NoEquivalent
from ingressbed.planes import Target
from ingressbed.report.results import NO_EQUIVALENT, CandidateResult
from ingressbed.vocabulary import ANNOTATION_PREFIX, SERVICE_NAME, IngressSpec, Route, Setup

#: The data plane being left; the default baseline of a migration report.
BASELINE = "ingress-nginx"


def about(plane: str) -> str:
    """The paragraph of ``plane`` (a plain note for a plane this bed does not know)."""
    try:
        return planes.plane(plane).about
    except ConfigError:
        return f"No description of data plane {plane!r} in this version."


def _routes(layout: str) -> tuple[Route, ...]:
    """The routes of a report's ``layout`` (``/8080 → 8080, /ws → 8081``)."""
    out = []
    for part in layout.split(", "):
        path, arrow, port = part.partition(" → ")
        if arrow and port.strip().isdigit():
            out.append(Route(path.strip(), int(port)))
    return tuple(out)


def setup_of(candidate: CandidateResult) -> Setup:
    """The candidate's setup, rebuilt from what its report records (annotations, ConfigMap
    keys, routes, replicas)."""
    annotations = {
        key if key.startswith(ANNOTATION_PREFIX) else ANNOTATION_PREFIX + key: value
        for key, value in candidate.annotations.items()
    }
    spec = IngressSpec(SERVICE_NAME, _routes(candidate.layout), annotations)
    return Setup(spec, dict(candidate.controller), replicas=candidate.replicas or 6)


@dataclass(frozen=True)
class Rendering:
    """How one plane renders one candidate.

    ``rendering`` is the plane's one line (``least_conn``, ``balance source, hash-type
    consistent``), ``notes`` what it changes, ``targets`` what to write on each controller
    the plane stands for. ``no_equivalent`` (the reason) where that controller has nothing
    like the candidate, ``problem`` another refusal (a key the plane cannot hash on).
    """

    rendering: str = ""
    notes: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()
    no_equivalent: str = ""
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (migration.json's ``target`` of a cell)."""
        return asdict(self)


def rendering(candidate: CandidateResult, plane: str) -> Rendering | None:
    """How ``plane`` renders ``candidate``, and what to write instead (None: the baseline
    plane itself, or a plane this bed does not know).

    A candidate the plane's run recorded as ``no equivalent`` keeps that run's reason (it
    knows what the candidate needed, a controller release included).
    """
    if plane == BASELINE:
        return None
    try:
        found = planes.plane(plane)
    except ConfigError:
        return None
    if candidate.status == NO_EQUIVALENT:
        return Rendering(no_equivalent=candidate.reason)
    setup = setup_of(candidate)
    try:
        balance = found.translate(setup)
        targets = tuple(found.targets(setup))
    except NoEquivalent as exc:
        return Rendering(no_equivalent=str(exc))
    except ConfigError as exc:
        return Rendering(problem=str(exc))
    return Rendering(balance.describe().partition(": ")[2], balance.notes, targets)


def target_lines(found: Rendering) -> list[str]:
    """Markdown of ``found``'s targets: per controller what it was checked against, the YAML
    in a fenced block and the notes (nothing without targets)."""
    lines: list[str] = []
    for target in found.targets:
        checked = f" (checked: {target.checked})" if target.checked else ""
        lines += [f"{target.controller}{checked}:", ""]
        if target.text:
            lines += ["```yaml", target.text.rstrip("\n"), "```", ""]
        lines += [f"- {note}" for note in target.notes]
        if target.notes:
            lines.append("")
    return lines
