"""docs/accesslog.md: every console command runs as shown and prints what is shown.

Commands are run from the repository's root with bash, ``.venv/bin/`` pointing at the
running interpreter's folder and ``/tmp/`` at a fresh folder. The shown output must equal
stdout (stderr for a command that fails), except the replay's elapsed seconds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "accesslog.md"
SECONDS = re.compile(r" in \d+\.\d s$", re.M)


def console_blocks(text: str) -> list[tuple[str, str]]:
    """(command, shown output) pairs of the ```console blocks, in order."""
    pairs: list[tuple[str, str]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        command: list[str] = []
        output: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    pairs.append(("\n".join(command), "\n".join(output)))
                command, output = [line[2:]], []
            elif command and (command[-1].endswith(("\\", "|"))) and not output:
                command.append(line)
            else:
                output.append(line)
        pairs.append(("\n".join(command), "\n".join(output)))
    return pairs


def test_every_command_of_the_walk_through_prints_what_the_page_shows(tmp_path):
    pairs = console_blocks(DOC.read_text())
    assert len(pairs) >= 6
    bindir = str(Path(sys.executable).parent) + "/"
    for command, shown in pairs:
        ran = subprocess.run(
            [
                "bash",
                "-c",
                "set -o pipefail; "
                + command.replace(".venv/bin/", bindir).replace("/tmp/", f"{tmp_path}/"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        got = ran.stdout if ran.returncode == 0 else ran.stderr
        expected = shown.replace("/tmp/", f"{tmp_path}/")
        assert SECONDS.sub(" in N s", got.rstrip("\n")) == SECONDS.sub(" in N s", expected), command
        assert (ran.returncode == 0) == (not got.startswith("ingressbed: error:")), command
