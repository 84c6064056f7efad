"""Docs, docstrings and comments cite only files that are in the repository.

A reader of a clone has nothing else: design notes and fact sheets kept outside the
repository are put into docs/ in the project's own words, and cited there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent
#: Names of notes that live outside the repository; citing them leaves a reader stranded.
#: (../shared/upstream is data the schema tests read, not a note.)
OUTSIDE = re.compile(
    r"DESIGN\.md|\.\./shared/(?!upstream)|shared/docs|ingress-nginx-facts\.md|haproxy-facts\.md"
)
#: ``docs/<name>.md`` references, checked to exist.
DOC_LINK = re.compile(r"\bdocs/([A-Za-z0-9_.-]+\.md)")


def tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [
        REPO / name
        for name in listed
        if name.endswith((".py", ".md", ".yaml", ".yml", ".toml", ".ini"))
    ]


def test_nothing_cites_notes_kept_outside_the_repository():
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in tracked()
        if path.name != "test_docs_cite.py"
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_every_cited_doc_exists():
    missing = [
        f"{path.relative_to(REPO)}:{number}: docs/{name}"
        for path in tracked()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        for name in DOC_LINK.findall(line)
        if not (REPO / "docs" / name).is_file()
    ]
    assert not missing, "\n".join(missing)
