"""The observation table of a verdict: what each step saw (pure; text out).

A step with few answers gets one row per answer (client, request, pod, port, status,
cache status); a step with many gets one summary row (how many clients, URLs and
pods, the statuses and cache statuses with their counts). Transport errors are listed
under the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ingressbed.evidence import Evidence
from ingressbed.scenario.spec import Scenario
from ingressbed.vocabulary import Observation

#: A step with at most this many answers gets one row per answer.
DETAIL_ROWS = 8
_HEADER = ("step", "#", "client", "request", "pod", "port", "status", "cache")
_WIDE = 44  # the request column is cut to this width


def _cut(text: str, width: int = _WIDE) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def counts(values: Iterable[str], limit: int = 3) -> str:
    """``200 ×40, 404 ×2`` (most common first, at most ``limit`` values)."""
    counted = Counter(values).most_common()
    shown = ", ".join(f"{v} ×{n}" for v, n in counted[:limit])
    return shown + (f", +{len(counted) - limit} more" if len(counted) > limit else "")


def _pods(observations: Sequence[Observation]) -> str:
    counted = Counter(o.pod or "(none)" for o in observations)
    if len(counted) <= 2:
        return counts(counted.elements(), 2)
    loads = counted.values()
    return f"{len(counted)} pods, {min(loads)}-{max(loads)} each"


def _rows(name: str, observations: Sequence[Observation]) -> list[tuple[str, ...]]:
    if len(observations) <= DETAIL_ROWS:
        return [
            (
                name,
                str(index),
                o.client or "-",
                _cut(f"{o.host}{o.key}"),
                o.pod or "(none)",
                str(o.port or "-"),
                str(o.status),
                o.cache_status or "-",
            )
            for index, o in enumerate(observations, start=1)
        ]
    clients = {o.client for o in observations}
    requests = {(o.host, o.key) for o in observations}
    client = (next(iter(clients)) or "-") if len(clients) == 1 else f"{len(clients)} clients"
    if len(requests) == 1:
        host, key = next(iter(requests))
        request = _cut(f"{host}{key}")
    else:
        request = f"{len(requests)} URLs"
    return [
        (
            name,
            f"×{len(observations)}",
            client,
            request,
            _pods(observations),
            counts((str(o.port or "-") for o in observations), 3),
            counts((str(o.status) for o in observations), 3),
            counts((o.cache_status or "-" for o in observations), 3),
        )
    ]


def render(scenario: Scenario, run: Evidence, indent: str = "  ") -> str:
    """The table of every step's observations (a mix step: one summary row), then the
    first transport errors."""
    rows: list[tuple[str, ...]] = [_HEADER]
    errors = [o for o in run.observations if o.error]
    for step in scenario.steps:
        if step.name in run.mixes:
            mixed = run.mixes[step.name].all()
            rows += _rows(step.name, mixed)
            errors += [o for o in mixed if o.error]
            continue
        rows += _rows(step.name, [o for o in run.observations if o.step == step.name])
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]
    for o in errors[:3]:
        lines.append(f"{indent}error in {o.step} ({o.host}{o.key}): {_cut(o.error, 160)}")
    if len(errors) > 3:
        lines.append(f"{indent}... {len(errors) - 3} more errors")
    return "\n".join(lines)
