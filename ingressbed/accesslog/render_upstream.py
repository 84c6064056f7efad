"""Showing one backend of a production log: lines per backend, its pods, periods, and each
candidate's agreement with the picks the log shows, the actual load beside each one's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ingressbed.accesslog.agreement import Fit, ranked
from ingressbed.accesslog.render import Panel, draw_bars
from ingressbed.accesslog.upstreams import DEFAULT_BACKEND, Period, Seen

#: Backends listed by name (the rest are summed).
BACKENDS_SHOWN = 10


def backends(seen: Seen) -> list[str]:
    """Lines per backend, the selected ones marked, the default backend's said apart."""
    lines = [
        f"lines per backend ([$proxy_upstream_name]; * = selected by {seen.selector.pattern}):"
    ]
    ordered = seen.backends.most_common()
    for name, count in ordered[:BACKENDS_SHOWN]:
        mark = "*" if seen.selector(name) else " "
        note = (
            "  (404s of no Ingress rule: not a service's traffic)"
            if name == DEFAULT_BACKEND
            else ""
        )
        lines.append(f"  {mark} {count:>10,}  {name or '-'}{note}")
    rest = ordered[BACKENDS_SHOWN:]
    if rest:
        lines.append(f"    {sum(c for _, c in rest):>10,}  in {len(rest)} more backends")
    return lines


def pods(seen: Seen, spans: Sequence[Period], from_log: bool) -> list[str]:
    """The selected backend's pods with first and last sightings, and its periods."""
    lines = [
        f"{seen.requests:,} requests reached a pod (first attempt of $upstream_addr)"
        + (f", {seen.unplaced:,} did not" if seen.unplaced else ""),
        f"{'pod':<24}{'requests':>10}  {'first seen':<28}last seen",
    ]
    for pod in seen.sorted_pods():
        first = pod.first_time or f"line {pod.first_line}"
        last = pod.last_time or f"line {pod.last_line}"
        lines.append(f"{pod.endpoint!s:<24}{pod.requests:>10,}  {first:<28}{last}")
    if not from_log:
        lines.append("endpoints: --endpoints as given (one period)")
    elif len(spans) > 1:
        lines.append(f"{len(spans)} periods (a pod appeared or vanished):")
        for index, span in enumerate(spans, 1):
            lines.append(
                f"  #{index}: {span.end - span.start:,} requests on {len(span.endpoints)} pods: "
                + ", ".join(str(e) for e in span.endpoints)
            )
    else:
        lines.append("one period: the same pods throughout")
    return lines


def fits(found: Sequence[Fit], actual: Counter[str], *, which_key: bool) -> list[str]:
    """Agreement per candidate (best first with ``which_key``) and load per pod beside the log's."""
    shown = ranked(found) if which_key else list(found)
    width = max(len("candidate"), *(len(f.label) for f in shown)) + 2
    lines = [f"{'candidate':<{width}}{'agreement':>10}{'picks':>16}"]
    for fit in shown:
        lines.append(
            f"{fit.label:<{width}}{fit.agreement:>10.3f}{fit.agreed:>8,}/{fit.compared:<,}"
        )
    if which_key and shown:
        best = shown[0]
        runner = (
            f"; next best {shown[1].candidate} ({shown[1].agreement:.3f})" if len(shown) > 1 else ""
        )
        verdict = "the key in force" if best.agreement == 1.0 else "the best fit, not an exact one"
        lines += ["", f"{verdict}: {best.candidate} (agreement {best.agreement:.3f}){runner}"]
    hashing = [f for f in shown if f.predicted][:4]
    total = sum(actual.values()) or 1
    if hashing:
        lines += ["", "requests per pod: the log's and as each candidate predicts (share):"]
        head = f"{'pod':<24}{'log':>8}" + "".join(
            f"{'#' + str(i + 1):>8}" for i in range(len(hashing))
        )
        lines += ["  " + ", ".join(f"#{i + 1} {f.candidate}" for i, f in enumerate(hashing)), head]
        for pod in sorted(actual, key=lambda p: -actual[p]):
            row = f"{pod:<24}{actual[pod] / total:>8.3f}"
            row += "".join(f"{f.predicted.get(pod, 0) / (f.compared or 1):>8.3f}" for f in hashing)
            lines.append(row)
    return lines


def plot(found: Sequence[Fit], actual: Counter[str], dest: Path) -> Path:
    """Draw the log's requests per pod and, beside it, each hashing candidate's prediction.

    Args:
        found: the fits (the best four hashing ones are drawn).
        actual: the log's first attempts per pod.
        dest: the PNG's path.

    Returns:
        ``dest``.

    Raises:
        ConfigError: matplotlib is missing, or the file cannot be written.
    """
    drawn = [f for f in ranked(found) if f.predicted][:4]
    order = sorted(actual, key=lambda p: -actual[p])
    total = sum(actual.values()) or 1
    panels = [Panel("the log", [actual[p] / total for p in order], color="#c44e52")]
    panels += [
        Panel(f"{f.candidate}\nagreement {f.agreement:.3f}",
              [f.predicted.get(p, 0) / (f.compared or 1) for p in order])
        for f in drawn
    ]  # fmt: skip
    return draw_bars(panels, dest, xlabel="pod (by the log's load)", ylabel="share of requests")


def moved(found: Sequence[Fit], spans: Sequence[Period]) -> list[str]:
    """Per real pod change, the share of the next period's requests each candidate moves."""
    hashing = [f for f in found if f.moved and f.predicted]
    if len(spans) < 2 or not hashing:
        return []
    lines = ["moved by the log's own pod changes (share of the next period's requests whose "
             "pod differs from the one the pods before would give):"]  # fmt: skip
    for index, span in enumerate(spans[1:]):
        size = span.end - span.start or 1
        shares = ", ".join(f"{f.candidate} {f.moved[index] / size:.3f}" for f in hashing)
        lines.append(f"  into period #{index + 2} ({len(span.endpoints)} pods): {shares}")
    return lines
