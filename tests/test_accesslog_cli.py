"""`ingressbed analyze --access-log`: inputs, output forms, errors as one line, exit codes."""

from __future__ import annotations

import gzip
import io
import json
import sys

import pytest

from ingressbed.accesslog import generate, render
from ingressbed.cli import analyze_log, main

ENDPOINTS = "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080,10.0.0.4:8080"


@pytest.fixture(scope="module")
def vhost_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "access.log"
    path.write_text("".join(generate.lines(3000, fmt="vhost", pages=200)))
    return path


def run(capsys, *args):
    status = main(["analyze", "-q", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_has_the_contract_fields_and_lists_every_endpoint(capsys, vhost_log):
    status, out, _ = run(
        capsys,
        "--access-log", vhost_log, "--log-format", generate.VHOST, "--endpoints", ENDPOINTS,
        "--hash-by", "$host", "--json",
    )  # fmt: skip
    assert status == 0
    data = json.loads(out)
    assert data["requests"] == 3000 and data["skipped"] == 0
    assert [p["endpoint"] for p in data["pods"]] == ENDPOINTS.split(",")
    assert sum(p["requests"] for p in data["pods"]) == 3000
    assert sum(p["share"] for p in data["pods"]) == pytest.approx(1.0)
    assert 0 in [p["requests"] for p in data["pods"]]  # 3 hosts on 4 pods: one pod idle
    shares = [p["share"] for p in data["pods"]]
    assert data["max_over_mean"] == pytest.approx(max(shares) * 4)
    assert 0 < data["cache_hit_ratio"] < 1


def test_gzip_and_stdin_give_the_same_answer(capsys, vhost_log, tmp_path, monkeypatch):
    common = ["--log-format", generate.VHOST, "--hash-by", "$request_uri", "--json"]
    _, plain, _ = run(capsys, "--access-log", vhost_log, *common)
    packed = tmp_path / "access.log.1"  # no .gz suffix: recognised by its magic bytes
    packed.write_bytes(gzip.compress(vhost_log.read_bytes()))
    _, zipped, _ = run(capsys, "--access-log", packed, *common)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(vhost_log.read_bytes())))
    _, piped, _ = run(capsys, "--access-log", "-", *common)
    assert json.loads(plain) == json.loads(zipped) == json.loads(piped)


