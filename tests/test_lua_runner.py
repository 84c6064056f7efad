"""``LuaPlane``, the runner of the local ingress-nginx plane: refusals in one line, waits
that fail with what is behind, and nothing left running after a stop or a death."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from ingressbed.backends.local_addresses import AddressBlock
from ingressbed.backends.processes import Child, child_pids
from ingressbed.errors import ConfigError, SetupError
from ingressbed.ingress_nginx_lua import Backend, Location, Server, Tls
from ingressbed.ingress_nginx_lua.run import LuaPlane
from ingressbed.planes.base import Listen
from ingressbed.vocabulary import Endpoint
from tests.lua_bed import needs_lua
from tests.real_processes import processes_mentioning, wait_gone

pytestmark = [pytest.mark.slow, needs_lua]

SERVERS = [Server("_", Location.prefix("/", "default-web-8080"))]


@pytest.fixture
def block() -> AddressBlock:
    taken = AddressBlock()
    taken.make_run_dir()
    yield taken
    taken.remove_run_dir()
    taken.release()


def _listen(block: AddressBlock) -> Listen:
    return Listen(block.ingress, *block.free_ports(2))


def test_a_rejected_configuration_is_one_line_and_starts_nothing(block: AddressBlock):
    assert block.run_dir is not None
    port, status_port, tls_port = block.free_ports(3)
    tls = Tls(tls_port, "/nonexistent/cert.pem", "/nonexistent/key.pem")
    plane = LuaPlane(block.run_dir, Listen(block.ingress, port, status_port), tls=tls)
    with pytest.raises(ConfigError) as caught:
        plane.start(SERVERS)
    line = str(caught.value)
    assert line.startswith("nginx rejected the generated config: [emerg] cannot load certificate ")
    assert '"/nonexistent/cert.pem"' in line and "\n" not in line
    assert plane.pid is None and plane.conf is None
    assert processes_mentioning(str(block.run_dir)) == []


def test_posts_waits_and_stop(block: AddressBlock):
    assert block.run_dir is not None
    plane = LuaPlane(block.run_dir, _listen(block))
    with pytest.raises(SetupError, match=r"^the local ingress-nginx plane is not started$"):
        plane.post("[]")
    with plane:
        plane.start(SERVERS, workers=2)
        assert plane.held() is None
        with pytest.raises(ConfigError, match=r"^backends: item 1 has no name$"):
            plane.post('[{"port": 80}]')
        assert plane.state().posted == 0  # refused before anything was posted
        document = [Backend("default-web-8080", (Endpoint(f"{block.prefix}.10", 8080),))]
        post = plane.apply(document)
        assert post == 1
        held = plane.held()
        assert held is not None and '"name": "default-web-8080"' in held
        before = (block.run_dir / "nginx.conf").read_text()
        broken = [Server("_", (Location('~* "^/a("', "/a(", "default-web-8080"),))]
        with pytest.raises(ConfigError, match=r"^nginx rejected the generated config: \[emerg\] "):
            plane.configure(broken)
        assert (block.run_dir / "nginx.conf").read_text() == before  # the running one stays
        assert plane.conf is not None and plane.conf.generation == 1
        assert plane.status.generation() == "1"
        with pytest.raises(SetupError) as caught:
            plane.wait_synced(post + 5, timeout=0.5)
        assert str(caught.value).startswith(
            f"post {post + 5} is not in force after 0s: worker 0 (pid "
        )
        master = plane.pid
        assert master is not None
        workers = child_pids(master)
        assert len(workers) == 2
    assert plane.pid is None
    assert wait_gone([master, *workers]) == []


def test_a_death_is_reported_and_every_later_call_says_so(block: AddressBlock):
    assert block.run_dir is not None
    died = threading.Event()
    seen: list[str] = []

    def on_exit(child: Child) -> None:
        seen.append(child.death or "")
        died.set()

    with LuaPlane(block.run_dir, _listen(block), on_exit=on_exit) as plane:
        plane.start(SERVERS)
        master = plane.pid
        assert master is not None
        workers = child_pids(master)
        os.kill(master, signal.SIGKILL)
        assert died.wait(10)
        assert seen == [
            f"nginx (the local ingress-nginx plane on {block.ingress}) was killed by SIGKILL "
            "(signal 9)"
        ]
        assert wait_gone(workers) == []  # the workers went with their master
        with pytest.raises(SetupError, match=r"^nginx exited: "):
            plane.state()


def test_the_lua_files_ship_with_the_package():
    from ingressbed.ingress_nginx_lua import LUA_DIR

    names = sorted(p.name for p in Path(LUA_DIR, "bed").glob("*.lua"))
    assert "balancer.lua" in names and "ring.lua" in names and "sticky.lua" in names
