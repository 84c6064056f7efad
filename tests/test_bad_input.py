"""Every row of docs/bad-input.md, run: the one line on stderr, the exit status, nothing left.

A row's command may start with ``VAR=value`` (set for that row); a row with exit status 0
is a warning: its line goes to stderr while the answer goes to stdout.

The table is parsed from the doc itself, so the doc and the behaviour cannot drift apart.
"""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from ingressbed.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "bad-input.md"
ROW = re.compile(r"^\| (\d+) \| (?:`(.*?)`)? \| `(.+?)` \| `(.+)` \| (\d+) \|$")


def rows() -> list[tuple[int, str, str, str, int]]:
    found = []
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            number, stdin, command, seen, status = match.groups()
            text = (stdin or "").replace("\\n", "\n")  # a \n in the stdin column is a newline
            found.append((int(number), text, command, seen, int(status)))
        else:
            assert not re.match(r"^\| \d+ \|", line), f"a table row the test cannot read: {line}"
    return found


ROWS = rows()


def test_the_table_has_at_least_thirty_numbered_rows():
    assert len(ROWS) >= 30
    assert [r[0] for r in ROWS] == list(range(1, len(ROWS) + 1))


@pytest.mark.parametrize(("number", "stdin", "command", "seen", "status"), ROWS, ids=[
    f"row{r[0]}" for r in ROWS
])  # fmt: skip
def test_row(number, stdin, command, seen, status, tmp_path, monkeypatch, capsys):
    argv = shlex.split(command)
    while re.fullmatch(r"[A-Z][A-Z0-9_]*=.*", argv[0]):  # VAR=value before the command
        name, _, value = argv.pop(0).partition("=")
        monkeypatch.setenv(name, value)
    assert argv[0] == "ingressbed"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin + "\n" if stdin else ""))
    try:
        got = main(argv[1:])
    except SystemExit as exc:  # argparse's usage errors
        got = exc.code
    out, err = capsys.readouterr()
    assert err.splitlines() == [seen], f"row {number}"
    assert got == status, f"row {number}"
    if status != 0:  # a warning row (exit 0) prints its answer too
        assert out == "", f"row {number}: nothing on stdout"
    assert list(tmp_path.iterdir()) == [], f"row {number} left files behind"
