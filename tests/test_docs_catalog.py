"""docs/catalog.md's re-render command finds the last catalog run, whatever lies beside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

DOC = Path(__file__).resolve().parent.parent / "docs" / "catalog.md"


def test_the_rerender_command_picks_the_last_run_folder_not_a_matrix_or_migration(tmp_path):
    line = next(ln for ln in DOC.read_text().splitlines() if "re-render the last run" in ln)
    picker = re.search(r'"\$\((.*)\)"', line)
    assert picker, line
    reports = tmp_path / "reports"
    for name in (
        "20260101-120000",
        "20260102-090000",  # the last run
        "matrix-20260102-100000",  # left by the README's test command (tox -e matrix)
        "migration-20260102-110000",
        "bring-up-1a2b3c",
    ):
        (reports / name).mkdir(parents=True)
    done = subprocess.run(
        ["bash", "-c", picker.group(1)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "reports/20260102-090000/"
