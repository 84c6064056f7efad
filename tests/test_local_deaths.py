"""Dead processes are named: a pod or nginx dying on its own, with real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingressbed import layouts
from ingressbed.backends.local import LocalBackend
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.errors import SetupError
from ingressbed.options import BedOptions
from tests.real_processes import children, wait_gone

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def bed(tmp_path):
    backend = LocalBackend(BedOptions(backend="local", quiet=True, artifacts=tmp_path))
    backend.start()
    yield backend
    backend.close()


def test_a_pod_killed_from_outside_is_named_with_its_address_and_signal(bed):
    bed.apply(layouts.setup("one-port", replicas=3))
    victim = bed.pods()[1]
    child = next(c for p, c in bed._pods._pods if p == victim)
    assert bed.unexpected_exit() is None
    os.kill(child.pid, signal.SIGKILL)
    death = bed.wait_death(10)
    assert death == f"pod {victim.name} ({victim.ip}) was killed by SIGKILL (signal 9)"
    with pytest.raises(SetupError, match=rf"^pod {victim.name} \({victim.ip}\) was killed.*stops"):
        bed.scale(3)


def test_a_pod_that_exits_is_named_with_its_status(bed):
    bed.apply(layouts.setup("one-port", replicas=1))
    (pod,) = bed.pods()
    child = bed._pods._pods[0][1]
    os.kill(child.pid, signal.SIGTERM)  # hellogo stops gracefully: status 0
    assert bed.wait_death(10) == f"pod {pod.name} ({pod.ip}) exited with status 0"


def test_an_asked_for_kill_is_not_a_death_and_gets_a_replacement(bed):
    bed.apply(layouts.setup("one-port", replicas=2))
    before = {p.name for p in bed.pods()}
    bed.kill(sorted(before)[0])
    after = {p.name for p in bed.pods()}
    assert len(after) == 2 and len(after - before) == 1
    bed.scale(1)  # scaling down stops pods on purpose
    assert bed.unexpected_exit() is None


def test_when_the_nginx_master_dies_its_workers_die_with_it(bed):
    bed.apply(layouts.setup("one-port", controller={"worker-processes": "2"}, replicas=1))
    master = bed._proxy.pid
    workers = children(master)
    assert len(workers) == 2
    os.kill(master, signal.SIGKILL)
    assert wait_gone(workers, timeout=5) == [], "no orphaned worker keeps listening"
    death = bed.wait_death(5)
    assert death is not None and death.startswith("nginx (the data plane on 127.")
    assert "SIGKILL" in death and "workers were killed with it" in death
    with pytest.raises(SetupError, match=r"nginx .* was killed by SIGKILL"):
        bed.apply(layouts.setup("one-port", replicas=1))


def test_when_the_haproxy_master_dies_its_worker_dies_with_it_and_it_is_named(tmp_path):
    bed = LocalBackend(
        BedOptions(backend="local", quiet=True, artifacts=tmp_path, data_plane="haproxy")
    )
    bed.start()
    try:
        bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}, replicas=1))
        master = bed._proxy.pid
        workers = children(master)
        assert len(workers) == 1  # master-worker: one worker (with threads)
        os.kill(master, signal.SIGKILL)
        assert wait_gone(workers, timeout=5) == [], "no orphaned worker keeps listening"
        death = bed.wait_death(5)
        assert death is not None and death.startswith("haproxy (the data plane on 127.")
        assert "SIGKILL" in death and "workers were killed with it" in death
        assert bed.unexpected_exit() == death  # named once, the same line every time
        with pytest.raises(SetupError, match=r"^haproxy .* was killed by SIGKILL.*stops here"):
            bed.scale(2)
    finally:
        bed.close()


def test_when_the_haproxy_worker_dies_the_master_ends_and_that_is_named(tmp_path):
    bed = LocalBackend(
        BedOptions(backend="local", quiet=True, artifacts=tmp_path, data_plane="haproxy")
    )
    bed.start()
    try:
        bed.apply(layouts.setup("one-port", replicas=1))
        (worker,) = children(bed._proxy.pid)
        os.kill(worker, signal.SIGKILL)
        death = bed.wait_death(10)
        assert death is not None and death.startswith("haproxy (the data plane on 127."), death
    finally:
        bed.close()


SESSION = """
import os, signal
from ingressbed import layouts

def test_meets_the_death(serve):
    bed = serve(layouts.setup("one-port", replicas=2))
    child = bed._proxy if VICTIM == "data plane" else bed._pods._pods[0][1]
    os.kill(child.pid, signal.SIGKILL)
    assert bed.wait_death(10)

def test_later_one(serve):
    serve(layouts.setup("one-port", replicas=2))

def test_later_two(serve):
    serve(layouts.setup("one-port", replicas=2))
"""


@pytest.mark.parametrize(
    ("plane", "victim", "named"),
    [
        ("nginx", "pod", "pod hellogo-"),
        ("haproxy", "data plane", "haproxy (the data plane on "),
        ("envoy", "data plane", "envoy (the data plane on "),
    ],
)
def test_the_session_stops_at_the_test_that_met_the_death_and_says_it_once(
    tmp_path, plane, victim, named
):
    (tmp_path / "test_dies.py").write_text(f"VICTIM = {victim!r}\n" + SESSION)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "test_dies.py"), "--backend", "local",
         "-p", "no:cacheprovider", "-q", "-rN", "--artifacts", str(tmp_path / "reports"),
         "--rootdir", str(tmp_path), "--data-plane", plane],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "1 failed in" in out and "passed" not in out, out  # the later tests never ran
    assert "test_later" not in out, out
    said = [ln for ln in out.splitlines() if "the session stops here" in ln]
    assert len(said) == 1, out  # once, in the failure of the test that met it
    assert said[0].startswith(f"ingressbed: {named}") and "127." in said[0], out
    assert "was killed by SIGKILL (signal 9)" in said[0], out
    assert f"Interrupted: ingressbed: {named}" in out, out


@pytest.mark.parametrize("plane", ["haproxy", "nginx", "envoy"])
def test_after_a_death_the_data_plane_stops_so_traffic_under_way_ends_at_once(tmp_path, plane):
    """HAProxy has no health checks here: it would retry the dead pod 3 times, a second
    apart, for every request hashed to it (about 2 minutes of a catalog mix). The bed
    watches the processes instead: once a pod dies, the data plane is stopped, and every
    request fails at once (connection refused), none waits for a 503."""
    bed = LocalBackend(
        BedOptions(backend="local", quiet=True, artifacts=tmp_path, data_plane=plane)
    )
    bed.start()
    try:
        bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}, replicas=3))
        proxy = bed._proxy
        victim, child = bed._pods._pods[0]
        os.kill(child.pid, signal.SIGKILL)
        assert (
            bed.wait_death(10)
            == f"pod {victim.name} ({victim.ip}) was killed by SIGKILL (signal 9)"
        )
        assert proxy.wait_exit(10), "the data plane is stopped after a pod's death"
        assert bed.unexpected_exit().startswith("pod "), "the pod's death is what is named"
        pages = [HttpRequest(f"/8080/page-{i}", layouts.DEFAULT_HOST) for i in range(30)]
        seen = probe(bed.address(), pages, timeout=30)
        assert {o.status for o in seen} == {0}, sorted({(o.status, o.error) for o in seen})
        # nobody listens any more: refused (or reset while the last worker goes)
        ended = ("Connect call failed", "Connection reset by peer")
        assert all(any(e in o.error for e in ended) for o in seen), seen[0].error
    finally:
        bed.close()
    assert "stopped 2 pods" in bed.cleaned  # the dead one is not counted as stopped
