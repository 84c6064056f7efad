"""The migration report: merge, what changes (and what is noise), JSON, Markdown, PNGs, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingressbed.cli import main
from ingressbed.errors import ConfigError
from ingressbed.report import migration_files, migration_markdown, migration_plots
from ingressbed.report.migration import ABSENT, from_json, merge
from ingressbed.report.migration_changes import (
    FALLS,
    NOT_COMPARED,
    NOW_FAILS,
    RISES,
    compare,
    material,
)
from ingressbed.report.migration_planes import about, rendering
from ingressbed.report.results import (
    MEASURED,
    SKIPPED,
    CandidateResult,
    PropertyResult,
    Report,
)
from ingressbed.vocabulary import DataPlane

REPO = Path(__file__).resolve().parent.parent
PROPERTIES = (
    ("cross_port", "cross-port", "share of clients on one pod on all routes"),
    ("cache_hit_ratio", "cache hits", "share of HIT"),
    ("client_stickiness", "client sticky", "share of pairs on one pod"),
    ("spread_max_mean", "max/mean", "busiest over mean"),
)


def prop(name, observed, passed=True, low=None, high=None, expected="= 1"):
    return PropertyResult(name, "binomial", expected, "why", observed, passed, low, high)


def candidate(cid, *properties, status=MEASURED, reason="", annotations=None):
    return CandidateResult(
        id=cid,
        intent=f"intent of {cid}",
        status=status,
        annotations=annotations or {},
        properties=tuple(properties),
        reason=reason,
    )


def run(backend, plane, *candidates, started="2026-03-01T10:00:00+0000"):
    return Report(
        backend=backend,
        data_plane=plane,
        versions={"nginx": "1.25.3"} if "nginx" in plane else {"haproxy": "2.6.12"},
        catalog="manifests/catalog",
        started=started,
        finished=started,
        properties=PROPERTIES,
        candidates=tuple(candidates),
    )


def ingress_nginx():
    return run(
        "kind",
        "ingress-nginx",
        candidate(
            "ip-hash-three-ports",
            prop("cross_port", 0.03, low=0.0, high=0.07),
            prop("cache_hit_ratio", 0.17, low=0.10, high=0.24),
            prop("client_stickiness", 1.0, low=1.0, high=1.0),
            annotations={"upstream-hash-by": "$binary_remote_addr"},
        ),
        candidate(
            "request-uri",
            prop("cache_hit_ratio", 1.0, low=1.0, high=1.0),
            prop("spread_max_mean", 1.10, low=1.10, high=1.10),
            annotations={"upstream-hash-by": "$request_uri"},
        ),
        candidate("cookie", prop("client_stickiness", 1.0, low=1.0, high=1.0)),
    )


def ip_hash():
    """nginx:ip-hash: cross-port rises, URL caching collapses, the rest is noise."""
    return run(
        "local",
        "nginx:ip-hash",
        candidate(
            "ip-hash-three-ports",
            prop("cross_port", 1.0, low=1.0, high=1.0),
            prop("cache_hit_ratio", 0.19, low=0.10, high=0.24),  # noise: inside the bounds
            prop("client_stickiness", 1.0, low=1.0, high=1.0),
            annotations={"upstream-hash-by": "$binary_remote_addr"},
        ),
        candidate(
            "request-uri",
            prop("cache_hit_ratio", 0.16, low=0.10, high=0.24),
            prop("spread_max_mean", 1.16, low=1.16, high=1.16),  # other pods: under 0.25
            annotations={"upstream-hash-by": "$request_uri"},
        ),
        candidate(
            "cookie",
            prop("client_stickiness", None, None),
            status=SKIPPED,
            reason="backend local (nginx) lacks: cookie-affinity",
        ),
    )


def haproxy():
    """haproxy: an expectation that held on ingress-nginx fails here."""
    return run(
        "local",
        "haproxy",
        candidate(
            "ip-hash-three-ports",
            prop("cross_port", 0.04, low=0.0, high=0.07),
            prop("cache_hit_ratio", 0.15, low=0.10, high=0.24),
            prop("client_stickiness", 0.95, passed=False, low=1.0, high=1.0),
        ),
        candidate(
            "request-uri",
            prop("cache_hit_ratio", 1.0, low=1.0, high=1.0),
            prop("spread_max_mean", 1.12, low=1.12, high=1.12),
        ),
    )


def merged():
    return merge(
        [("runs/ip-hash", ip_hash()), ("runs/kind", ingress_nginx()), ("runs/haproxy", haproxy())],
        "2026-03-02T09:00:00+0000",
    )


def texts(changes):
    return [c.text for c in changes]


# --- merge -------------------------------------------------------------------------------


def test_ingress_nginx_comes_first_then_the_order_given():
    migration = merged()
    assert [c.label for c in migration.columns] == [
        "ingress-nginx (kind)",
        "nginx:ip-hash (local)",
        "haproxy (local)",
    ]
    assert migration.baseline_found
    assert [c.source for c in migration.columns] == ["runs/kind", "runs/ip-hash", "runs/haproxy"]


def test_rows_are_the_union_of_candidates_and_a_missing_one_is_absent():
    migration = merged()
    assert [cid for cid, _ in migration.candidates()] == [
        "ip-hash-three-ports",
        "request-uri",
        "cookie",
    ]
    haproxy_column = migration.columns[2]
    assert migration.result("cookie", haproxy_column) is None
    cells = {row["candidate"]: row["cells"] for row in migration.matrix()}
    assert cells["cookie"]["haproxy (local)"]["status"] == ABSENT
    assert cells["cookie"]["nginx:ip-hash (local)"]["status"] == SKIPPED
    assert cells["ip-hash-three-ports"]["nginx:ip-hash (local)"]["properties"]["cross_port"] == {
        "observed": 1.0,
        "passed": True,
        "expected": "= 1",
    }


def test_the_same_plane_on_two_backends_is_two_columns():
    cluster = run("cluster", "ingress-nginx", candidate("x", prop("cross_port", 0.5)))
    kind = run("kind", "ingress-nginx", candidate("x", prop("cross_port", 0.5)))
    migration = merge([("a", cluster), ("b", kind)], "now")
    labels = [c.label for c in migration.columns]
    assert labels == ["ingress-nginx (cluster)", "ingress-nginx (kind)"]


def test_the_same_plane_twice_on_one_backend_is_refused():
    with pytest.raises(ConfigError, match=r"runs/a and runs/b are both nginx runs on local"):
        merge([("runs/a", run("local", "nginx")), ("runs/b", run("local", "nginx"))], "now")


def test_one_run_is_not_a_migration():
    with pytest.raises(ConfigError, match="two or more"):
        merge([("runs/a", run("local", "nginx"))], "now")


def test_without_ingress_nginx_the_first_run_is_the_baseline():
    migration = merge([("a", ip_hash()), ("b", haproxy())], "now")
    assert not migration.baseline_found
    assert migration.baseline.label == "nginx:ip-hash (local)"
    text = migration_markdown.render(migration)
    assert "no ingress-nginx run among the inputs" in text
    assert "## Moving from nginx:ip-hash (local) to haproxy (local): what changes" in text


# --- what changes ----------------------------------------------------------------------


def test_a_material_difference_is_reported_in_plain_words():
    changes = merged().changes_for(merged().columns[1])
    assert (
        "ip-hash-three-ports: cross-port affinity rises from 0.03 to 1.00: one client now "
        "stays on one pod across 8080, 9090 and WebSocket." in texts(changes)
    )
    falls = [c for c in changes if c.candidate == "request-uri" and c.property == "cache_hit_ratio"]
    assert [c.kind for c in falls] == [FALLS]
    assert falls[0].text.startswith("request-uri: cache hit ratio falls from 1.00 to 0.16")


def test_noise_is_not_reported():
    changes = compare(ingress_nginx(), "ingress-nginx (kind)", ip_hash(), "nginx:ip-hash (local)")
    reported = {(c.candidate, c.property) for c in changes}
    assert ("ip-hash-three-ports", "cache_hit_ratio") not in reported  # 0.17 -> 0.19
    assert ("ip-hash-three-ports", "client_stickiness") not in reported  # 1.00 -> 1.00
    assert ("request-uri", "spread_max_mean") not in reported  # 1.10 -> 1.16, under 0.25
    assert ("ip-hash-three-ports", "cross_port") in reported


def test_inside_the_baseline_bounds_is_noise_even_past_the_threshold():
    wide = prop("moved_on_scale", 0.5, low=0.0, high=0.9)
    assert not material(wide, prop("moved_on_scale", 0.8))
    assert material(wide, prop("moved_on_scale", 0.95))
    assert material(prop("cross_port", 0.03), prop("cross_port", 1.0))  # no bounds: threshold


def test_an_expectation_that_held_and_now_fails_is_reported():
    migration = merged()
    changes = migration.changes_for(migration.columns[2])
    failing = [c for c in changes if c.kind == NOW_FAILS]
    assert [(c.candidate, c.property) for c in failing] == [
        ("ip-hash-three-ports", "client_stickiness")
    ]
    assert failing[0].text == (
        "ip-hash-three-ports: client stickiness held on ingress-nginx (kind) (1.00) and fails "
        "on haproxy (local): expected = 1, observed 0.95."
    )
    assert not [c for c in changes if c.kind in (RISES, FALLS)]  # the rest is noise


def test_a_candidate_measured_on_one_side_is_not_compared_and_said_so():
    migration = merged()
    skipped = [c for c in migration.changes_for(migration.columns[1]) if c.kind == NOT_COMPARED]
    assert texts(skipped) == [
        "cookie: measured on ingress-nginx (kind), skipped on nginx:ip-hash (local): "
        "backend local (nginx) lacks: cookie-affinity."
    ]
    absent = [c for c in migration.changes_for(migration.columns[2]) if c.kind == NOT_COMPARED]
    assert texts(absent) == [
        "cookie: measured on ingress-nginx (kind), not in haproxy (local)'s catalog."
    ]


def test_every_data_plane_has_a_paragraph():
    paragraphs = {p.value: about(p.value) for p in DataPlane}
    assert all(text and "No description" not in text for text in paragraphs.values())
    assert len(set(paragraphs.values())) == len(paragraphs)  # one each, not a shared default
    assert "No description" in about("traefik")


def test_translation_of_a_candidate_per_plane():
    ip = candidate("ip", annotations={"upstream-hash-by": "$binary_remote_addr"})
    found = rendering(ip, "haproxy:pod-ids")
    assert found is not None
    assert (found.rendering, found.notes) == (
        "balance source, hash-type consistent, ids per pod",
        (),
    )
    found = rendering(ip, "nginx:ip-hash")
    assert found is not None and found.rendering == "ip_hash"
    assert any("first three octets" in n for n in found.notes)
    assert rendering(ip, "ingress-nginx") is None  # the candidate as written
    cookie = candidate("c", annotations={"affinity": "cookie"})
    found = rendering(cookie, "haproxy")
    assert found is not None
    assert found.rendering.startswith("cookie INGRESSCOOKIE insert indirect nocache dynamic")
    found = rendering(cookie, "nginx")
    assert found is not None and not found.targets
    assert found.no_equivalent.startswith("nginx has no equivalent of affinity: cookie")


# --- JSON --------------------------------------------------------------------------------


def test_json_round_trip_keeps_everything():
    migration = merged()
    text = migration.to_json()
    assert from_json(text) == migration
    data = json.loads(text)
    assert data["baseline"] == "ingress-nginx (kind)"
    assert [c["label"] for c in data["columns"]] == [c.label for c in migration.columns]
    assert data["columns"][0]["report"]["versions"] == {"nginx": "1.25.3"}
    assert data["columns"][2]["counts"]["failed"] == 1
    assert {c["kind"] for c in data["changes"]} >= {RISES, FALLS, NOW_FAILS, NOT_COMPARED}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[", "not JSON"),
        ('{"kind": "x", "schema": 1}', "not an ingressbed migration report"),
        (
            '{"kind": "ingressbed migration report", "schema": 1, "columns": []}',
            "malformed migration report",
        ),
    ],
)
def test_malformed_migration_json_is_a_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        from_json(text)


# --- Markdown ----------------------------------------------------------------------------


def test_markdown_names_each_run_and_shows_the_matrix():
    text = migration_markdown.render(merged())
    assert text.startswith(
        "# Migration report: ingress-nginx (kind) → nginx:ip-hash (local), haproxy (local)\n"
    )
    assert "- baseline: **ingress-nginx (kind)**, the data plane being left" in text
    assert (
        "| ingress-nginx (kind) | kind | ingress-nginx | nginx 1.25.3 | "
        "2026-03-01T10:00:00+0000 → 2026-03-01T10:00:00+0000 | 3 | 0 | 0 | 0 | 0 | 0 | "
        "`runs/kind` |"
    ) in text
    assert "| haproxy (local) | local | haproxy | haproxy 2.6.12 |" in text
    assert "| `ip-hash-three-ports` | 0.030 ✓ | 1.000 ✓ | 0.040 ✓ |" in text
    assert "| `ip-hash-three-ports` | as expected | as expected | **NOT as expected** |" in text
    assert "| `request-uri` | — | — | — |" in text.split("### cross-port")[1].split("###")[0]
    assert text.index("### cross-port") < text.index("### cache hits") < text.index("### max/mean")


def test_markdown_lists_unmeasured_cells_with_their_reason():
    text = migration_markdown.render(merged())
    assert (
        "- `cookie` on nginx:ip-hash (local): skipped: backend local (nginx) lacks: cookie-affinity"
    ) in text
    assert "- `cookie` on haproxy (local): absent (not in the run's catalog)" in text


def test_markdown_says_what_changes_per_plane():
    text = migration_markdown.render(merged())
    section = text.split("## Moving from ingress-nginx (kind) to nginx:ip-hash (local)")[1]
    section = section.split("## ")[0]
    assert about("nginx:ip-hash") in section
    assert "- ip-hash-three-ports: cross-port affinity rises from 0.03 to 1.00" in section
    assert "- `request-uri`: ip_hash" in section
    assert "ip_hash ignores the key $request_uri" in section
    haproxy_section = text.split("## Moving from ingress-nginx (kind) to haproxy (local)")[1]
    assert "client stickiness held on ingress-nginx (kind) (1.00) and fails" in haproxy_section


def test_markdown_says_when_nothing_changes():
    same = run("local", "nginx", *ingress_nginx().candidates)
    text = migration_markdown.render(merge([("a", ingress_nginx()), ("b", same)], "now"))
    assert "No figure differs from ingress-nginx (kind) by more than its threshold" in text


# --- PNGs and files ----------------------------------------------------------------------


def test_pngs_per_key_property(tmp_path):
    pytest.importorskip("matplotlib")
    drawn = migration_plots.write(merged(), tmp_path)
    assert drawn == {
        "cross_port": "migration-cross_port.png",
        "cache_hit_ratio": "migration-cache_hit_ratio.png",
        "client_stickiness": "migration-client_stickiness.png",
        "spread_max_mean": "migration-spread_max_mean.png",
    }
    for name in drawn.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def write_run(folder: Path, report: Report) -> Path:
    folder.mkdir(parents=True)
    report.write(folder / "report.json")
    return folder


def runs(tmp_path):
    return [
        write_run(tmp_path / "reports" / "20260301-100000", ip_hash()),
        write_run(tmp_path / "reports" / "20260301-110000", ingress_nginx()),
        write_run(tmp_path / "reports" / "20260301-120000", haproxy()),
    ]


def test_cli_merges_several_runs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    folders = runs(tmp_path)
    out = tmp_path / "migration"
    assert main(["report", *map(str, folders), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(out / "migration.json")
    assert printed[-1] == str(out / "migration.md")
    assert str(out / "migration-cross_port.png") in printed
    assert all(Path(p).is_file() for p in printed)
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in printed)
    data = json.loads((out / "migration.json").read_text())
    assert data["baseline"] == "ingress-nginx (kind)"
    assert "![cross-port per candidate" in (out / "migration.md").read_text()


@pytest.mark.slow
def test_cli_default_out_is_beside_the_runs(tmp_path):
    folders = runs(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ingressbed.cli", "report", *map(str, folders[:2])],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    made = [p for p in (tmp_path / "reports").iterdir() if p.name.startswith("migration-")]
    assert len(made) == 1
    assert result.stdout.splitlines()[0] == str(made[0] / "migration.json")
    assert not [p for p in (tmp_path / "reports").iterdir() if p.name.startswith(".")]


def test_default_out_never_reuses_a_folder(tmp_path):
    first = tmp_path / "reports" / "20260301-100000"
    (tmp_path / "reports" / "migration-X").mkdir(parents=True)
    assert migration_files.default_out(first, "X") == tmp_path / "reports" / "migration-X-2"


def test_one_dir_still_re_renders_that_run(tmp_path, capsys):
    folder = write_run(tmp_path / "run", ingress_nginx())
    assert main(["report", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == str(folder / "report.md")
    assert main(["report", str(folder), "--out", str(tmp_path / "o")]) == 1
    assert "--out is for a migration report" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no report.json in {bad}: give the folder of a catalog run"),
        ("{", "{bad}/report.json:1: not JSON"),
        ('{"schema": 99}', "{bad}/report.json: not an ingressbed catalog report"),
        ('{"schema": 1, "candidates": []}', "{bad}/report.json: malformed report"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, capsys, content, message):
    folders = runs(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    if content is not None:
        (bad / "report.json").write_text(content)
    out = tmp_path / "out"
    assert main(["report", str(folders[0]), str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message.format(bad=bad) in err
    assert "give the folder of a catalog run" in err
    assert not out.exists()


def test_two_runs_of_one_plane_and_backend_are_refused_by_the_cli(tmp_path, capsys):
    a = write_run(tmp_path / "a", haproxy())
    b = write_run(tmp_path / "b", haproxy())
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "out")]) == 1
    assert "both haproxy runs on local" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_existing_out_with_files_is_refused_and_kept(tmp_path, capsys):
    folders = runs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["report", *map(str, folders), "--out", str(out)]) == 1
    assert "already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(migration_plots, "write", broken)
    out = tmp_path / "reports" / "out"
    with pytest.raises(RuntimeError, match="drawing failed"):
        migration_files.build(runs(tmp_path), out)
    assert not out.exists()
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "20260301-100000",
        "20260301-110000",
        "20260301-120000",
    ]
