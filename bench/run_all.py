"""Run every benchmark in bench/ one after another, then print the summary table.

python bench/run_all.py            # all (what `tox -e bench` runs)
python bench/run_all.py probe e2e  # some, by name (bench_<name>.py)

Registered: every bench_<name>.py here (placement, probe, hellogo, e2e, accesslog, ...).
Each benchmark records its figures with the baseline measured in the same run
(bench/summary.py); the table at the end names the date, the machine and the command, and
is what README.md shows.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(rows: list[dict[str, object]], command: str) -> str:
    def shown(value: float, unit: str) -> str:
        if unit == "s":
            return f"{value:.1f} s"
        return f"{value:,.0f} {unit}"

    lines = [
        f"`{command}` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu_model()}), "
        f"Python {platform.python_version()}:",
        "",
        "| benchmark | figure | baseline (same run) | ratio |",
        "|---|---|---|---|",
    ]
    for row in rows:
        value, base = float(row["value"]), float(row["baseline_value"])  # type: ignore[arg-type]
        unit = str(row["unit"])
        lines.append(
            f"| {row['bench']}: {row['figure']} | {shown(value, unit)} | "
            f"{row['baseline']}: {shown(base, unit)} | {value / base:.2f} |"
        )
    return "\n".join(lines)


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    status = 0
    with tempfile.TemporaryDirectory(prefix="ingressbed-bench-") as folder:
        summary = Path(folder) / "summary.jsonl"
        env = {**os.environ, "INGRESSBED_BENCH_SUMMARY": str(summary)}
        for script in scripts:
            print(f"\n=== {script.stem} ===", flush=True)
            status |= subprocess.run([sys.executable, str(script)], check=False, env=env).returncode
        rows = (
            [json.loads(line) for line in summary.read_text().splitlines()]
            if summary.exists()
            else []
        )
    command = "tox -e bench" + (f" -- {' '.join(names)}" if names else "")
    print("\n=== summary ===\n" + table(rows, command), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
