"""The local backend with real nginx and real hellogo processes: failures and cleanup."""

from __future__ import annotations

import dataclasses
import re
import socket
import subprocess
from pathlib import Path

import pytest

from ingressbed import layouts, planes
from ingressbed.backends.local import LocalBackend
from ingressbed.backends.local_addresses import LOCK_DIR
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.errors import ConfigError, SetupError, ToolError
from ingressbed.options import BedOptions
from tests.real_processes import find_nginx, processes_mentioning

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent


def quiet_backend(**options) -> LocalBackend:
    return LocalBackend(BedOptions(backend="local", quiet=True, **options))


def test_nginx_missing_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("INGRESSBED_NGINX", "/nonexistent/nginx")
    with pytest.raises(ToolError, match="INGRESSBED_NGINX=/nonexistent/nginx is not an executable"):
        find_nginx(only_path=True)
    monkeypatch.delenv("INGRESSBED_NGINX")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolError, match="apt-get install nginx-light"):
        find_nginx(only_path=True)


def test_a_plane_without_a_local_program_is_refused_in_one_line(tmp_path, monkeypatch):
    found = planes.plane("ingress-nginx")
    monkeypatch.setattr(planes, "plane", lambda name: dataclasses.replace(found, program=None))
    options = BedOptions(backend="local", data_plane="ingress-nginx", artifacts=tmp_path)
    with pytest.raises(ConfigError) as raised:
        LocalBackend(options)
    message = str(raised.value)
    assert "does not run data plane ingress-nginx" in message and "\n" not in message
    assert "ingress-nginx, nginx, nginx:hash" in message  # what it runs instead


def test_serves_scales_and_leaves_nothing_behind():
    bed = quiet_backend()
    bed.start()
    try:
        run_dir = bed._run_dir
        prefix = bed.address().host.rsplit(".", 1)[0] + "."
        bed.apply(layouts.setup("one-port", replicas=2))
        assert len(bed.pods()) == 2
        bed.scale(3)
        assert [e.address for e in bed.endpoints(8080)] == [p.ip for p in bed.pods()]
        seen = probe(bed.address(), [HttpRequest("/8080/x", layouts.DEFAULT_HOST)] * 9)
        assert {o.pod for o in seen} == {p.name for p in bed.pods()}, "round robin uses all 3"
    finally:
        bed.close()
    assert not run_dir.exists()
    assert processes_mentioning(prefix) == []
    assert not (LOCK_DIR / f"{prefix[:-1]}.lock").exists()


def test_a_port_in_use_names_it_and_the_bed_keeps_working():
    bed = quiet_backend()
    bed.start()
    try:
        bed.apply(layouts.setup("one-port", replicas=1))
        next_ip = f"{bed._block.prefix}.{bed._block._next}"
        with socket.socket() as squatter:
            squatter.bind((next_ip, 8080))
            squatter.listen()
            with pytest.raises(SetupError, match=rf"{re.escape(next_ip)}.*8080.*in use"):
                bed.scale(2)
        assert len(bed.pods()) == 1
        assert processes_mentioning(next_ip + " ") == []
        bed.scale(2)  # the next address is free now
        assert len(bed.pods()) == 2
    finally:
        bed.close()


def test_what_plain_nginx_cannot_do_is_refused_with_the_capability():
    bed = quiet_backend(data_plane="nginx")
    bed.start()
    try:
        subset = {"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true"}
        with pytest.raises(ConfigError, match="cannot serve hash-subset"):
            bed.apply(layouts.setup(annotations=subset))
    finally:
        bed.close()


def test_keep_always_keeps_the_folder_but_stops_processes():
    bed = quiet_backend(keep="always")
    bed.start()
    run_dir = bed._run_dir
    prefix = bed.address().host.rsplit(".", 1)[0] + "."
    bed.close()
    try:
        assert (run_dir / "nginx.conf").exists()
        assert processes_mentioning(prefix) == []
    finally:
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)


def test_slow_pods_answer_late_keep_their_place_on_scale_and_go_with_the_setup():
    import dataclasses

    bed = quiet_backend()
    bed.start()
    try:
        plain = layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}, replicas=3)
        bed.apply(dataclasses.replace(plain, slow_pods=1, slow_ms=300))
        slow = [p for p in bed.pods() if p.slow_ms]
        assert [p.slow_ms for p in slow] == [300] and len(bed.pods()) == 3
        urls = [HttpRequest(f"/8080/p{i}", layouts.DEFAULT_HOST) for i in range(30)]
        seen = probe(bed.address(), urls)
        on_slow = [o for o in seen if o.pod == slow[0].name]
        on_fast = [o for o in seen if o.pod != slow[0].name]
        assert on_slow and on_fast, "the hash spreads 30 URLs over all three pods"
        assert min(o.elapsed for o in on_slow) >= 0.3  # a delay can only add time
        bed.scale(4)
        assert [p.name for p in bed.pods() if p.slow_ms] == [slow[0].name]
        bed.apply(plain)
        assert [p for p in bed.pods() if p.slow_ms] == [] and len(bed.pods()) == 3
    finally:
        bed.close()


def test_auto_falling_back_to_local_runs_the_data_plane_asked_for(monkeypatch):
    import ingressbed.backends as backends
    from ingressbed.backends import auto

    monkeypatch.setattr(auto, "kind_fits", lambda options: (False, "no Docker daemon answers"))
    bed = backends.create(BedOptions(data_plane="haproxy:map-based", quiet=True))
    assert isinstance(bed, LocalBackend) and bed.data_plane == "haproxy:map-based"
    with pytest.raises(ConfigError, match="'haproxy': the kind backend runs ingress-nginx"):
        backends.create(BedOptions(backend="kind", data_plane="haproxy", quiet=True))


def test_a_data_plane_binary_that_hangs_stops_the_start_in_one_line_and_leaves_nothing(
    tmp_path, monkeypatch
):
    hangs = tmp_path / "nginx"
    hangs.write_text("#!/bin/sh\nsleep 613\n")  # not exec: the hang is a child of the script
    hangs.chmod(0o755)
    monkeypatch.setenv("INGRESSBED_NGINX", str(hangs))
    bed = quiet_backend(artifacts=tmp_path / "reports")
    bed.tool_timeout = 1.0  # the default is 10 s; the behaviour is the same
    with pytest.raises(ToolError) as caught:
        bed.start()
    assert str(caught.value) == (
        f"Finding nginx: {hangs} hangs: `nginx -v` did not finish within 1s (it was killed); "
        "check that it is the program it should be"
    )
    assert processes_mentioning(str(hangs)) == []
    assert processes_mentioning("sleep 613") == []  # what it started went with it
    assert bed._block is None  # stopped before a block or folder was taken
