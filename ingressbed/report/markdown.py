"""report.md: the catalog matrix as a table, then each candidate's expectations and reasons.

Pure: a ``Report`` in, Markdown text out.
"""

from __future__ import annotations

from collections.abc import Mapping

from ingressbed.report.migration_planes import rendering, target_lines
from ingressbed.report.results import (
    MEASURED,
    NO_EQUIVALENT,
    CandidateResult,
    PropertyResult,
    Report,
)

PASS, FAIL, NOT_STATED, NOT_MEASURED = "✓", "✗", "—", "·"
LEGEND = (
    f"{PASS} as expected · {FAIL} not as expected, or nothing to judge · "
    f"{NOT_STATED} no claim for this data plane, or no equivalent there (the reason is listed) · "
    f"{NOT_MEASURED} not measured"
)


def _cell(text: str) -> str:
    """Text safe inside a table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def mark(result: PropertyResult) -> str:
    """The symbol of an expectation's outcome."""
    if result.passed is None:
        return NOT_MEASURED
    return PASS if result.passed else FAIL


def _matrix_cell(result: PropertyResult | None) -> str:
    if result is None:
        return NOT_STATED
    if result.observed is None:
        return mark(result)
    return f"{_number(result.observed)} {mark(result)}"


def _status(candidate: CandidateResult) -> str:
    if candidate.status == NO_EQUIVALENT:
        return f"{NOT_STATED} {NO_EQUIVALENT}"
    if candidate.status != MEASURED:
        return candidate.status
    if candidate.ok:
        return "as expected"
    return "**NOT as expected**"


def _config(values: Mapping[str, str]) -> str:
    return ", ".join(f"`{k}: {v}`" for k, v in values.items()) or "none"


def matrix(report: Report) -> list[str]:
    """The matrix: one row per candidate, one column per property."""
    titles = [title for _, title, _ in report.properties]
    lines = [
        "| candidate | status | " + " | ".join(titles) + " |",
        "|---|---|" + "---|" * len(titles),
    ]
    for candidate in report.candidates:
        cells = [_matrix_cell(candidate.property(name)) for name, _, _ in report.properties]
        if candidate.status != MEASURED:
            cells = [NOT_STATED if candidate.status == NO_EQUIVALENT else NOT_MEASURED] * len(
                titles
            )
        lines.append(
            f"| [`{candidate.id}`](#{candidate.id}) | {_status(candidate)} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def _candidate_section(
    report: Report, candidate: CandidateResult, plot: str | None, plot_note: str
) -> list[str]:
    titles = {name: title for name, title, _ in report.properties}
    lines = [f"### {candidate.id}", "", candidate.intent, ""]
    if candidate.layout:
        lines.append(
            f"- routes `{candidate.layout}`, {candidate.replicas} replicas; annotations "
            f"{_config(candidate.annotations)}; controller {_config(candidate.controller)}"
        )
    if candidate.status == NO_EQUIVALENT:
        lines.append(f"- **{NOT_STATED} {NO_EQUIVALENT}**: {candidate.reason}")
        return [*lines, ""]
    if candidate.status == MEASURED:
        lines.append(f"- {candidate.requests:,} requests in {candidate.seconds:.1f} s")
        if candidate.errors:
            lines.append(f"- **{candidate.errors} requests failed**, e.g.:")
            lines += [f"  - `{example}`" for example in candidate.error_examples]
    else:
        lines.append(f"- **{candidate.status}**: {candidate.reason or 'no reason given'}")
    if candidate.plane and candidate.plane != report.data_plane:
        lines.append(
            f"- expectations on **{candidate.plane}** (the catalog states none for "
            f"{report.data_plane})"
        )
    lines += ["", "| expectation | expected | observed | | why |", "|---|---|---|---|---|"]
    for result in candidate.properties:
        observed = _number(result.observed)
        if result.detail and not (observed and result.detail.startswith(observed)):
            observed = f"{observed} ({result.detail})" if observed else result.detail
        elif result.detail:
            observed = result.detail  # the verdict's evidence already starts with the figure
        lines.append(
            f"| {titles.get(result.name, result.name)} | {_cell(result.expected)} | "
            f"{_cell(observed)} | {mark(result)} | {_cell(result.why)} |"
        )
    if candidate.load:
        loads = " · ".join(f"`{pod}` {count}" for pod, count in sorted(candidate.load.items()))
        lines += ["", f"Page requests per pod: {loads}"]
    if plot:
        lines += ["", f"![load per pod of {candidate.id}]({plot})"]
    elif candidate.status == MEASURED and plot_note:
        lines += ["", f"_Plot skipped: {plot_note}_"]
    found = rendering(candidate, report.data_plane)
    if found is not None and found.targets:
        head = f"What to write instead on the controllers {report.data_plane} stands for:"
        lines += ["", head, "", *target_lines(found)]
    return [*lines, ""]


def render(report: Report, plots: Mapping[str, str] | None = None, plot_note: str = "") -> str:
    """report.md for ``report``.

    Args:
        report: the results.
        plots: candidate id -> PNG file name (relative to report.md).
        plot_note: why there are no plots, when there are none.

    Returns:
        The Markdown text.
    """
    plots = plots or {}
    counts = report.counts()
    versions = " · ".join(f"{k} {v}" for k, v in report.versions.items()) or "unknown"
    lines = [
        f"# Catalog report: {report.backend} ({report.data_plane})",
        "",
        f"- backend **{report.backend}**, data plane **{report.data_plane}**; versions: {versions}",
        f"- catalog `{report.catalog}`; run {report.started} → {report.finished}",
        f"- {counts['passed']} candidates as expected, {counts['failed']} not, "
        f"{counts[NO_EQUIVALENT]} with no equivalent, {counts['skipped']} skipped, "
        f"{counts['error']} errors, {counts['not run']} not run",
    ]
    if plot_note:
        lines.append(f"- plots: {plot_note}")
    lines += ["", "## Matrix", "", *matrix(report), "", LEGEND, ""]
    missing = [c for c in report.candidates if c.status == NO_EQUIVALENT]
    if missing:
        lines += [f"No equivalent on {report.data_plane} ({NOT_STATED}):", ""]
        lines += [f"- `{c.id}`: {c.reason}" for c in missing]
        lines.append("")
    skipped = [c for c in report.candidates if c.status not in (MEASURED, NO_EQUIVALENT)]
    if skipped:
        lines += ["Not measured on this backend:", ""]
        lines += [f"- `{c.id}` ({c.status}): {c.reason}" for c in skipped]
        lines.append("")
    lines += ["## Properties", "", "| property | what it is |", "|---|---|"]
    lines += [f"| {title} | {_cell(what)} |" for _, title, what in report.properties]
    lines += ["", "## Candidates", ""]
    for candidate in report.candidates:
        lines += _candidate_section(report, candidate, plots.get(candidate.id), plot_note)
    return "\n".join(lines).rstrip() + "\n"
