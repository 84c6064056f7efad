"""The one verdict type: an expectation judged on its evidence (plain data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Whether one expectation held, and what was seen.

    kind      the expectation's kind (an ``ingressbed.expectations.Kind`` value)
    asked     what it asked, with its bounds as computed for this run
    passed    True only when there was evidence and it held
    seen      the evidence: figures, counts, a few examples; or what was missing
    why       the expectation's reason
    line      its line in the file (0 from Python)
    observed  the figure, for number-valued kinds (None: nothing measured)
    low, high the bounds the figure had to be inside, where there are numeric ones
    check     how a property was checked (``equals``, ``binomial``, ``model``...; "" for
              the expectations on answers)
    """

    kind: str
    asked: str
    passed: bool
    seen: str
    why: str = ""
    line: int = 0
    observed: float | None = None
    low: float | None = None
    high: float | None = None
    check: str = ""

    def message(self) -> str:
        """Multi-line text for an assertion: what was asked, seen and why."""
        where = f"line {self.line}: " if self.line else ""
        mark = "✓" if self.passed else "✗"
        text = f"{mark} {where}{self.asked}\n    seen: {self.seen}"
        return text + (f"\n    why: {self.why}" if self.why else "")
