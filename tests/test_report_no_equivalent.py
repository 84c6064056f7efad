"""A candidate a plane has no equivalent of, and what to write instead, in the reports:
report.md, migration.md and migration.json (pure: reports in, text out)."""

from __future__ import annotations

import json

from ingressbed import catalog
from ingressbed.planes import Target
from ingressbed.planes.haproxy import HaproxyPlane
from ingressbed.report import markdown, migration_markdown
from ingressbed.report.candidates import no_equivalent, not_played
from ingressbed.report.migration import from_json, merge
from ingressbed.report.migration_changes import NO_EQUIVALENT as NO_EQUIVALENT_CHANGE
from ingressbed.report.results import (
    MEASURED,
    NO_EQUIVALENT,
    SKIPPED,
    CandidateResult,
    PropertyResult,
    Report,
)

CATALOG = catalog.load()
REASON = "nginx has no equivalent of affinity: cookie: sticky cookies are NGINX Plus only"


def measured(cid: str, annotations: dict[str, str]) -> CandidateResult:
    sticky = PropertyResult("client_stickiness", "equals", "= 1", "why", 1.0, True, 1.0, 1.0)
    return CandidateResult(
        cid,
        f"intent of {cid}",
        MEASURED,
        annotations=annotations,
        layout="/8080 → 8080, /9090 → 9090, /ws → 8081",
        replicas=6,
        properties=(sticky,),
    )


def report(plane: str, *candidates: CandidateResult) -> Report:
    return Report(
        backend="local",
        data_plane=plane,
        versions={},
        catalog="manifests/catalog",
        started="2026-03-01T10:00:00+0000",
        finished="2026-03-01T10:00:00+0000",
        properties=(("client_stickiness", "client sticky", "share of pairs on one pod"),),
        candidates=candidates,
    )


def test_the_record_has_the_reason_and_no_expectations():
    cookie = CATALOG.get("cookie-balanced")
    record = no_equivalent(cookie, REASON, "nginx")
    assert (record.status, record.reason, record.plane) == (NO_EQUIVALENT, REASON, "nginx")
    assert record.properties == () and not record.ok
    # a skipped one lists the expectations of a plane the catalog states some for
    assert not_played(cookie, SKIPPED, "lacks", "nginx").properties


def test_report_md_shows_a_dash_and_the_reason():
    cookie = CATALOG.get("cookie-balanced")
    text = markdown.render(report("nginx", no_equivalent(cookie, REASON, "nginx")))
    assert "| [`cookie-balanced`](#cookie-balanced) | — no equivalent | — |" in text
    assert f"No equivalent on nginx (—):\n\n- `cookie-balanced`: {REASON}\n" in text
    assert "1 with no equivalent, 0 skipped" in text
    assert "skipped" not in text.split("## Candidates")[1]
    assert f"- **— no equivalent**: {REASON}" in text


def test_the_migration_report_says_no_equivalent_and_what_to_write_instead():
    cookie = {"affinity": "cookie"}
    baseline = report("ingress-nginx", measured("cookie-balanced", cookie))
    absent = CandidateResult(
        "cookie-balanced", "i", NO_EQUIVALENT, reason=REASON, annotations=cookie
    )
    nginx = report("nginx", absent)
    haproxy = report("haproxy", measured("cookie-balanced", cookie))
    migration = merge([("a", baseline), ("b", nginx), ("c", haproxy)], "now")
    (change,) = migration.changes_for(migration.columns[1])
    assert change.kind == NO_EQUIVALENT_CHANGE
    assert change.text == f"cookie-balanced: measured on ingress-nginx (local); {REASON}."
    text = migration_markdown.render(migration)
    assert "| `cookie-balanced` | as expected | — no equivalent | as expected |" in text
    assert "| `cookie-balanced` | 1.000 ✓ | — | 1.000 ✓ |" in text  # the property table
    assert f"### No equivalent (—)\n\n- `cookie-balanced` on nginx (local): {REASON}\n" in text
    assert f"- `cookie-balanced`: — no equivalent: {REASON}" in text
    haproxy_section = text.split("## Moving from ingress-nginx (local) to haproxy (local)")[1]
    assert "- `cookie-balanced`: cookie INGRESSCOOKIE insert indirect nocache dynamic" in (
        haproxy_section
    )
    assert "### What to write instead on the controllers haproxy stands for" in haproxy_section
    assert "#### `cookie-balanced` on haproxy (local)" in haproxy_section
    assert "    haproxy.org/cookie-persistence: INGRESSCOOKIE\n```" in haproxy_section
    assert "haproxy-ingress.github.io/affinity: cookie" in haproxy_section
    cells = json.loads(migration.to_json())["matrix"][0]["cells"]
    assert "target" not in cells["ingress-nginx (local)"]
    assert cells["nginx (local)"]["status"] == NO_EQUIVALENT
    assert cells["nginx (local)"]["target"]["no_equivalent"] == REASON
    target = cells["haproxy (local)"]["target"]
    assert target["rendering"].startswith("cookie INGRESSCOOKIE insert")
    controllers = [t["controller"] for t in target["targets"]]
    assert controllers == ["HAProxy Technologies' kubernetes-ingress v3.2", "haproxy-ingress v0.16"]
    assert from_json(migration.to_json()) == migration


def test_targets_come_from_the_plane_whatever_it_writes(monkeypatch):
    """A plane's own ``targets`` appear as they are: a new plane needs no report change."""

    def targets(self, setup):
        return [Target("Some Gateway v1", "# apply\nkind: Policy\n", "its CRD", ("a note",))]

    monkeypatch.setattr(HaproxyPlane, "targets", targets)
    hashed = {"upstream-hash-by": "$request_uri"}
    migration = merge(
        [
            ("a", report("ingress-nginx", measured("request-uri", hashed))),
            ("b", report("haproxy", measured("request-uri", hashed))),
        ],
        "now",
    )
    text = migration_markdown.render(migration)
    assert (
        "Some Gateway v1 (checked: its CRD):\n\n```yaml\n# apply\nkind: Policy\n```\n\n- a note"
        in (text)
    )
    cell = json.loads(migration.to_json())["matrix"][0]["cells"]["haproxy (local)"]
    assert cell["target"]["targets"] == [
        {"controller": "Some Gateway v1", "text": "# apply\nkind: Policy\n", "checked": "its CRD",
         "notes": ["a note"]}
    ]  # fmt: skip


def test_report_md_shows_what_to_write_instead_per_candidate():
    cookie = {"affinity": "cookie"}
    text = markdown.render(report("haproxy:pod-ids", measured("cookie-balanced", cookie)))
    section = text.split("### cookie-balanced")[1]
    assert "What to write instead on the controllers haproxy:pod-ids stands for:" in section
    assert "haproxy-ingress v0.16 (checked: annotation names" in section
    assert "    haproxy-ingress.github.io/session-cookie-value-strategy: pod-uid\n```" in section
    baseline = markdown.render(report("ingress-nginx", measured("cookie-balanced", cookie)))
    assert "What to write instead" not in baseline  # the candidate is written for it
