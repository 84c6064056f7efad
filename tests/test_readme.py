"""README's two commands stay true: CI runs exactly README's test command."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line for block in blocks[:2] for line in block.splitlines() if not line.startswith("#")]


def test_readme_leads_with_the_main_job_and_the_tests():
    main_job, tests = commands()
    assert main_job.endswith("tox -e e2e")
    assert "tox -e" in tests


def test_ci_runs_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert commands()[1] in ci


def test_tox_has_the_envs_readme_names():
    tox = (REPO / "tox.ini").read_text()
    for env in ("py", "local", "e2e", "lint", "bench"):
        assert f"[testenv:{env}]" in tox or (env == "py" and "[testenv]" in tox)
