"""Run every benchmark in bench/ one after another and print their figures.

python bench/run_all.py            # all
python bench/run_all.py probe e2e  # some, by name (bench_<name>.py)

Registered: every bench_<name>.py here (placement, probe, hellogo, e2e, accesslog, ...).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    status = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        status |= subprocess.run([sys.executable, str(script)], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
