"""`ingressbed predict` and `ingressbed analyze`, in process and as the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingressbed.cli import main
from ingressbed.placement import Predictor, Request, predict, predict_subset
from ingressbed.vocabulary import Endpoint

EPS = "10.244.0.2:8080,10.244.0.3:8080,10.244.0.4:8080,[fd00::5]:8080"
ENDPOINTS = [Endpoint.parse(e) for e in EPS.split(",")]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_one_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "predict",
        "--flavor",
        "ingress-nginx",
        "--endpoints",
        EPS,
        "--hash-by",
        "$host$request_uri",
        "--host",
        "A.example",
        "--request-uri",
        "/p",
        "--arg",
        "x=1",
        "--header",
        "X-User=bob",
    )
    expected = predict(
        "ingress-nginx",
        ENDPOINTS,
        "$host$request_uri",
        Request(host="A.example", request_uri="/p?x=1"),
    )
    assert code == 0 and out == f"{expected}\n"


def test_predict_ipv6_endpoint_printed_in_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(40):
        _, out, _ = run_cli(
            capsys,
            "predict",
            "--endpoints",
            EPS,
            "--hash-by",
            "$remote_addr",
            "--client-ip",
            f"10.9.0.{i}",
        )
        if out.startswith("["):
            assert out == "[fd00::5]:8080\n"
            return
    pytest.fail("no client landed on the IPv6 endpoint")


def test_predict_round_robin_subset_and_legacy(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(
        capsys, "predict", "--flavor", "nginx", "--endpoints", EPS, "--hash-by", "$cookie_sid"
    )
    assert out == "round-robin\n"
    _, out, _ = run_cli(
        capsys,
        "predict",
        "--endpoints",
        EPS,
        "--hash-by",
        "$cookie_sid",
        "--cookie",
        "sid=42",
        "--subset-size",
        "3",
    )
    group = predict_subset(ENDPOINTS, "$cookie_sid", Request(cookies={"sid": "42"}), size=3)
    assert out == " ".join(map(str, group)) + "\n"
    outs = set()
    for i in range(10):
        _, out, _ = run_cli(
            capsys,
            "predict",
            "--endpoints",
            EPS,
            "--hash-by",
            "$host$request_uri",
            "--request-uri",
            f"/{i}",
            "--controller-version",
            "0.25.0",
        )
        outs.add(out)
    assert len(outs) == 1  # legacy: every key is "nil"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--endpoints", "10.0.0.1", "--hash-by", "$host"], "not ADDRESS:PORT"),
        (["--endpoints", EPS, "--hash-by", "$server_addr"], "$server_addr"),
        (
            ["--endpoints", EPS, "--hash-by", "$host", "--controller-version", "latest"],
            "controller version",
        ),
        (["--endpoints", EPS, "--hash-by", "$host", "--header", "novalue"], "NAME=VALUE"),
        (
            [
                "--flavor",
                "nginx",
                "--endpoints",
                EPS,
                "--hash-by",
                "$host",
                "--controller-version",
                "0.25.0",
            ],
            "ingress-nginx flavor only",
        ),
        (
            ["--flavor", "nginx", "--endpoints", EPS, "--hash-by", "$host", "--subset-size", "3"],
            "only in ingress-nginx",
        ),
    ],
)
def test_predict_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, "predict", *argv)
    assert code == 1 and not out
    assert err.startswith("ingressbed: error: ") and message in err and err.count("\n") == 1


def test_batch_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        '{"client_ip": "1.2.3.4"}',
        "",
        '{"client_ip": "5.6.7.8", "headers": {"X-A": "b"}}',
        "{}",
    ]
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("\n".join(lines) + "\n"))
    code, out, _ = run_cli(
        capsys,
        "predict",
        "--endpoints",
        EPS,
        "--hash-by",
        "$remote_addr",
        "--batch",
        "--client-ip",
        "9.9.9.9",
    )
    predictor = Predictor("ingress-nginx", ENDPOINTS, "$remote_addr")
    want = [predictor.pick(Request(client_ip=ip)) for ip in ("1.2.3.4", "5.6.7.8", "9.9.9.9")]
    assert code == 0 and out.splitlines() == [str(e) for e in want]
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO('{"client_ip": 5}\n'))
    code, _, err = run_cli(
        capsys, "predict", "--endpoints", EPS, "--hash-by", "$remote_addr", "--batch"
    )
    assert code == 1 and "stdin line 1" in err


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("ingressbed")
    return str(beside) if beside.exists() else shutil.which("ingressbed")


@pytest.mark.slow
@pytest.mark.skipif(
    _console_script() is None, reason="the ingressbed console script is not installed"
)
def test_batch_through_the_console_script() -> None:
    requests = [
        {
            "client_ip": f"10.{i % 7}.{i % 251}.{i % 13}",
            "host": "h.example",
            "request_uri": f"/item/{i}?id={i}",
            "headers": {"X-User": f"u{i % 5}"},
            "cookies": {"sid": str(i)},
        }
        for i in range(300)
    ]
    requests.append({})  # everything left out: the options fill in (--host)
    stdin = "\n".join(json.dumps(r) for r in requests) + "\n"
    command = [
        _console_script() or "",
        "predict",
        "--flavor",
        "nginx",
        "--endpoints",
        EPS,
        "--hash-by",
        "$host$request_uri",
        "--host",
        "h.example",
        "--batch",
    ]
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    predictor = Predictor("nginx", ENDPOINTS, "$host$request_uri")
    want = []
    for r in requests:
        pick = predictor.pick(Request(**{"host": "h.example", **r}))
        want.append("round-robin" if pick is None else str(pick))
    assert done.stdout.splitlines() == want


def test_analyze_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "analyze",
        "--pods",
        "5",
        "--keys",
        "2000",
        "--seed",
        "3",
        "--ports",
        "8080,9090,8081",
    )
    assert code == 0
    assert "10.244.0.6:8080" in out and "max/mean" in out and "same pod on all ports" in out
    code, out, _ = run_cli(
        capsys,
        "analyze",
        "--endpoints",
        EPS,
        "--keys",
        "500",
        "--hash-by",
        "$request_uri",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["keys"] == 500 and sum(data["spread"]["counts"].values()) == 500
    code, _, err = run_cli(capsys, "analyze", "--ports", "80,http")
    assert code == 1 and "--ports" in err


def test_a_long_analysis_says_each_step_on_stderr_and_quiet_silences_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(capsys, "analyze", "--pods", "2000", "--keys", "1000")
    assert code == 0 and "max/mean" in out
    steps = [line for line in err.splitlines() if line.startswith("ingressbed: analyze: step")]
    assert [line.split(":", 3)[2].strip() for line in steps] == [
        "step 1 of 4",
        "step 2 of 4",
        "step 3 of 4",
        "step 4 of 4",
    ]
    assert "the picks of 2,000 endpoints" in steps[1]
    code, _, err = run_cli(capsys, "analyze", "--pods", "2000", "--keys", "1000", "-q")
    assert code == 0 and err == ""
    code, _, err = run_cli(capsys, "analyze", "--pods", "6", "--keys", "1000")
    assert code == 0 and err == ""  # short work: no progress lines
