"""Every shell block in README.md and docs/*.md runs as a user would copy it.

Blocks are found with pytest-codeblocks' Markdown reader (``extract_from_file``): it is
small, maintained, knows fenced blocks and ``<!--pytest.mark...-->`` comments before
them, and we need only its reader, not its runner (which runs in the current folder and
cannot compare the output of single commands). The ``bash``/``sh``/``console`` blocks of
one document run in order (a walk-through builds on its earlier steps) in a fresh
temporary folder holding a copy of the repository's tracked files, with
``.venv`` linked from this checkout, as after README's set-up commands (and tox's work
folder set to ``.tox/docs-copies``, environments the copies share and nothing else uses),
on the local backend (``INGRESSBED_BACKEND=local``) and with a plain system ``PATH``
(no virtualenv of the test run leaks in: a bare ``pytest`` is what a user would get).

- ``bash``/``sh``: the whole block runs with ``bash -e -o pipefail``; exit status 0.
- ``console``: ``$ `` lines are commands (a line ending in ``\\`` or ``|`` continues),
  the lines after a command are its expected output; each command must exit 0, or the
  status its last line names with a trailing ``# exit N`` (for a doc that shows an
  error), and where output is shown, print it: a ``...`` line stands for any number of
  lines, ``...`` inside a line for any text (a time, a temporary name).

A block that needs what this machine cannot give is marked just before it with
``<!--pytest.mark.docs_need("kind")-->`` (or ``"cluster"``, ``"docker"``), and ``"itself"`` for
README's CI command, which is what runs this test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELLS = ("bash", "sh", "console")
NEEDS = re.compile(r'pytest\.mark\.docs_need\("([a-z-]+)"\)')
ALLOWED_NEEDS = {
    "kind": "needs kind (no container registry here)",
    "cluster": "needs a Kubernetes cluster",
    "docker": "needs a Docker daemon",
    "itself": "this is the CI command that runs this test",
}
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 600


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    syntax: str
    code: str
    expected: str | None
    needs: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def blocks() -> list[Block]:
    out = []
    for doc in DOCS:
        for found in extract_from_file(doc):
            if found.syntax not in SHELLS:
                continue
            needs = tuple(n for mark in found.marks for n in NEEDS.findall(mark))
            out.append(
                Block(doc, found.lineno, found.syntax, found.code, found.expected_output, needs)
            )
    return out


@dataclass(frozen=True)
class Command:
    text: str
    expected: list[str]

    @property
    def status(self) -> int:
        """The exit status the doc promises: ``# exit N`` at the end, else 0."""
        found = re.search(r"#\s*exit\s+(\d+)\s*$", self.text)
        return int(found.group(1)) if found else 0


