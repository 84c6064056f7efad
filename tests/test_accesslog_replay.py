"""`--replay`: a sample of a log through the real local bed (nginx + hellogo), compared."""

from __future__ import annotations

import json

import pytest

from ingressbed.accesslog import generate
from ingressbed.accesslog.records import Record
from ingressbed.accesslog.replay import bed_setup, compare, predict
from ingressbed.accesslog.results import Sampled
from ingressbed.cli import main
from ingressbed.placement import Request, synthetic_endpoints
from ingressbed.vocabulary import Observation


@pytest.mark.slow
def test_a_replayed_sample_agrees_with_the_model_on_pods_and_cache(capsys, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(generate.lines(4000, fmt="vhost", pages=60, clients=300)))
    status = main(
        [
            "analyze", "-q", "--access-log", str(log), "--log-format", generate.VHOST,
            "--hash-by", "$host$request_uri", "--replay", "200", "--backend", "local", "--json",
        ]
    )  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    replay = data["replay"]
    assert (replay["backend"], replay["flavor"], replay["sent"]) == ("local", "ingress-nginx", 200)
    assert replay["disagreements"] == []
    assert replay["pods_agree"] == replay["cache_agree"] == 200
    # Both outcomes occur, so agreeing on X-Cache-Status is not agreeing on a constant.
    assert replay["statuses"]["HIT"] > 0 and replay["statuses"]["MISS"] > 0
    assert len(set(replay["endpoints"])) == 6
    assert status == 0


def test_the_setup_keeps_every_path_and_host():
    setup = bed_setup("$host$request_uri")
    assert setup.ingress.annotation("upstream-hash-by") == "$host$request_uri"
    assert {(r.path, r.service_port, r.host) for r in setup.ingress.routes} >= {("/", 8080, None)}


def sampled(line, uri, host="a.test", client="10.0.0.1", method="GET"):
    request = Request(client_ip=client, host=host, request_uri=uri)
    return Sampled(line, Record(request, (host, uri), method in ("GET", "HEAD"), method))


def test_predicted_statuses_follow_the_per_pod_cache():
    pods = synthetic_endpoints(3)
    sample = [sampled(1, "/a"), sampled(2, "/a"), sampled(3, "/a", host="A.TEST:80"),
              sampled(4, "/a", method="POST"), sampled(5, "/b")]  # fmt: skip
    statuses = [status for _, status in predict(sample, "nginx", pods, "$request_uri")]
    assert statuses == ["MISS", "HIT", "HIT", "BYPASS", "MISS"]


def test_disagreements_are_listed_with_line_prediction_and_answer():
    pods = synthetic_endpoints(3)
    sample = [sampled(7, "/a"), sampled(9, "/b")]
    predicted = predict(sample, "nginx", pods, "$request_uri")
    good = predicted[0][0]
    other = next(p for p in pods if p != predicted[1][0])
    observed = [
        Observation("http", "10.0.0.1", "a.test", "/a", "p", good.address, 8080, 200, "MISS"),
        Observation("http", "10.0.0.1", "a.test", "/b", "q", other.address, 8080, 200, "HIT"),
    ]
    pods_agree, cache_agree, found = compare(sample, predicted, observed)
    assert (pods_agree, cache_agree) == (1, 0 + 1)
    (wrong,) = found
    assert wrong.line == 9
    assert wrong.text() == (
        f"line 9: 10.0.0.1 a.test /b: predicted {predicted[1][0]} MISS, "
        f"bed answered {other.address}:8080 HIT"
    )


def test_a_disagreement_makes_the_command_exit_1(capsys, tmp_path, monkeypatch):
    from ingressbed.accesslog import replay

    def disagreeing(sample, candidates, options):
        assert options.backend == "local"  # the bed options reach the replay
        predicted = predict(sample, "nginx", synthetic_endpoints(6), "$request_uri")
        observed = [
            Observation("http", "", "a", s.record.request.request_uri, "p", "192.0.2.1", 8080, 200)
            for s in sample
        ]
        pods, cache, found = compare(sample, predicted, observed)
        return replay.Report("local", "nginx", "$request_uri", [], len(sample), 0.1, pods,
                             cache, {}, found)  # fmt: skip

    monkeypatch.setattr(replay, "run", disagreeing)
    log = tmp_path / "url.log"
    log.write_text("http://a.test/x\nhttp://a.test/y\n")
    status = main(
        ["analyze", "-q", "--access-log", str(log), "--log-format", "urls", "--hash-by",
         "$request_uri", "--replay", "2", "--backend", "local"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 1
    assert "2 disagreements; the first:" in out
    assert "line 1: - a.test /x: predicted" in out
