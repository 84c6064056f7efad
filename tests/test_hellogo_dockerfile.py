"""Invariants of hellogo/Dockerfile (no image can be built here, so read the file)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import websockets.version

HELLOGO = Path(__file__).resolve().parents[1] / "hellogo"


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (HELLOGO / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    pairs = []
    for line in logical.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def args_of(instructions, keyword: str) -> list[str]:
    return [rest for kw, rest in instructions if kw == keyword]


def test_single_base_image_pinned_by_digest(instructions):
    [base] = args_of(instructions, "FROM")
    assert re.fullmatch(r"python:3\.\d+(\.\d+)?-slim(-\w+)?@sha256:[0-9a-f]{64}", base)


def test_runs_as_numeric_non_root_user(instructions):
    users = args_of(instructions, "USER")
    assert users, "no USER instruction"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert gid == "" or (gid.isdigit() and int(gid) != 0)
    last_user = max(i for i, (kw, _) in enumerate(instructions) if kw == "USER")
    assert all(kw not in {"RUN", "COPY", "ADD"} for kw, _ in instructions[last_user:])


def test_installs_only_websockets_at_the_tested_version(instructions):
    installs = [run for run in args_of(instructions, "RUN") if "pip" in run and "install" in run]
    assert len(installs) == 1
    words = shlex.split(installs[0])
    packages = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
    assert packages == [f"websockets=={websockets.version.version}"]
    assert all("apt-get" not in run for run in args_of(instructions, "RUN"))


def test_ports_and_command(instructions):
    assert args_of(instructions, "EXPOSE") == ["8080 9090 8081"]
    assert args_of(instructions, "CMD") == ['["python", "-m", "hellogo"]']
    assert not args_of(instructions, "ENTRYPOINT")


def test_copies_the_package_and_the_context_is_said(instructions):
    assert any(rest.endswith("/hellogo/") for rest in args_of(instructions, "COPY"))
    text = (HELLOGO / "Dockerfile").read_text()
    assert "Build context: the hellogo/ folder" in text
    ignored = (HELLOGO / ".dockerignore").read_text().split()
    assert "**/__pycache__" in ignored and "Dockerfile" in ignored
