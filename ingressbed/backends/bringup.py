"""Bring-up as data, in the manner of kind's ``create``: an ordered list of plain steps.

Each backend's ``bring_up()`` returns its start as a list of ``BringUpStep`` values. The
same list is what ``start()`` runs (``run_all``) and what ``--dry-run`` prints
(``describe_all``), so the plan can never drift from what the bed does.

A step's ``describe()`` is its title plus what it would do (commands, files); ``run()``
does it and raises a ``BedError`` with one line on failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingressbed.progress import Steps


@dataclass(frozen=True)
class BringUpStep:
    """One step of a backend's start.

    title   the progress line (``• Starting nginx ...``)
    action  what ``run()`` calls
    detail  what the step does, for ``--dry-run`` (commands, files, one per line)
    """

    title: str
    action: Callable[[], None]
    detail: str = ""

    def describe(self) -> str:
        """The step as the dry-run plan shows it: title, then its detail indented."""
        lines = [self.title]
        lines += [f"    {line}" for line in self.detail.splitlines() if line.strip()]
        return "\n".join(lines)

    def run(self) -> None:
        """Do the step."""
        self.action()


def run_all(steps: Sequence[BringUpStep], progress: Steps) -> None:
    """Run ``steps`` in order, each under its own progress line; stop at the first failure."""
    for step in steps:
        with progress.step(step.title):
            step.run()


def describe_all(steps: Sequence[BringUpStep]) -> str:
    """The numbered plan of ``steps``."""
    return "\n".join(f"{i}. {step.describe()}" for i, step in enumerate(steps, 1))