def test_the_text_table_compares_candidates(capsys, vhost_log):
    status, out, _ = run(
        capsys,
        "--access-log", vhost_log, "--log-format", generate.VHOST,
        "--candidate", "ingress-nginx=$host", "--candidate", "nginx=$host$request_uri",
        "--candidate", "round-robin",
    )  # fmt: skip
    assert status == 0
    table = out.splitlines()
    header = next(i for i, row in enumerate(table) if row.startswith("candidate"))
    labels = [row.split("  ")[0] for row in table[header + 1 : header + 4]]
    assert labels == ["ingress-nginx $host", "nginx $host$request_uri", "round-robin"]
    assert "hottest keys of ingress-nginx $host (3 distinct)" in out
    assert "10.244.0.7:8080" in out  # the six default pods are listed


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"", [], "is empty: no line to analyse"),
        (b"\x00\x01\x02junk\n" * 50, [], "is binary data, not a text access log"),
        (b"not a log\n" * 500 + b"\x00\xff" * 100, [], "is binary data, not a text access log"),
        (b"\x1f\x8bxx", [], "cannot read it: Compressed file ended"),
        (b"hello\nworld\n", [], "no line matches the log format upstreaminfo; line 1: 'hello'"),
        (b"", ["--hash-by", "$host"], "needs $host or $http_host, but the log format upstreaminfo"),
        (b"", ["--log-format", "$hots $request"], "unknown variable $hots"),
        (b"", ["--candidate", "bogus"], "--candidate 'bogus': give FLAVOR=EXPR"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(capsys, tmp_path, content, args, message):
    path = tmp_path / "input.log"
    path.write_bytes(content)
    status, out, err = run(capsys, "--access-log", path, *args)
    assert status == 1 and out == ""
    assert err.startswith("ingressbed: error: ") and err.count("\n") == 1
    assert message in err


def test_time_going_backwards_names_the_line(capsys, tmp_path):
    lines = list(generate.lines(5, fmt="combined"))
    lines.insert(3, lines[0].replace("12:00:00", "11:00:00"))
    path = tmp_path / "unsorted.log"
    path.write_text("".join(lines))
    status, _, err = run(capsys, "--access-log", path, "--log-format", "combined")
    assert status == 1
    assert "line 4: time goes backwards" in err and "(3600 s)" in err


def test_skipped_lines_are_shown_with_their_numbers(capsys, tmp_path):
    lines = list(generate.lines(20, fmt="combined"))
    lines[6] = "not a log line\n"
    path = tmp_path / "access.log"
    path.write_text("".join(lines))
    status, out, _ = run(capsys, "--access-log", path, "--log-format", "combined")
    assert status == 0
    assert "19 requests (1 lines skipped)" in out
    assert "line 7: does not match the log format: not a log line" in out


def test_a_url_list_is_spaced_by_rate(capsys, tmp_path):
    path = tmp_path / "url.log"
    path.write_text("http://a.test/1\nhttp://a.test/1\nhttp://a.test/2\nhttp://a.test/1\n")
    common = ["--access-log", path, "--log-format", "urls", "--hash-by", "$request_uri", "--json"]
    _, fast, _ = run(capsys, *common, "--rate", "100")
    _, slow, _ = run(capsys, *common, "--rate", "0.001")
    assert json.loads(fast)["cache_hit_ratio"] == 0.5
    assert json.loads(slow)["cache_hit_ratio"] == 0.0


def test_progress_lines_go_to_stderr(capsys, vhost_log, monkeypatch):
    monkeypatch.setattr(analyze_log, "PROGRESS_EVERY", 0.0)
    status = main(
        ["analyze", "--access-log", str(vhost_log), "--log-format", generate.VHOST, "--json"]
    )
    out, err = capsys.readouterr()
    assert status == 0 and json.loads(out)["requests"] == 3000
    assert "ingressbed: analyze: 3,000 lines read" in err


def test_plot_writes_a_png_per_candidate_panel(capsys, vhost_log, tmp_path):
    png = tmp_path / "load.png"
    status, out, _ = run(
        capsys, "--access-log", vhost_log, "--log-format", generate.VHOST,
        "--candidate", "ingress-nginx=$host", "--candidate", "round-robin", "--plot", png,
    )  # fmt: skip
    assert status == 0 and f"wrote {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_one_clear_error(capsys, vhost_log, tmp_path, monkeypatch):
    monkeypatch.setattr(render.importlib.util, "find_spec", lambda name: None)
    status, _, err = run(capsys, "--access-log", vhost_log, "--plot", tmp_path / "x.png")
    assert status == 1
    assert err == "ingressbed: error: --plot needs matplotlib: pip install 'ingressbed[plots]'\n"


def test_the_generator_is_seeded_and_zipf_popular():
    first = list(generate.lines(2000, fmt="urls", seed=5))
    assert first == list(generate.lines(2000, fmt="urls", seed=5))
    counts = {url: first.count(url) for url in set(first)}
    assert max(counts, key=counts.__getitem__) == "http://site1.example.test/article/1\n"


def test_host_option_supplies_the_host_upstreaminfo_does_not_log(capsys, tmp_path):
    path = tmp_path / "access.log"
    path.write_text("".join(generate.lines(500)))
    status, out, _ = run(
        capsys, "--access-log", path, "--hash-by", "$host$request_uri", "--host", "Shop.Test",
        "--top", "1", "--json",
    )  # fmt: skip
    assert status == 0
    hottest = json.loads(out)["candidates"][0]["hottest_keys"][0]
    assert hottest["key"] == "shop.test/article/1"  # $host is lowercased, as nginx does


def test_replay_needs_a_hashing_candidate(capsys, tmp_path):
    path = tmp_path / "access.log"
    path.write_text("".join(generate.lines(50)))
    status, _, err = run(
        capsys, "--access-log", path, "--candidate", "round-robin", "--replay", "5",
        "--backend", "local",
    )  # fmt: skip
    assert status == 1
    assert "--replay needs a candidate with a hash key" in err
