"""migration.md: the runs, the matrix per property, and what changes per data plane.

Pure: a ``Migration`` in, Markdown text out. Key properties (what a team planning its
move looks at first: cross-port affinity, cache hits, stickiness, spread, movement on
scale) get their tables first; every other property any run measured follows.
"""

from __future__ import annotations

from collections.abc import Mapping

from ingressbed.report.markdown import LEGEND, NOT_MEASURED, NOT_STATED, mark
from ingressbed.report.migration import ABSENT, Column, Migration
from ingressbed.report.migration_changes import NO_EQUIVALENT as NO_EQUIVALENT_CHANGE
from ingressbed.report.migration_changes import NOT_COMPARED, THRESHOLDS, threshold
from ingressbed.report.migration_planes import BASELINE, Rendering, about, target_lines
from ingressbed.report.results import MEASURED, NO_EQUIVALENT, CandidateResult

#: Properties shown first, in this order.
KEY_PROPERTIES = (
    "cross_port",
    "cache_hit_ratio",
    "client_stickiness",
    "url_stickiness",
    "spread_max_mean",
    "moved_on_scale",
)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def ordered_properties(migration: Migration) -> list[tuple[str, str, str]]:
    """Properties with a claim in some run: key properties first, then the others."""
    stated = {
        p.name
        for column in migration.columns
        for candidate in column.report.candidates
        if candidate.status == MEASURED
        for p in candidate.properties
    }
    known = [p for p in migration.properties() if p[0] in stated]
    rank = {name: i for i, name in enumerate(KEY_PROPERTIES)}
    return sorted(known, key=lambda p: rank.get(p[0], len(rank)))


def _status(result: CandidateResult | None) -> str:
    if result is None:
        return f"{NOT_MEASURED} absent"
    if result.status == NO_EQUIVALENT:
        return f"{NOT_STATED} {NO_EQUIVALENT}"
    if result.status != MEASURED:
        return f"{NOT_MEASURED} {result.status}"
    return "as expected" if result.ok else "**NOT as expected**"


def _figure(result: CandidateResult | None, name: str) -> str:
    if result is not None and result.status == NO_EQUIVALENT:
        return NOT_STATED
    if result is None or result.status != MEASURED:
        return NOT_MEASURED
    found = result.property(name)
    if found is None:
        return NOT_STATED
    if found.observed is None:
        return mark(found)
    return f"{found.observed:.3f} {mark(found)}"


def _header(migration: Migration, first: str) -> list[str]:
    titles = [c.label for c in migration.columns]
    return [f"| {first} | " + " | ".join(titles) + " |", "|---|" + "---|" * len(titles)]