def console_commands(code: str) -> list[Command]:
    """``$ `` commands of a console block and the output lines shown after each."""
    commands: list[Command] = []
    lines = code.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise AssertionError(f"console block: output before any command: {lines[i]!r}")
        text = [lines[i][2:]]
        while text[-1].rstrip().endswith(("\\", "|")) and i + 1 < len(lines):
            i += 1
            text.append(lines[i])
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i].rstrip())
            i += 1
        commands.append(Command("\n".join(text), expected))
    return commands


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` lines in order; a ``...`` line matches any number of lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(matches(rest, actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and same_line(head, actual[0].rstrip()) and matches(rest, actual[1:])


def same_line(expected: str, actual: str) -> bool:
    """Equal, where ``...`` in ``expected`` stands for any text."""
    if "..." not in expected:
        return expected == actual
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    venv = REPO / ".venv"
    # Both must be there: README's `bash scripts/bootstrap`, run in the copy through the
    # linked .venv, would otherwise reinstall ingressbed from the copy, which is deleted after.
    missing = [t for t in ("ingressbed", "tox") if not (venv / "bin" / t).exists()]
    if missing:
        pytest.fail(f"no .venv/bin/{' or '.join(missing)}: run `bash scripts/bootstrap` first")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    root = tmp_path / "clone"
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (root / ".venv").symlink_to(venv)
    TOX_WORK.mkdir(parents=True, exist_ok=True)
    _drop_broken_envs(TOX_WORK)
    return root


#: tox environments of the copies' own (``TOX_WORK_DIR``), kept between runs: a copy sharing
#: this checkout's .tox would rebuild its package from the copy's path, and a tox run of this
#: checkout going on at the same time (CI's) would then install a package of a deleted folder.
#: Reached by this path, not through a link in the copy: a virtualenv's scripts name their
#: interpreter by the path it was made at, and a copy's folder is deleted a few runs later.
TOX_WORK = REPO / ".tox" / "docs-copies"


def _drop_broken_envs(work: Path) -> None:
    """Remove environments under ``work`` whose scripts name an interpreter that is gone
    (made through a copy's folder by an earlier version of this test)."""
    for env in work.iterdir():
        scripts = [s for s in (env / "bin").glob("*") if s.is_file() and not s.is_symlink()]
        for script in scripts:
            with script.open("rb") as f:
                first = f.readline(4096)
            if first.startswith(b"#!/") and b"/bin/python" in first:
                interpreter = first[2:].split()[0].decode(errors="replace")
                if not Path(interpreter).exists():
                    shutil.rmtree(env, ignore_errors=True)
                break


#: What a user's shell has that the commands may need: the machine's network set-up (a
#: proxy, its CA certificates, pip's and uv's index settings) passes; the rest does not.
KEEP = {"HOME", "LANG", "LC_ALL", "TERM", "USER", "LOGNAME", "TMPDIR", "CI"}
NETWORK = re.compile(
    r"(SSL_CERT_(FILE|DIR)|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|PIP_.*|UV_.*)"
)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEEP or NETWORK.fullmatch(k)}
    env.update(PATH=SYSTEM_PATH, INGRESSBED_BACKEND="local", TOX_WORK_DIR=str(TOX_WORK))
    return env


def run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def check_console(block: Block, cwd: Path) -> None:
    commands = console_commands(block.code)
    script = "set +e\n"
    for n, command in enumerate(commands):
        # stdout and stderr together, as a terminal shows them
        script += f"printf '@@cmd {n}@@\\n'\n{{\n{command.text}\n}} 2>&1\n"
        script += f"printf '\\n@@rc {n} %d@@\\n' $?\n"
    done = run(script, cwd)
    outputs = re.split(r"@@cmd \d+@@\n", done.stdout)[1:]
    assert len(outputs) == len(commands), f"{block.id}: the block stopped early:\n{done.stderr}"
    for command, output in zip(commands, outputs, strict=True):
        body, _, status = output.rpartition("@@rc ")
        code = int(status.split()[1].rstrip("@"))
        assert code == command.status, (
            f"{block.id}: `{command.text}` exited {code}, not {command.status}:\n{body}\n"
            f"{done.stderr}"
        )
        if command.expected:
            actual = [line.rstrip() for line in body.rstrip("\n").splitlines()]
            assert matches(command.expected, actual), (
                f"{block.id}: `{command.text}` printed:\n"
                + "\n".join(actual)
                + "\nbut the doc shows:\n"
                + "\n".join(command.expected)
            )


ALL = blocks()


def test_every_shell_block_is_found_and_every_need_is_known():
    assert len(ALL) >= 5
    unknown = [(b.id, n) for b in ALL for n in b.needs if n not in ALLOWED_NEEDS]
    assert not unknown, f"docs_need names one of {sorted(ALLOWED_NEEDS)}: {unknown}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(REPO)))
def test_the_doc_works_when_copied(doc: Path, workdir: Path):
    for block in [b for b in ALL if b.doc == doc and not b.needs]:
        check_block(block, workdir)


def check_block(block: Block, workdir: Path) -> None:
    if block.syntax == "console":
        check_console(block, workdir)
        return
    done = run(block.code, workdir)
    assert done.returncode == 0, (
        f"{block.id} exited {done.returncode}:\n{block.code}\n--- stdout\n{done.stdout[-3000:]}"
        f"\n--- stderr\n{done.stderr[-3000:]}"
    )
    if block.expected is not None:
        assert matches(block.expected.splitlines(), done.stdout.rstrip("\n").splitlines()), (
            f"{block.id} printed:\n{done.stdout}\nbut the doc shows:\n{block.expected}"
        )
