"""Optional PNGs of load per pod, one per measured candidate (the ``plots`` extra).

matplotlib is imported only here and only when plotting; without it ``unavailable()``
says why and how to get it, and the report carries that line instead of the images.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from ingressbed.report.results import MEASURED, CandidateResult, Report

INSTALL_HINT = "matplotlib is not installed (pip install 'ingressbed[plots]')"


def unavailable() -> str | None:
    """Why plots cannot be drawn (None: they can)."""
    if importlib.util.find_spec("matplotlib") is None:
        return INSTALL_HINT
    return None


def file_name(candidate_id: str) -> str:
    """The PNG's file name for a candidate, relative to report.md."""
    return f"load-{candidate_id}.png"


def _draw(report: Report, candidate: CandidateResult, dest: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    from matplotlib import pyplot

    pods = sorted(candidate.load)
    counts = [candidate.load[p] for p in pods]
    mean = sum(counts) / len(counts) if counts else 0.0
    figure, axes = pyplot.subplots(figsize=(max(4.0, 0.8 * len(pods) + 2), 3.2))
    try:
        axes.bar(range(len(pods)), counts, color="#4c72b0")
        axes.axhline(mean, color="#c44e52", linestyle="--", linewidth=1, label=f"mean {mean:.1f}")
        axes.set_xticks(range(len(pods)))
        axes.set_xticklabels([p.rsplit("-", 1)[-1] for p in pods], rotation=0)
        axes.set_ylabel("page requests")
        axes.set_title(f"{candidate.id}: load per pod ({report.backend}, {report.data_plane})")
        axes.legend(loc="best", framealpha=0.9)
        figure.tight_layout()
        figure.savefig(dest, dpi=90)
    finally:
        pyplot.close(figure)


def write(report: Report, folder: Path, stop: Callable[[], bool] | None = None) -> dict[str, str]:
    """Draw one PNG per measured candidate with a load into ``folder``.

    Args:
        report: the results.
        folder: where the PNGs go.
        stop: asked before each PNG; True ends the drawing there (Ctrl-C was pressed).

    Returns:
        Candidate id -> PNG file name (empty when matplotlib is missing).
    """
    if unavailable():
        return {}
    written: dict[str, str] = {}
    for candidate in report.candidates:
        if stop is not None and stop():
            break
        if candidate.status == MEASURED and candidate.load:
            name = file_name(candidate.id)
            _draw(report, candidate, folder / name)
            written[candidate.id] = name
    return written
