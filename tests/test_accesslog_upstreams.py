"""`--upstream` and `--which-key` on production-like logs: one backend out of several, its
pods as the log saw them, periods, and the agreement of each candidate (exact counts)."""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from ingressbed.accesslog import production
from ingressbed.accesslog.upstreams import (
    DEFAULT_BACKEND,
    Seen,
    Selector,
    chance_gap,
    first_attempt,
    periods,
)
from ingressbed.cli import main
from ingressbed.vocabulary import Endpoint

LINES = 6000


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three backends (the shop hashed by $request_uri, the blog by $remote_addr, the API
    in turn) and default-backend 404s; retries and internal redirects on some lines."""
    log = tmp_path_factory.mktemp("mixed") / "access.log"
    log.write_text("".join(production.lines(LINES, production.standard("$request_uri"))))
    return log


def analyse(capsys: pytest.CaptureFixture[str], log: Path, *options: str) -> dict:
    assert main(["analyze", "-q", "--access-log", str(log), "--json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def by_hand(log: Path, backend: str) -> Counter[str]:
    """First attempts per pod of one backend, read with str.split (the reference)."""
    found: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        name = line.split("[")[2].split("]")[0]
        if name == backend:
            tried = line.split("] [] ")[1]
            found[tried.split(" ")[0].rstrip(",")] += 1
    return found


@pytest.mark.parametrize(
    ("logged", "first"),
    [
        ("10.0.0.1:80", "10.0.0.1:80"),
        ("10.0.0.1:80, 10.0.0.2:80", "10.0.0.1:80"),  # a retry on a second pod
        ("10.0.0.1:80 : 10.96.0.20:80", "10.0.0.1:80"),  # an internal redirect
        ("10.0.0.1:80, 10.0.0.2:80 : 10.96.0.20:80", "10.0.0.1:80"),
        ("[fd00::1]:80, [fd00::2]:80", "[fd00::1]:80"),
        ("-", None),
        ("", None),
    ],
)
def test_the_first_attempt_is_read_as_nginx_writes_the_list(logged, first):
    assert first_attempt(logged) == first


def test_a_glob_never_takes_the_default_backend_unless_named():
    assert Selector("*")("default-web-80") and not Selector("*")(DEFAULT_BACKEND)
    assert Selector(DEFAULT_BACKEND)(DEFAULT_BACKEND)
    assert not Selector("*")("-")


def test_one_backend_of_a_mixed_log_is_analysed_exactly(mixed, capsys):
    candidates = ["--candidate", "ingress-nginx=$remote_addr", "--candidate", "round-robin"]
    data = analyse(capsys, mixed, "--upstream", "default-blog-80", *candidates)
    names = Counter(line.split("[")[2].split("]")[0] for line in mixed.read_text().splitlines())
    upstream = data["upstream"]
    assert upstream["backends"] == dict(names) and len(names) == 4
    assert names[DEFAULT_BACKEND] > 0
    assert upstream["requests"] == data["requests"] == names["default-blog-80"]
    expected = by_hand(mixed, "default-blog-80")
    assert upstream["actual"] == dict(expected)
    # Retries' second pods and redirects' targets are not pods; every pod was tried first.
    assert {p["endpoint"] for p in upstream["pods"]} == set(expected) and len(expected) == 3
    blog = [x.split("[default-blog-80] [] ")[1] for x in mixed.read_text().splitlines()
            if "[default-blog-80] [] " in x]  # fmt: skip
    assert sum(", " in x.split(" 512 ")[0] for x in blog) > 10  # retries
    assert sum(" : 10.96.0.20:80" in x for x in blog) > 5  # internal redirects
    assert [p["endpoint"] for p in upstream["pods"]] == [f"10.244.2.{i}:80" for i in (2, 3, 4)]
    fits = {f["candidate"]: f for f in data["agreement"]}
    assert fits["$remote_addr"]["agreement"] == 1.0
    assert fits["$remote_addr"]["predicted"] == dict(expected)
    assert len(upstream["periods"]) == 1
    # The simulation saw the blog's lines only, on the blog's pods.
    assert data["endpoints"] == [p["endpoint"] for p in upstream["pods"]]


def test_which_key_ranks_the_key_in_force_first_and_finds_round_robin(mixed, capsys):
    shop = analyse(capsys, mixed, "--upstream", "default-shop-*", "--which-key",
                   "--try", "$http_user_agent")  # fmt: skip
    assert shop["which_key"][0] == {"candidate": "$request_uri", "agreement": 1.0}
    assert "$http_user_agent" in [f["candidate"] for f in shop["which_key"]]
    shares = [f["agreement"] for f in shop["which_key"]]
    assert shares == sorted(shares, reverse=True) and shares[1] < 1.0
    assert any(n.startswith("$host") for n in shop["not_tried"])  # upstreaminfo logs no host
    api = analyse(capsys, mixed, "--upstream", "default-api-9090", "--which-key")
    assert api["which_key"][0] == {"candidate": "round-robin", "agreement": 1.0}
    assert all(f["agreement"] < 0.5 for f in api["which_key"][1:])


def test_a_pod_added_mid_log_splits_the_analysis_into_periods(tmp_path, capsys):
    log = tmp_path / "scaled.log"
    backends = production.standard("$request_uri", scale_at=0.5)
    log.write_text("".join(production.lines(LINES, backends)))
    data = analyse(capsys, log, "--upstream", "default-shop-8080", "--which-key")
    periods = data["upstream"]["periods"]
    assert [len(p["endpoints"]) for p in periods] == [6, 7]
    assert "10.244.1.8:8080" not in periods[0]["endpoints"]
    # Exact in both periods only with each period's own pods.
    assert data["which_key"][0] == {"candidate": "$request_uri", "agreement": 1.0}
    fit = next(f for f in data["agreement"] if f["candidate"] == "$request_uri")
    assert 0 < fit["moved_per_period"][0] < periods[1]["requests"]
    # Over the seven pods from the start the first half disagrees.
    pods = ",".join(str(p) for p in (*production.pods(1, 6, 8080), Endpoint("10.244.1.8", 8080)))
    fixed = analyse(capsys, log, "--upstream", "default-shop-8080", "--which-key",
                    "--endpoints", pods)  # fmt: skip
    assert fixed["which_key"][0]["agreement"] < 1.0


def test_a_rarely_seen_pod_is_not_a_scale_up():
    seen = Seen(Selector("b"))
    for i in range(200):
        seen.add("b", "10.0.0.1:80" if i % 2 else "10.0.0.2:80", i + 1)
    seen.add("b", "10.0.0.3:80", 201)  # after 200 requests without it: a scale-up
    assert chance_gap(3) < 200
    assert [len(p.endpoints) for p in periods(seen)] == [2, 3]
    early = Seen(Selector("b"))
    early.add("b", "10.0.0.1:80", 1)
    early.add("b", "10.0.0.2:80", 2)
    early.add("b", "10.0.0.3:80", 3)  # seen third: there from the start
    assert [len(p.endpoints) for p in periods(early)] == [3]


def test_the_table_shows_the_log_beside_each_candidate_and_the_plot_is_drawn(
    mixed, capsys, tmp_path, monkeypatch
):
    monkeypatch.setattr("sys.stdin", io.StringIO(mixed.read_text()))  # read twice: spooled
    made: list[Path] = []
    real = tempfile.TemporaryDirectory

    def recording(*args, **kwargs):
        folder = real(*args, **kwargs)
        made.append(Path(folder.name))
        return folder

    monkeypatch.setattr(tempfile, "TemporaryDirectory", recording)
    png = tmp_path / "which.png"
    status = main(["analyze", "-q", "--access-log", "-", "--upstream", "default-shop-8080",
                   "--which-key", "--plot", str(png)])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0 and f"wrote {png}" in out
    assert "the key in force: $request_uri (agreement 1.000); next best $uri" in out
    table = out[out.index("requests per pod: the log's") :].splitlines()
    assert table[1].startswith("  #1 $request_uri, #2 ")
    rows = [r.split() for r in table[3:9]]
    assert len(rows) == 6 and all(r[1] == r[2] for r in rows)  # the log's share = #1's
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(made) == 1 and not made[0].exists()  # the spooled copy is gone


def test_without_upstream_the_default_backend_is_no_services_traffic(mixed, capsys):
    data = analyse(capsys, mixed, "--hash-by", "$request_uri")
    names = Counter(line.split("[")[2].split("]")[0] for line in mixed.read_text().splitlines())
    assert data["default_backend_lines"] == names[DEFAULT_BACKEND] > 0
    assert data["requests"] == LINES - names[DEFAULT_BACKEND]
    asked = analyse(capsys, mixed, "--hash-by", "$request_uri", "--upstream", DEFAULT_BACKEND)
    assert asked["requests"] == names[DEFAULT_BACKEND]


def test_a_glob_matching_several_backends_is_one_line_naming_them(mixed, capsys):
    assert main(["analyze", "-q", "--access-log", str(mixed), "--upstream", "default-*"]) == 1
    assert capsys.readouterr().err == (
        "ingressbed: error: --upstream default-* matches 3 backends (default-api-9090, "
        "default-blog-80, default-shop-8080): give one; each has its own pods and key\n"
    )
