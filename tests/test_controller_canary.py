"""Canary Ingresses become alternative backends of the main backend of the same host and path."""

from __future__ import annotations

from ingressbed.controller import NoteKind
from tests.controller_helpers import build_all, ingress, service

HOST = "app.example.com"
MAIN = ingress("main", [(HOST, "/", "app", 80)], {"affinity": "cookie"})


def canary(annotations: dict[str, str], path: str = "/", order: int = 1, host: str = HOST):
    return ingress(
        "canary", [(host, path, "app-v2", 80)], {"canary": "true", **annotations}, order=order
    )


def test_a_canary_by_header_and_weight_is_an_alternative_backend():
    config = build_all(
        [
            MAIN,
            canary(
                {"canary-by-header": "X-Canary", "canary-weight": "20", "canary-weight-total": "50"}
            ),
        ],
        [service("app"), service("app-v2")],
    )
    main, alt = config.backend("default-app-80"), config.backend("default-app-v2-80")
    assert main.alternatives == ("default-app-v2-80",)
    assert alt.no_server
    shaping = alt.traffic_shaping
    assert (shaping.header, shaping.weight, shaping.weight_total) == ("X-Canary", 20, 50)
    # the canary makes no location of its own
    assert {loc.backend for loc in config.server(HOST).locations} == {"default-app-80"}
    notes = {n.annotation: n for n in config.notes_about(ingress="default/canary")}
    assert notes["canary-weight-total"].kind == NoteKind.DEFAULTED  # the balancer uses 100


def test_the_canary_takes_a_copy_of_the_main_cookie_affinity_unless_legacy():
    config = build_all([MAIN, canary({})], [service("app"), service("app-v2")])
    alt = config.backend("default-app-v2-80")
    assert alt.affinity == config.backend("default-app-80").affinity
    assert alt.implementation == "sticky_balanced"
    config = build_all(
        [MAIN, canary({"affinity-canary-behavior": "legacy"})], [service("app"), service("app-v2")]
    )
    assert config.backend("default-app-v2-80").affinity.type == ""


def test_the_canary_behaviour_is_read_from_the_canary_not_the_main_ingress():
    main = ingress(
        "main",
        [(HOST, "/", "app", 80)],
        {"affinity": "cookie", "affinity-canary-behavior": "legacy"},
    )
    config = build_all([main, canary({})], [service("app"), service("app-v2")])
    assert config.backend("default-app-v2-80").affinity.type == "cookie"
    assert any(
        n.annotation == "affinity-canary-behavior"
        for n in config.notes_about(ingress="default/main")
    )


def test_a_canary_that_matches_no_main_path_is_deleted():
    config = build_all([MAIN, canary({}, path="/other")], [service("app"), service("app-v2")])
    assert "default-app-v2-80" not in {b.name for b in config.backends}
    assert config.backend("default-app-80").alternatives == ()
    note = next(n for n in config.notes if n.ingress == "default/canary")
    assert "deletes canary backend default-app-v2-80" in note.reason


def test_a_canary_on_a_host_without_server_is_kept_unmerged():
    config = build_all(
        [MAIN, canary({}, host="nowhere.example.com")], [service("app"), service("app-v2")]
    )
    assert config.backend("default-app-v2-80").no_server
    assert config.backend("default-app-80").alternatives == ()


def test_the_older_canary_ingress_works_as_well_and_only_the_first_alternative_counts():
    second = ingress("canary2", [(HOST, "/", "app-v3", 80)], {"canary": "true"}, order=2)
    config = build_all(
        [canary({}, order=0), ingress("main", [(HOST, "/", "app", 80)], order=1), second],
        [service("app"), service("app-v2"), service("app-v3")],
    )
    assert config.backend("default-app-80").alternatives == (
        "default-app-v2-80",
        "default-app-v3-80",
    )
    assert any("only ever uses the first, default-app-v2-80" in n.reason for n in config.notes)


def test_canaries_alone_merge_nowhere():
    config = build_all([canary({}, order=0)], [service("app-v2")])
    assert config.backend("default-app-v2-80").no_server
    assert "no main backend" in config.notes_about(ingress="default/canary")[0].reason
