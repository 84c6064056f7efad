"""Optional PNGs of the migration matrix: one grid per key property (the ``plots`` extra).

Each PNG is a grid, candidates down, data planes across, each square coloured by the
figure and labelled with it and its verdict (blank: not measured or no claim).
matplotlib is imported only when drawing; without it nothing is drawn and
``plots.unavailable()`` says why.
"""

from __future__ import annotations

from pathlib import Path

from ingressbed.report import plots
from ingressbed.report.markdown import mark
from ingressbed.report.migration import Migration
from ingressbed.report.migration_markdown import KEY_PROPERTIES, ordered_properties
from ingressbed.report.results import MEASURED


def file_name(name: str) -> str:
    """The PNG's file name for property ``name``, relative to migration.md."""
    return f"migration-{name}.png"


def _grid(
    migration: Migration, name: str
) -> tuple[list[str], list[list[float | None]], list[list[str]]]:
    """Candidate ids, figures (None: none) and labels, one row per candidate."""
    rows, values, labels = [], [], []
    for candidate, _ in migration.candidates():
        row: list[float | None] = []
        texts: list[str] = []
        for column in migration.columns:
            result = migration.result(candidate, column)
            found = None
            if result is not None and result.status == MEASURED:
                found = result.property(name)
            if found is None or found.observed is None:
                row.append(None)
                texts.append("" if found is None else mark(found))
            else:
                row.append(found.observed)
                texts.append(f"{found.observed:.2f} {mark(found)}")
        if any(v is not None for v in row) or any(texts):
            rows.append(candidate)
            values.append(row)
            labels.append(texts)
    return rows, values, labels


def _draw(migration: Migration, name: str, title: str, dest: Path) -> bool:
    rows, values, labels = _grid(migration, name)
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    from matplotlib import pyplot

    columns = [c.label for c in migration.columns]
    figures = [v for row in values for v in row if v is not None]
    top = max([1.0, *figures])
    grid = [[float("nan") if v is None else v for v in row] for row in values]
    width = max(5.0, 1.9 * len(columns) + 2.5)
    figure, axes = pyplot.subplots(figsize=(width, 0.42 * len(rows) + 1.6))
    try:
        image = axes.imshow(grid, cmap="viridis", vmin=0.0, vmax=top, aspect="auto")
        for y, texts in enumerate(labels):
            for x, text in enumerate(texts):
                value = values[y][x]
                dark = value is not None and value < 0.6 * top
                axes.text(x, y, text, ha="center", va="center", color="white" if dark else "black")
        axes.set_xticks(range(len(columns)))
        axes.set_xticklabels(columns)
        axes.set_yticks(range(len(rows)))
        axes.set_yticklabels(rows)
        axes.set_title(f"{title} per candidate and data plane")
        figure.colorbar(image, ax=axes, fraction=0.04)
        figure.tight_layout()
        figure.savefig(dest, dpi=90)
    finally:
        pyplot.close(figure)
    return True


def write(migration: Migration, folder: Path) -> dict[str, str]:
    """Draw one PNG per key property with a figure into ``folder``.

    Returns:
        Property name -> PNG file name (empty when matplotlib is missing).
    """
    if plots.unavailable():
        return {}
    written: dict[str, str] = {}
    for name, title, _ in ordered_properties(migration):
        if name in KEY_PROPERTIES and _draw(migration, name, title, folder / file_name(name)):
            written[name] = file_name(name)
    return written
