"""docker_env: the Docker endpoint resolved as the docker CLI resolves it, over recorded files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingressbed.docker_env import DEFAULT_HOST, DockerCLI, context_hash, one_line, resolve
from ingressbed.errors import ToolError


def _context(home: Path, name: str, host: str, *, tls: bool = False, skip: bool = False) -> None:
    digest = context_hash(name)
    meta = home / ".docker" / "contexts" / "meta" / digest / "meta.json"
    meta.parent.mkdir(parents=True)
    # The shape `docker context create` writes.
    meta.write_text(
        json.dumps(
            {
                "Name": name,
                "Metadata": {"Description": ""},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip}},
            }
        )
    )
    if tls:
        folder = home / ".docker" / "contexts" / "tls" / digest / "docker"
        folder.mkdir(parents=True)
        (folder / "ca.pem").write_text("ca")


def _use(home: Path, name: str) -> None:
    cfg = home / ".docker" / "config.json"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(json.dumps({"auths": {}, "currentContext": name}))


def test_context_folders_are_named_by_the_sha256_of_the_name():
    # `docker context inspect default`-independent fact: the CLI's meta folder name.
    assert context_hash("colima") == (
        "f24fd3749c1368328e2b149bec149cb6795619f244c5b584e844961215dadd16"
    )


def test_no_configuration_means_the_default_socket(tmp_path):
    endpoint = resolve({}, tmp_path)
    assert endpoint.host == DEFAULT_HOST and endpoint.context == "default"


def test_current_context_of_the_cli_config_decides(tmp_path):
    sock = f"unix://{tmp_path}/.colima/default/docker.sock"
    _context(tmp_path, "colima", sock)
    _use(tmp_path, "colima")
    endpoint = resolve({}, tmp_path)
    assert endpoint.host == sock and endpoint.context == "colima"
    assert "currentContext" in endpoint.source
    env = endpoint.env({"PATH": "/bin", "DOCKER_CONTEXT": "x"})
    assert env["DOCKER_HOST"] == sock and "DOCKER_CONTEXT" not in env and env["PATH"] == "/bin"


def test_docker_context_beats_the_config_and_docker_host_beats_both(tmp_path):
    _context(tmp_path, "colima", "unix:///colima.sock")
    _context(tmp_path, "desktop-linux", "unix:///desktop.sock")
    _use(tmp_path, "colima")
    assert resolve({"DOCKER_CONTEXT": "desktop-linux"}, tmp_path).host == "unix:///desktop.sock"
    both = {"DOCKER_CONTEXT": "desktop-linux", "DOCKER_HOST": "tcp://10.0.0.5:2375"}
    endpoint = resolve(both, tmp_path)
    assert endpoint.host == "tcp://10.0.0.5:2375" and endpoint.source == "DOCKER_HOST"


def test_docker_config_moves_the_config_folder(tmp_path):
    other = tmp_path / "cfg-home"
    _context(other, "rootless", "unix:///run/user/1000/docker.sock")
    _use(other, "rootless")
    endpoint = resolve({"DOCKER_CONFIG": str(other / ".docker")}, tmp_path / "nohome")
    assert endpoint.host == "unix:///run/user/1000/docker.sock"
    assert resolve({}, tmp_path / "nohome").host == DEFAULT_HOST


def test_the_default_context_by_name_is_the_default_socket(tmp_path):
    _use(tmp_path, "default")
    assert resolve({}, tmp_path).host == DEFAULT_HOST


def test_tls_material_of_a_context_is_passed_on(tmp_path):
    _context(tmp_path, "remote", "tcp://build.example:2376", tls=True)
    endpoint = resolve({"DOCKER_CONTEXT": "remote"}, tmp_path)
    assert endpoint.tls_verify and endpoint.tls_dir and endpoint.tls_dir.endswith("/docker")
    env = endpoint.env({})
    assert env["DOCKER_TLS_VERIFY"] == "1" and env["DOCKER_CERT_PATH"] == endpoint.tls_dir


def test_a_missing_context_names_the_fix(tmp_path):
    _use(tmp_path, "gone")
    with pytest.raises(ToolError, match=r"Docker context 'gone'.*does not exist.*docker context"):
        resolve({}, tmp_path)


def test_a_broken_cli_config_is_one_line(tmp_path):
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text("{not json")
    with pytest.raises(ToolError, match="cannot read the Docker CLI config"):
        resolve({}, tmp_path)


def test_one_line_prefers_the_error_line():
    text = "#5 [2/4] RUN pip install\n#5 ERROR: process did not complete\n------\n"
    assert one_line(text) == "#5 ERROR: process did not complete"
    assert one_line("") == "no output"
    assert len(one_line("x" * 500)) == 200


@pytest.mark.slow
def test_docker_cli_failures_are_one_line(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///x.sock. "
        "Is the docker daemon running?' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    cli = DockerCLI(resolve({"DOCKER_HOST": "unix:///x.sock"}, tmp_path), str(fake))
    with pytest.raises(ToolError) as err:
        cli.info()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("no Docker daemon answers at unix:///x.sock (from DOCKER_HOST)")
    assert "docker context use" in message


def test_docker_cli_missing_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cli = DockerCLI(resolve({}, tmp_path))
    with pytest.raises(ToolError, match="the docker CLI is not installed"):
        cli.run(["info"])
