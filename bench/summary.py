"""One row per figure for the summary table ``run_all.py`` prints (and README shows).

Every figure is recorded beside its baseline measured in the same run, so a row never
carries a figure without what it is compared with. ``run_all.py`` sets
``INGRESSBED_BENCH_SUMMARY`` to a file; each benchmark appends JSON lines there. Run on its
own, a benchmark records nothing.
"""

from __future__ import annotations

import json
import os


def record(
    bench: str, figure: str, value: float, unit: str, baseline: str, baseline_value: float
) -> None:
    """Record ``figure`` = ``value`` ``unit`` against ``baseline`` = ``baseline_value``."""
    path = os.environ.get("INGRESSBED_BENCH_SUMMARY")
    if not path:
        return
    row = {
        "bench": bench,
        "figure": figure,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": baseline_value,
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
