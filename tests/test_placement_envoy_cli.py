"""`ingressbed predict --flavor envoy`: the contract's options and batch lines, answered by
the envoy flavor (one answer per line; ``random`` where Envoy picks at random)."""

from __future__ import annotations

import io
import json

from ingressbed.cli import main
from ingressbed.placement.envoy import EnvoyPredictor
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

E = [Endpoint(f"10.244.0.{n}", 8080) for n in range(2, 8)]
ENDPOINTS = ",".join(str(e) for e in E)


def _run(argv, capsys, monkeypatch, lines=()):
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(x) + "\n" for x in lines)))
    status = main(["predict", "--flavor", "envoy", "--endpoints", ENDPOINTS, *argv])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    return out.splitlines()


def test_one_request_with_trusted_hops(capsys, monkeypatch):
    out = _run(
        ["--hash-policy", "source-ip", "--trusted-hops", "1", "--client-ip", "10.232.41.102"],
        capsys,
        monkeypatch,
    )
    model = EnvoyPredictor(E, policies=[HashPolicy("source-ip")], client=ClientDetection(1))
    assert out == [str(model.pick(Request(client_ip="10.232.41.102")))]


def test_without_trusted_hops_the_peer_decides(capsys, monkeypatch):
    argv = ["--hash-policy", "source-ip", "--client-ip", "10.232.41.102", "--batch"]
    lines = [{"peer": f"192.0.2.{n}"} for n in range(1, 30)]
    out = _run(argv, capsys, monkeypatch, lines)
    model = EnvoyPredictor(E, policies=[HashPolicy("source-ip")])
    assert out == [str(model.pick(Request(peer=line["peer"]))) for line in lines]
    assert len(set(out)) > 1  # one client address, many pods: the trap


def test_batch_lines_with_repeated_headers_and_the_random_answer(capsys, monkeypatch):
    lines = [
        {"headers": [["X-User", "a"], ["x-user", "b"]], "request_uri": "/x?u=1"},
        {"headers": [["x-user", "b"], ["X-User", "a"]], "request_uri": "/x?u=1"},
        {"headers": {"X-User": "a"}},
        {"request_uri": "/nothing"},
    ]
    argv = ["--hash-policy", "header:x-user", "--hash-policy", "query:u", "--batch"]
    out = _run(argv, capsys, monkeypatch, lines)
    policies = [HashPolicy("header", "x-user"), HashPolicy("query", "u")]
    model = EnvoyPredictor(E, policies=policies)
    first = model.pick(
        Request(request_uri="/x?u=1", header_lines=(("x-user", "a"), ("x-user", "b")))
    )
    assert out[:3] == [str(first), str(first), str(model.pick(Request(headers={"X-User": "a"})))]
    assert out[3] == "random"


def test_ring_hash_and_a_small_table(capsys, monkeypatch):
    argv = ["--hash-policy", "header::path", "--request-uri", "//a/./b"]
    ring = _run(["--lb", "ring-hash", "--min-ring-size", "64", *argv], capsys, monkeypatch)
    small = _run(["--table-size", "13", *argv], capsys, monkeypatch)
    policy = [HashPolicy("header", ":path")]
    request = Request(request_uri="/a/b")
    assert ring == [
        str(EnvoyPredictor(E, lb="ring-hash", min_ring_size=64, policies=policy).pick(request))
    ]
    assert small == [str(EnvoyPredictor(E, table_size=13, policies=policy).pick(request))]


def test_data_plane_envoy_renders_the_key_as_the_bed_does(capsys, monkeypatch):
    """``--data-plane envoy`` translates ``--hash-by`` as the bed serves it: the client comes
    as X-Forwarded-For, read with numTrustedHops 1; ring hash on ``envoy:ring-hash``."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    answers = []
    for plane in ("envoy", "envoy:ring-hash"):
        argv = ["predict", "--data-plane", plane, "--endpoints", ENDPOINTS]
        argv += ["--hash-by", "$binary_remote_addr", "--client-ip", "10.232.41.102"]
        assert main(argv) == 0
        answers.append(capsys.readouterr().out.strip())
    request = Request(client_ip="10.232.41.102")
    client = ClientDetection(trusted_hops=1)
    policy = [HashPolicy("source-ip")]
    assert answers == [
        str(EnvoyPredictor(E, policies=policy, client=client).pick(request)),
        str(EnvoyPredictor(E, lb="ring-hash", policies=policy, client=client).pick(request)),
    ]
