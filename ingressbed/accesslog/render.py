"""Showing an access-log analysis: the text table, and the PNG of load per pod.

matplotlib is imported only inside ``plot`` (the ``plots`` extra); without it ``plot``
raises one ``ConfigError`` saying how to install it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingressbed.accesslog.results import CandidateResult, Result
from ingressbed.errors import ConfigError

PLOTS_HINT = "--plot needs matplotlib: pip install 'ingressbed[plots]'"


def _pair(first: float | None, second: float | None) -> str:
    def one(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    return f"{one(first)}/{one(second)}"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _summary(candidates: list[CandidateResult]) -> list[str]:
    width = max(len("candidate"), *(len(c.label) for c in candidates)) + 2
    lines = [
        f"{'candidate':<{width}}{'max/mean':>9}{'cache hit':>11}"
        f"{'keys moved +1/-1':>19}{'requests moved +1/-1':>23}"
    ]
    for c in candidates:
        moved = c.moved
        missing = "\u2014" if c.moved_unknown else "-"  # not exact vs not hashing
        keys = missing if moved is None else _pair(moved.keys_on_add, moved.keys_on_remove)
        reqs = missing if moved is None else _pair(moved.requests_on_add, moved.requests_on_remove)
        lines.append(
            f"{c.label:<{width}}{c.max_over_mean:>9.3f}{c.cache_hit_ratio:>11.3f}"
            f"{keys:>19}{reqs:>23}"
        )
    translated = [c for c in candidates if c.translation]
    if translated:
        lines += ["", "as the data planes render them (docs/translation.md):"]
        lines += [f"  {c.label}: {c.translation}" for c in translated]
    lines += [f"\u2014: {c.moved_unknown}" for c in candidates if c.moved_unknown]
    return lines


def _pods(result: Result) -> list[str]:
    width = max(len("endpoint"), *(len(e) for e in result.endpoints)) + 2
    head = f"{'endpoint':<{width}}"
    sub = " " * width
    for index in range(len(result.candidates)):
        head += f"{'#' + str(index + 1):>26}"
        sub += f"{'requests':>12}{'share':>7}{'hit':>7}"
    lines = [head, sub]
    for row, endpoint in enumerate(result.endpoints):
        line = f"{endpoint:<{width}}"
        for c in result.candidates:
            pod = c.pods[row]
            hit = "-" if pod.hit_ratio is None else f"{pod.hit_ratio:.3f}"
            line += f"{pod.requests:>12,}{pod.share:>7.3f}{hit:>7}"
        lines.append(line)
    return lines


def text(result: Result) -> str:
    """The analysis as a plain-text report.

    Args:
        result: from ``Simulation.result``.

    Returns:
        Header lines, the candidate table, requests per pod per candidate, the hottest
        keys of each hashing candidate and the first skipped lines.
    """
    settings = result.settings
    lines = [
        f"{result.requests:,} requests ({result.skipped:,} lines skipped) over "
        f"{_duration(result.seconds)}, {result.distinct_pages:,} distinct pages, "
        f"log format {settings.get('log_format')}",
        f"{len(result.endpoints)} endpoints; one page cache per pod: TTL "
        f"{settings.get('cache_ttl'):g} s, at most {settings.get('cache_entries'):,} pages",
        "",
    ]
    left_out = settings.get("default_backend_lines")
    if left_out:
        lines[-1:-1] = [
            f"{left_out:,} upstream-default-backend lines (404s of no Ingress rule) left out; "
            "--upstream upstream-default-backend analyses them"
        ]
    lines += _summary(result.candidates)
    lines += ["", "requests per pod, share and cache hit ratio, per candidate:"]
    lines += [f"  #{i + 1} {c.label}" for i, c in enumerate(result.candidates)]
    lines += _pods(result)
    for c in result.candidates:
        if not c.hottest:
            continue
        lines += ["", f"hottest keys of {c.label} ({c.distinct_keys:,} distinct):"]
        lines.append(f"{'requests':>10}{'share':>7}  {'endpoint':<22}key")
        for hot in c.hottest:
            key = hot.key if len(hot.key) <= 60 else hot.key[:57] + "..."
            lines.append(f"{hot.requests:>10,}{hot.share:>7.3f}  {hot.endpoint:<22}{key}")
        if c.round_robin_requests:
            lines.append(f"{c.round_robin_requests:,} requests had an empty key (round robin)")
    if result.skipped_examples:
        lines += ["", f"skipped {result.skipped:,} lines that did not parse; the first:"]
        lines += [f"  line {s.line}: {s.reason}: {s.text}" for s in result.skipped_examples]
    return "\n".join(lines)


def plot_unavailable() -> str | None:
    """Why ``plot`` cannot draw (None when matplotlib is installed)."""
    return PLOTS_HINT if importlib.util.find_spec("matplotlib") is None else None


def plot(result: Result, dest: Path) -> Path:
    """Draw requests per pod, one panel per candidate, into a PNG.

    Args:
        result: the analysis.
        dest: the PNG's path.

    Returns:
        ``dest``.

    Raises:
        ConfigError: matplotlib is missing, or the file cannot be written.
    """
    panels = [
        Panel(
            f"{c.label}\nmax/mean {c.max_over_mean:.2f}, cache hit {c.cache_hit_ratio:.2f}",
            [p.share for p in c.pods],
        )
        for c in result.candidates
    ]
    return draw_bars(
        panels,
        dest,
        xlabel="pod (endpoint order)",
        ylabel="share of requests (dashed: even)",
        even=1 / len(result.endpoints),
    )


@dataclass(frozen=True)
class Panel:
    """One panel of ``draw_bars``: its title and a bar per pod."""

    title: str
    shares: Sequence[float]
    color: str = "#4c72b0"


def draw_bars(
    panels: Sequence[Panel], dest: Path, *, xlabel: str, ylabel: str, even: float | None = None
) -> Path:
    """Draw ``panels`` side by side (one bar per pod, pods numbered from 1) into a PNG.

    Args:
        panels: what to draw; every panel has the same pods.
        dest: the PNG's path.
        xlabel: the pods' axis label.
        ylabel: the shared share axis label.
        even: where to draw a dashed line (an even share), if anywhere.

    Returns:
        ``dest``.

    Raises:
        ConfigError: matplotlib is missing, or the file cannot be written.
    """
    why = plot_unavailable()
    if why:
        raise ConfigError(why)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    pods = len(panels[0].shares) if panels else 0
    figure, axes = pyplot.subplots(
        1, len(panels), figsize=(1.5 + len(panels) * max(2.6, 0.45 * pods), 3.4),
        sharey=True, squeeze=False,
    )  # fmt: skip
    try:
        for axis, panel in zip(axes[0], panels, strict=True):
            axis.bar(range(pods), panel.shares, color=panel.color)
            if even is not None:
                axis.axhline(even, color="#c44e52", linestyle="--", linewidth=1)
            axis.set_xticks(range(pods))
            axis.set_xticklabels([str(i + 1) for i in range(pods)])
            axis.set_xlabel(xlabel)
            axis.set_title(panel.title.replace("$", r"\$"), fontsize=8)  # not mathtext
        axes[0][0].set_ylabel(ylabel)
        figure.tight_layout()
        try:
            figure.savefig(dest, dpi=90)
        except OSError as exc:
            raise ConfigError(f"--plot {dest}: {exc.strerror or exc}") from exc
    finally:
        pyplot.close(figure)
    return dest
