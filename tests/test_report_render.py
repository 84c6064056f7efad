"""The catalog report: JSON round trip, Markdown matrix, optional PNGs, `ingressbed report`."""

from __future__ import annotations

import json

import pytest

from ingressbed import report
from ingressbed.cli import main
from ingressbed.errors import ConfigError
from ingressbed.report import markdown, plots
from ingressbed.report.results import (
    MEASURED,
    NOT_RUN,
    SKIPPED,
    CandidateResult,
    PropertyResult,
    Report,
    from_json,
)

PROPERTIES = (
    ("client_stickiness", "client sticky", "share of pairs on one pod"),
    ("spread_max_mean", "max/mean", "busiest over mean"),
    ("model_agreement", "model", "picks as predicted"),
)


def prop(name, observed, passed, kind="equals", expected="= 1", why="because"):
    return PropertyResult(name, kind, expected, why, observed, passed, detail="n of m")


def sample() -> Report:
    good = CandidateResult(
        id="ip-hash",
        intent="hash by client",
        status=MEASURED,
        plane="nginx",
        layout="three-ports",
        replicas=6,
        annotations={"upstream-hash-by": "$binary_remote_addr"},
        properties=(
            prop("client_stickiness", 1.0, True),
            prop("spread_max_mean", 1.087, True, "model", "= 1.087 (model)"),
            prop("model_agreement", 1.0, True, why="ring | nodes `host NUL port`"),
        ),
        load={"pod-a": 140, "pod-b": 120},
        requests=5200,
        seconds=1.6,
    )
    bad = CandidateResult(
        id="rr",
        intent="round robin",
        status=MEASURED,
        plane="nginx",
        properties=(
            prop("client_stickiness", 0.5, False, "at_most", "≤ 0.1"),
            PropertyResult(
                "spread_max_mean", "at_most", "≤ 1.1", "w", None, False, detail="nothing to judge"
            ),
        ),
        load={"pod-a": 130, "pod-b": 130},
        errors=1,
        error_examples=("http 10.0.0.1 h/8080 -> 0 ConnectError",),
    )
    skipped = CandidateResult(
        id="cookie",
        intent="cookie affinity",
        status=SKIPPED,
        plane="ingress-nginx",
        reason="backend local (nginx) lacks: cookie-affinity",
        properties=(PropertyResult("client_stickiness", "equals", "= 1", "cookie kept"),),
    )
    unrun = CandidateResult(id="ewma", intent="ewma", status=NOT_RUN, reason="not selected")
    return Report(
        backend="local",
        data_plane="nginx",
        versions={"nginx": "1.22.1"},
        catalog="manifests/catalog.yaml",
        started="2026-01-01T00:00:00+0000",
        finished="2026-01-01T00:00:20+0000",
        properties=PROPERTIES,
        candidates=(good, bad, skipped, unrun),
    )


def test_json_round_trip_keeps_everything():
    original = sample()
    assert from_json(original.to_json()) == original
    data = json.loads(original.to_json())
    assert data["candidates"][0]["properties"][0] == {
        "name": "client_stickiness",
        "kind": "equals",
        "expected": "= 1",
        "why": "because",
        "observed": 1.0,
        "passed": True,
        "low": None,
        "high": None,
        "detail": "n of m",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ('{"schema": 99}', "not an ingressbed catalog report"),
        ('{"schema": 1, "candidates": []}', "malformed report"),
    ],
)
def test_malformed_json_is_a_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        from_json(text)


def test_counts_and_verdicts():
    result = sample()
    assert result.counts() == {
        "passed": 1,
        "failed": 1,
        "no equivalent": 0,
        "skipped": 1,
        "error": 0,
        "not run": 1,
    }
    good, bad = result.candidates[:2]
    assert good.ok and not bad.ok
    assert [p.name for p in bad.failed] == ["client_stickiness", "spread_max_mean"]
    unjudged = CandidateResult("x", "nothing judged", MEASURED)
    assert not unjudged.ok  # a measured candidate with no verdict is not as expected


def test_markdown_has_the_matrix_reasons_and_skips():
    text = markdown.render(sample(), {"ip-hash": "load-ip-hash.png"}, "")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| candidate | status |"))
    assert header == "| candidate | status | client sticky | max/mean | model |"
    assert "| [`ip-hash`](#ip-hash) | as expected | 1.000 ✓ | 1.087 ✓ | 1.000 ✓ |" in lines
    assert "| [`rr`](#rr) | **NOT as expected** | 0.500 ✗ | ✗ | — |" in lines
    assert "| [`cookie`](#cookie) | skipped | · | · | · |" in lines
    assert "- `cookie` (skipped): backend local (nginx) lacks: cookie-affinity" in lines
    assert "ring \\| nodes `host NUL port`" in text  # a pipe inside a cell is escaped
    assert "![load per pod of ip-hash](load-ip-hash.png)" in lines
    assert "- expectations on **ingress-nginx** (the catalog states none for nginx)" in lines
    assert "- **1 requests failed**, e.g.:" in lines
    assert markdown.LEGEND in lines


def test_without_matplotlib_the_report_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "unavailable", lambda: plots.INSTALL_HINT)
    written = report.write(sample(), tmp_path)
    assert [p.name for p in written] == ["report.json", "report.md"]
    text = (tmp_path / "report.md").read_text()
    assert f"- plots: {plots.INSTALL_HINT}" in text
    assert f"_Plot skipped: {plots.INSTALL_HINT}_" in text


def test_with_matplotlib_each_measured_candidate_gets_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    written = report.write(sample(), tmp_path)
    pngs = sorted(p.name for p in written if p.suffix == ".png")
    assert pngs == ["load-ip-hash.png", "load-rr.png"]
    assert (tmp_path / "load-rr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![load per pod of rr](load-rr.png)" in (tmp_path / "report.md").read_text()


def test_cli_rerenders_report_md_from_report_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plots, "unavailable", lambda: plots.INSTALL_HINT)
    sample().write(tmp_path / "report.json")
    assert main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.md")
    assert "## Matrix" in (tmp_path / "report.md").read_text()
    assert main(["report", str(tmp_path / "report.json")]) == 0


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no report.json in" in capsys.readouterr().err
    (tmp_path / "report.json").write_text("{")
    assert main(["report", str(tmp_path)]) == 1
    assert "not JSON" in capsys.readouterr().err


def test_cli_into_a_folder_that_cannot_take_the_report_is_one_line(tmp_path, capsys):
    sample().write(tmp_path / "report.json")
    # report.md cannot be written (as root, mode bits would not stop it)
    (tmp_path / "report.md").mkdir()
    assert main(["report", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"ingressbed: error: cannot write the report in {tmp_path}: Is a directory "
        f"({tmp_path / 'report.md'}); copy the run folder somewhere writable and re-render it "
        "there"
    ]
