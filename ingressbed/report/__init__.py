"""The catalog report: results model (report.json), Markdown (report.md), optional PNGs.

``write(report, folder)`` writes all three; ``render(folder)`` re-renders report.md and
the PNGs from an existing report.json (``ingressbed report DIR``). The pytest plugin in
``ingressbed.pytest_plugin.report`` collects results during a run and writes the report at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingressbed.report import markdown, plots
from ingressbed.report.results import (
    ERROR,
    MEASURED,
    NOT_RUN,
    SKIPPED,
    CandidateResult,
    PropertyResult,
    Report,
    from_json,
    read,
)

JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"

__all__ = [
    "ERROR",
    "JSON_NAME",
    "MARKDOWN_NAME",
    "MEASURED",
    "NOT_RUN",
    "SKIPPED",
    "CandidateResult",
    "PropertyResult",
    "Report",
    "from_json",
    "read",
    "render",
    "render_markdown",
    "write",
]


#: What report.md says of the PNGs a Ctrl-C left undrawn.
STOPPED_NOTE = "drawing stopped by Ctrl-C; `ingressbed report DIR` draws the rest"


def render_markdown(
    report: Report, folder: Path, stop: Callable[[], bool] | None = None
) -> list[Path]:
    """Write the PNGs (when matplotlib is there) and report.md into ``folder``.

    Args:
        report: the results.
        folder: where the files go.
        stop: asked before each PNG; True ends the drawing (report.md is still written,
            saying which plots are missing and how to draw them).

    Returns:
        The files written, report.md last.
    """
    note = plots.unavailable() or ""
    drawn = plots.write(report, folder, stop)
    if not note and stop is not None and stop():
        note = STOPPED_NOTE
    target = folder / MARKDOWN_NAME
    target.write_text(markdown.render(report, drawn, note))
    return [*(folder / name for name in drawn.values()), target]


def write(report: Report, folder: Path, stop: Callable[[], bool] | None = None) -> list[Path]:
    """Write report.json, then the PNGs and report.md, into ``folder`` (created if needed).

    report.json holds every result and comes first: what follows only draws it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    return [report.write(folder / JSON_NAME), *render_markdown(report, folder, stop)]


def render(folder: Path) -> list[Path]:
    """Re-render report.md and the PNGs from ``folder``/report.json.

    Raises:
        ConfigError: no readable report.json there.
    """
    return render_markdown(read(folder / JSON_NAME), folder)