def _runs(migration: Migration) -> list[str]:
    lines = [
        "| column | backend | data plane | versions | ran | as expected | not | no equivalent "
        "| skipped | errors | not run | run folder |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for column in migration.columns:
        report = column.report
        counts = report.counts()
        versions = ", ".join(f"{k} {v}" for k, v in report.versions.items()) or "unknown"
        lines.append(
            f"| {column.label} | {report.backend} | {report.data_plane} | {_cell(versions)} | "
            f"{report.started} → {report.finished} | {counts['passed']} | {counts['failed']} | "
            f"{counts[NO_EQUIVALENT]} | {counts['skipped']} | {counts['error']} | "
            f"{counts['not run']} | "
            f"`{_cell(column.source)}` |"
        )
    return lines


def _overview(migration: Migration) -> list[str]:
    lines = _header(migration, "candidate")
    for candidate, _ in migration.candidates():
        cells = [_status(migration.result(candidate, c)) for c in migration.columns]
        lines.append(f"| `{candidate}` | " + " | ".join(cells) + " |")
    return lines


def measured(migration: Migration) -> list[str]:
    """Candidates measured in at least one column (the rows of the property tables)."""
    return [
        candidate
        for candidate, _ in migration.candidates()
        if any(
            (r := migration.result(candidate, c)) is not None and r.status == MEASURED
            for c in migration.columns
        )
    ]


def _property_table(migration: Migration, name: str) -> list[str]:
    lines = _header(migration, "candidate")
    for candidate in measured(migration):
        cells = [_figure(migration.result(candidate, c), name) for c in migration.columns]
        lines.append(f"| `{candidate}` | " + " | ".join(cells) + " |")
    return lines


def _not_measured(migration: Migration) -> list[str]:
    """One line per candidate and reason: where it was not measured, and why."""
    lines = []
    for candidate, _ in migration.candidates():
        why: dict[str, list[str]] = {}
        for column in migration.columns:
            result = migration.result(candidate, column)
            if result is None:
                why.setdefault(f"{ABSENT} (not in the run's catalog)", []).append(column.label)
            elif result.status not in (MEASURED, NO_EQUIVALENT):
                reason = result.reason or "no reason given"
                why.setdefault(f"{result.status}: {reason}", []).append(column.label)
        lines += [f"- `{candidate}` on {', '.join(on)}: {text}" for text, on in why.items()]
    return lines


def _no_equivalent(migration: Migration) -> list[str]:
    """One line per candidate and reason where a plane's controller has nothing like it."""
    lines = []
    for candidate, _ in migration.candidates():
        why: dict[str, list[str]] = {}
        for column in migration.columns:
            result = migration.result(candidate, column)
            if result is not None and result.status == NO_EQUIVALENT:
                why.setdefault(result.reason or "no reason given", []).append(column.label)
        lines += [f"- `{candidate}` on {', '.join(on)}: {text}" for text, on in why.items()]
    return lines


def _renderings(migration: Migration, column: Column) -> list[tuple[str, Rendering]]:
    """Per candidate (in order), how ``column``'s plane renders it."""
    found = []
    for candidate, _ in migration.candidates():
        rendered = migration.rendering(candidate, column)
        if rendered is not None:
            found.append((candidate, rendered))
    return found


def _translations(rendered: list[tuple[str, Rendering]]) -> tuple[list[str], list[str]]:
    """Per candidate, the rendering in one line; and what the renderings change."""
    lines: list[str] = []
    notes: dict[str, None] = {}
    for candidate, found in rendered:
        if found.no_equivalent:
            lines.append(f"- `{candidate}`: {NOT_STATED} {NO_EQUIVALENT}: {found.no_equivalent}")
        elif found.problem:
            lines.append(f"- `{candidate}`: no translation: {found.problem}")
        else:
            lines.append(f"- `{candidate}`: {found.rendering}")
            notes.update(dict.fromkeys(found.notes))
    return lines, [f"- {note}" for note in notes]


def _targets(column: Column, rendered: list[tuple[str, Rendering]]) -> list[str]:
    """Per candidate with something to write: each controller's YAML and its notes."""
    lines: list[str] = []
    for candidate, found in rendered:
        if not found.targets:
            continue
        lines += [f"#### `{candidate}` on {column.label}", "", *target_lines(found)]
    return lines


def _section(migration: Migration, column: Column) -> list[str]:
    baseline = migration.baseline
    lines = [f"## Moving from {baseline.label} to {column.label}: what changes", ""]
    lines += [about(column.plane), ""]
    changes = migration.changes_for(column)
    found = [c for c in changes if c.kind not in (NOT_COMPARED, NO_EQUIVALENT_CHANGE)]
    skipped = [c for c in changes if c.kind == NOT_COMPARED]
    absent = [c for c in changes if c.kind == NO_EQUIVALENT_CHANGE]
    if found:
        lines += [f"Compared with {baseline.label}:", ""]
        lines += [f"- {c.text}" for c in found]
    else:
        lines.append(
            f"No figure differs from {baseline.label} by more than its threshold and the "
            f"baseline's bounds, and no expectation that held on {baseline.label} fails here."
        )
    if absent:
        lines += ["", f"No equivalent on {column.label} ({NOT_STATED}):", ""]
        lines += [f"- {c.text}" for c in absent]
    if skipped:
        lines += ["", "Not compared (measured on one side only):", ""]
        lines += [f"- {c.text}" for c in skipped]
    renderings = _renderings(migration, column)
    rendered, notes = _translations(renderings)
    if rendered and column.plane != BASELINE:
        lines += ["", f"How {column.plane} renders each candidate:", "", *rendered]
        if notes:
            lines += ["", "What these renderings change:", "", *notes]
        targets = _targets(column, renderings)
        if targets:
            lines += [
                "",
                f"### What to write instead on the controllers {column.plane} stands for",
                "",
                "Per candidate, YAML to apply as it is (each document says where it goes), "
                "then what it cannot say.",
                "",
                *targets,
            ]
    return [*lines, ""]


def _thresholds() -> list[str]:
    lines = ["| property | smallest change reported |", "|---|---|"]
    lines += [f"| `{name}` | {threshold(name):.2f} |" for name in THRESHOLDS]
    return lines


def render(
    migration: Migration, plots: Mapping[str, str] | None = None, plot_note: str = ""
) -> str:
    """migration.md for ``migration``.

    Args:
        migration: the merged runs.
        plots: property name -> PNG file name (relative to migration.md).
        plot_note: why there are no plots, when there are none.

    Returns:
        The Markdown text.
    """
    plots = plots or {}
    baseline = migration.baseline
    targets = ", ".join(c.label for c in migration.targets)
    lines = [f"# Migration report: {baseline.label} → {targets}", ""]
    lines.append(f"- made {migration.created} from {len(migration.columns)} catalog runs")
    if migration.baseline_found:
        lines.append(f"- baseline: **{baseline.label}**, the data plane being left")
    else:
        lines.append(
            f"- no ingress-nginx run among the inputs: every column is compared with the "
            f"first run given, **{baseline.label}**"
        )
    if plot_note:
        lines.append(f"- plots: {plot_note}")
    lines += ["", "## Runs", "", *_runs(migration), ""]
    lines += ["## Matrix", "", "Each candidate's verdict on each data plane:", ""]
    lines += [*_overview(migration), "", LEGEND, ""]
    for name, title, what in ordered_properties(migration):
        lines += [f"### {title}", "", f"_{_cell(what)}_ (`{name}`)", ""]
        lines += _property_table(migration, name)
        if name in plots:
            lines += ["", f"![{title} per candidate and data plane]({plots[name]})"]
        lines.append("")
    absent = _no_equivalent(migration)
    if absent:
        lines += [f"### No equivalent ({NOT_STATED})", "", *absent, ""]
    missing = _not_measured(migration)
    if missing:
        lines += ["### Not measured", "", *missing, ""]
    for column in migration.targets:
        lines += _section(migration, column)
    lines += [
        "## How differences are judged",
        "",
        "A figure counts as changed when it moves by at least the threshold below and lands "
        "outside the bounds the baseline's own verdict accepted; smaller moves are noise "
        "between runs (other pod addresses, other sampled clients). An expectation that held "
        "on the baseline and fails on the other plane is always listed.",
        "",
        *_thresholds(),
    ]
    return "\n".join(lines).rstrip() + "\n"
