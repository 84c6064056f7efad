"""`ingressbed up --dry-run`: the plan is written, in order, and nothing is run."""

from __future__ import annotations

import itertools
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from ingressbed.backends.kind import KindBackend
from ingressbed.cli import main
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.tools import UPSTREAM_MIRROR_ENV

MIRROR = Path(__file__).resolve().parents[1] / ".." / "shared" / "upstream" / "ingress-nginx"


def _up(tmp_path, *extra):
    out = tmp_path / "plan"
    code = main(["up", "--backend", "kind", "--dry-run", "--output", str(out), "-q", *extra])
    return code, out


def _referenced_files(script: str) -> set[str]:
    """Files commands.sh passes to -f / --config (relative ones: the dry run must write them)."""
    out = set()
    for line in script.splitlines():
        if line.startswith("#"):
            continue
        words = shlex.split(line.replace(";", " "))
        for flag, value in itertools.pairwise(words):
            if flag in ("-f", "--config") and not value.startswith("/"):
                out.add(value)
    return out


def test_kind_dry_run_is_the_backends_bring_up_described(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(UPSTREAM_MIRROR_ENV, str(MIRROR))
    code, out = _up(tmp_path)
    assert code == 0
    assert "nothing was run" in capsys.readouterr().out
    cfg = yaml.safe_load((out / "kind-config.yaml").read_text())
    assert cfg["nodes"][0]["labels"]["ingress-ready"] == "true"
    script = (out / "commands.sh").read_text()
    assert script.startswith("#!/bin/sh\n") and "NOTHING HERE WAS RUN" in script
    # The plan is the backend's own list, not a copy: same titles, same order.
    bed = KindBackend(BedOptions(backend="kind"), Steps(quiet=True))
    bed.namespace = "ingressbed-dryrun"
    titles = [step.title for step in bed.bring_up()]
    assert titles[:4] == [
        "Checking Docker",
        "Ensuring kind",
        f"Pulling node image {bed.node_image.split('@')[0]}",
        'Ensuring cluster "ingressbed"',
    ]
    listed = [line for line in (out / "plan.txt").read_text().splitlines() if line[:1].isdigit()]
    assert [line.split(". ", 1)[1] for line in listed] == [*titles, "Applying Ingress hellogo"]
    positions = [script.index(f"# {i}. {t}") for i, t in enumerate(titles, 1)]
    assert positions == sorted(positions)
    assert "kind create cluster --name ingressbed --config kind-config.yaml" in script
    assert "kind load docker-image ingressbed/hellogo:" in script
    assert "docker pull kindest/node:v1.35.5@sha256:" in script
    assert "/dbg backends get ingressbed-dryrun-hellogo-8080" in script
    assert "sha256sum -c -" in script and "MISSING" not in script
    referenced = _referenced_files(script)
    assert "manifests/10-ingress-nginx.yaml" in referenced
    for name in referenced:
        assert (out / name).is_file(), f"commands.sh uses {name}, which the dry run did not write"


@pytest.mark.slow
def test_without_the_upstream_manifest_commands_sh_stops_and_says_what_is_missing(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(UPSTREAM_MIRROR_ENV, raising=False)
    code, out = _up(tmp_path)
    assert code == 0
    script = (out / "commands.sh").read_text()
    assert not (out / "manifests" / "10-ingress-nginx.yaml").exists()
    lines = script.splitlines()
    at = next(i for i, line in enumerate(lines) if "-f manifests/10-ingress-nginx.yaml" in line)
    assert lines[at - 1] == "exit 1"
    assert lines[at - 2].startswith("echo 'MISSING: manifests/10-ingress-nginx.yaml was not")
    assert UPSTREAM_MIRROR_ENV in lines[at - 2]
    done = subprocess.run(["sh", "-n", str(out / "commands.sh")], check=False)
    assert done.returncode == 0


def test_dry_run_follows_controller_version_and_cluster_name(tmp_path):
    code, out = _up(tmp_path, "--controller-version", "1.11.8", "--cluster-name", "other")
    assert code == 0
    script = (out / "commands.sh").read_text()
    assert "ingress-nginx v1.11.8" in script
    assert "controller-v1.11.8/deploy/static/provider/kind/deploy.yaml" in script
    assert "--name other" in script


def test_env_selects_the_controller_version(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CONTROLLER_VERSION", "v1.11.8")
    code, out = _up(tmp_path)
    assert code == 0
    assert "ingress-nginx v1.11.8" in (out / "commands.sh").read_text()


def test_an_unknown_version_or_unpinned_image_is_one_error_line(tmp_path, capsys):
    code, _ = _up(tmp_path, "--controller-version", "9.9.9")
    err = capsys.readouterr().err
    assert code == 1 and "v9.9.9 is not in lock.yaml" in err
    code, _ = _up(tmp_path, "--node-image", "kindest/node:v1.36.1")
    assert code == 1 and "not pinned by digest" in capsys.readouterr().err


def test_cluster_dry_run_needs_a_context(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("INGRESSBED_CONTEXT", raising=False)
    out = tmp_path / "plan"
    code = main(["up", "--backend", "cluster", "--dry-run", "--output", str(out), "-q"])
    assert code == 1 and "--context" in capsys.readouterr().err
    code = main(
        [
            "up",
            "--backend",
            "cluster",
            "--context",
            "prod-eu",
            "--dry-run",
            "--output",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    script = (out / "commands.sh").read_text()
    assert "--context prod-eu" in script and "kind " not in script
    assert "Installing ingress-nginx" not in script  # only with --install-controller


def test_a_plan_folder_that_cannot_take_a_file_is_one_line_and_keeps_nothing_written(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(UPSTREAM_MIRROR_ENV, str(MIRROR))
    out = tmp_path / "plan"
    (out / "plan.txt").mkdir(parents=True)  # written late: the files before it are undone
    (out / "mine.txt").write_text("the user's")
    code = main(["up", "--backend", "kind", "--dry-run", "--output", str(out), "-q"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[-1] == (
        f"ingressbed: error: --output {out}: cannot write the plan there (Is a directory); "
        "choose another folder"
    )
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt", "plan.txt"]
    code = main(["up", "--backend", "kind", "--dry-run", "--output", "/proc/nope/plan", "-q"])
    assert code == 1 and "cannot write the plan there" in capsys.readouterr().err
