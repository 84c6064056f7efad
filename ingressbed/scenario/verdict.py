"""A scenario's verdict: every expectation judged (by ``ingressbed.judge``), rendered.

``judge(scenario, run)`` returns a ``ScenarioVerdict``; ``render()`` is the text the
pytest item fails with and ``ingressbed repro`` prints: the notes (what was converted,
what the controller ignored or keeps stale, what each live edit did), each expectation
with its line, ✓ or ✗ and what was seen (or what was missing), then the observation
table. A scenario with no expectation for the bed's data plane does not pass: nothing
was judged. Expectations whose version range leaves out the bed's controller are listed
as not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressbed.evidence import Evidence
from ingressbed.judge import judge_all
from ingressbed.scenario import table
from ingressbed.scenario.explain import Explanation
from ingressbed.scenario.spec import Scenario
from ingressbed.verdict import Verdict


@dataclass(frozen=True)
class ScenarioVerdict:
    """Every expectation of a scenario that applies to the bed's data plane, judged."""

    scenario: Scenario
    run: Evidence
    verdicts: tuple[Verdict, ...]
    backend: str = ""
    explanation: Explanation | None = None

    @property
    def passed(self) -> bool:
        """Something was judged and every verdict passed."""
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    def render(self) -> str:
        """The readable verdict: header, expectations, observation table, result."""
        s = self.scenario
        lines = [
            f"scenario: {s.title}",
            f"  file {s.path}" + (f", {self.backend}" if self.backend else ""),
        ]
        lines += [f"  note: {note}" for note in s.notes]
        lines += [f"  note: {note}" for note in self.run.notes]
        if self.explanation is not None:
            lines += [f"  note: {note}" for note in self.explanation.notes]
        lines += [f"  not judged: {line}" for line in self.not_judged()]
        lines.append("expectations:")
        for v in self.verdicts:
            lines.append(f"  {'✓' if v.passed else '✗'} line {v.line}: {v.asked}")
            lines.append(f"      seen: {v.seen}")
            if v.why and not v.passed:
                lines.append(f"      why: {v.why}")
        if not self.verdicts:
            lines.append(f"  ✗ no expectation applies to data plane {self.run.plane or '?'}")
        count = len(self.run.observations) + sum(m.requests for m in self.run.mixes.values())
        lines.append(f"observations ({count} requests, {{run}} = {self.run.token}):")
        lines.append(table.render(s, self.run))
        if self.passed:
            lines.append(f"PASS: {len(self.verdicts)} expectations hold")
        elif not self.verdicts:
            lines.append("FAIL: nothing was judged")
        else:
            where = ", ".join(f"{s.path}:{v.line}" for v in self.failed)
            lines.append(
                f"FAIL: {len(self.failed)} of {len(self.verdicts)} expectations failed ({where})"
            )
        return "\n".join(lines)

    def not_judged(self) -> list[str]:
        """Expectations of the bed's data plane that its controller release leaves out."""
        run = self.run
        if run.version is None:
            return []
        return [
            f"line {e.line}: controller {run.version} is outside "
            + ", ".join(str(r) for p, r in e.versions if p == run.plane)
            for e in self.scenario.expect
            if e.applies_to(run.plane) and not e.applies_to(run.plane, run.version)
        ]


def judge(
    scenario: Scenario,
    run: Evidence,
    backend: str = "",
    explanation: Explanation | None = None,
) -> ScenarioVerdict:
    """Judge every expectation of ``scenario`` that applies to ``run.plane`` (and its
    controller release ``run.version``).

    ``backend`` is shown in the header; ``explanation``'s notes with the others.
    """
    verdicts = judge_all(scenario.expect, run)
    return ScenarioVerdict(scenario, run, verdicts, backend, explanation)
