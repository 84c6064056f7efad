"""``--backend auto`` runs kind's host checks before it chooses (issue 24), with a fake
docker CLI on PATH printing recorded ``docker info`` JSON; nothing here claims a daemon
or a cluster ran.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from ingressbed import backends
from ingressbed.backends import auto
from ingressbed.backends.kind import KindBackend
from ingressbed.docker_env import DockerEndpoint, remote_problem
from ingressbed.errors import ConfigError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps

#: Debian's docker.io 20.10 on a cgroup v1 host (the fields the checks read).
CGROUP_V1 = {"OSType": "linux", "CgroupVersion": "1", "DockerRootDir": "/nowhere/docker"}
CGROUP_V2 = {**CGROUP_V1, "CgroupVersion": "2"}
ROOTLESS_V1 = {**CGROUP_V1, "SecurityOptions": ["name=rootless"]}


def _docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, info: dict[str, Any]) -> None:
    """A docker CLI answering ``docker info`` with ``info``; no kind on PATH, empty cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "info.json").write_text(json.dumps(info))
    fake = bin_dir / "docker"
    fake.write_text(f"#!/bin/sh\nexec /bin/cat {tmp_path / 'info.json'}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/fake-docker.sock")
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))


def _choose(options: BedOptions) -> tuple[str, str]:
    out = io.StringIO()
    chosen = backends.resolve(options, Steps(out))
    return chosen, out.getvalue()


@pytest.mark.slow
def test_auto_on_a_cgroup_v1_host_runs_local_and_says_why(tmp_path, monkeypatch):
    _docker(tmp_path, monkeypatch, CGROUP_V1)
    chosen, said = _choose(BedOptions(backend="auto"))
    assert chosen == "local"
    assert said.count("\n") == 1 and "backend auto -> local" in said
    assert "cgroup v1" in said and "needs cgroup v2" in said


@pytest.mark.slow
@pytest.mark.parametrize(
    ("info", "download", "chosen", "why"),
    [
        (ROOTLESS_V1, "", "local", "rootless Docker on a cgroup v1 host"),
        (CGROUP_V2, "[Errno 101] Network is unreachable", "local", "no kind binary here"),
        (CGROUP_V2, "", "kind", "kind's host checks pass"),
    ],
)
def test_auto_checks_rootless_and_a_kind_binary(tmp_path, monkeypatch, info, download, chosen, why):
    _docker(tmp_path, monkeypatch, info)
    # v1.11.8's node image (Kubernetes 1.30) still runs on cgroup v1, rootful
    options = BedOptions(backend="auto", controller_version="v1.11.8")
    ok, said = auto.kind_fits(options, probe=lambda url: download)
    assert ("kind" if ok else "local") == chosen and why in said and "\n" not in said


def test_auto_with_another_data_plane_resolves_to_local_without_asking_docker(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no docker CLI: not even looked for
    chosen, said = _choose(BedOptions(backend="auto", data_plane="haproxy"))
    assert chosen == "local" and "--data-plane haproxy runs on the local backend only" in said
    bed = backends.create(BedOptions(backend="auto", data_plane="haproxy", quiet=True))
    assert type(bed).__name__ == "LocalBackend"


@pytest.mark.parametrize(
    ("host", "remote"),
    [
        ("unix:///var/run/docker.sock", False),
        ("npipe:////./pipe/docker_engine", False),
        ("tcp://127.0.0.1:2375", False),
        ("tcp://[::1]:2375", False),
        ("tcp://10.1.2.3:2376", True),
        ("ssh://dev@buildbox", True),
    ],
)
def test_remote_docker_endpoints_are_refused_in_one_line(host, remote):
    problem = remote_problem(DockerEndpoint(host, "DOCKER_HOST"))
    assert bool(problem) == remote
    if remote:
        assert "\n" not in problem and "another host" in problem and host in problem


def test_the_kind_backend_refuses_a_remote_endpoint_before_running_docker(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ssh://dev@buildbox")
    monkeypatch.setenv("PATH", "/nonexistent")
    bed = KindBackend(BedOptions(backend="kind"), Steps(quiet=True))
    with pytest.raises(ConfigError, match=r"^the Docker endpoint ssh://dev@buildbox"):
        bed._check_docker()
    ok, why = auto.kind_fits(BedOptions(backend="auto"))
    assert not ok and why.startswith("the Docker endpoint ssh://dev@buildbox")
