"""`ingressbed up --dry-run`: the plan is written, in order, and nothing is run."""

from __future__ import annotations

import yaml

from ingressbed.cli import main


def _up(tmp_path, *extra):
    out = tmp_path / "plan"
    code = main(["up", "--backend", "kind", "--dry-run", "--output", str(out), "-q", *extra])
    return code, out


def test_kind_dry_run_writes_config_manifests_and_ordered_commands(tmp_path, capsys):
    code, out = _up(tmp_path)
    assert code == 0
    assert "nothing was run" in capsys.readouterr().out
    cfg = yaml.safe_load((out / "kind-config.yaml").read_text())
    assert cfg["nodes"][0]["labels"]["ingress-ready"] == "true"
    for name in (
        "11-controller-configmap",
        "20-namespace",
        "21-hellogo-service",
        "22-hellogo-deployment",
        "30-ingress",
        "90-webhook-probe",
    ):
        assert (out / "manifests" / f"{name}.yaml").is_file(), name
    script = (out / "commands.sh").read_text()
    assert script.startswith("#!/bin/sh\n") and "NOTHING HERE WAS RUN" in script
    order = [
        "Checking Docker",
        "Ensuring kind",
        'Creating cluster "ingressbed"',
        "Building hellogo image",
        "Loading hellogo image",
        "Installing ingress-nginx v1.15.1",
        "Creating namespace",
        "Waiting for the admission webhook",
        "Deploying hellogo",
        "Applying Ingress hellogo",
        "Finding the ingress address",
        "Deleting cluster",
    ]
    positions = [script.index(title) for title in order]
    assert positions == sorted(positions)
    assert "kind create cluster --name ingressbed --config kind-config.yaml" in script
    assert "kind load docker-image ingressbed/hellogo:" in script
    assert "/dbg backends get ingressbed-dryrun-hellogo-8080" in script
    assert "sha256sum -c -" in script


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
