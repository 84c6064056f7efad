"""The scenario files docs/scenarios.md shows are the files in e2e/scenarios/, as they are.

A ``yaml`` block right after ``<!-- file: PATH -->`` must equal that file, so the doc's
examples cannot drift from the files the e2e suite runs (and the docs test explains).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "scenarios.md"
SHOWN = re.compile(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", re.S)
BLOCKS = SHOWN.findall(DOC.read_text())


def test_the_doc_shows_the_four_reports():
    assert [path for path, _ in BLOCKS] == [
        "e2e/scenarios/report-two-ingresses-hash-key.yaml",
        "e2e/scenarios/report-live-annotate-hash-key.yaml",
        "e2e/scenarios/report-regex-path-cookie.yaml",
        "e2e/scenarios/report-canary-cookie-affinity.yaml",
    ]


@pytest.mark.parametrize(("path", "shown"), BLOCKS, ids=[p for p, _ in BLOCKS])
def test_a_shown_file_is_the_file(path, shown):
    assert (REPO / path).read_text() == shown
