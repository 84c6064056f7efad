"""Annotation values as the controller validates, parses and defaults them."""

from __future__ import annotations

import pytest

from ingressbed.controller import NoteKind
from ingressbed.controller.validation import COOKIE_EXPIRES, go_bool, go_int
from tests.controller_helpers import build_all, ingress, service

HOST = "app.example.com"


def built(annotations: dict[str, str], version: str | None = None, configmap=None):
    config = build_all(
        [ingress("web", [(HOST, "/", "app", 80)], annotations)],
        [service("app")],
        version=version,
        configmap=configmap,
    )
    return config, {n.annotation: n for n in config.notes}


def test_subset_size_alone_is_ignored():
    config, notes = built({"upstream-hash-by": "$uri", "upstream-hash-by-subset-size": "4"})
    backend = config.backend("default-app-80")
    assert (backend.hash_by.subset, backend.implementation) == (False, "chash")
    assert notes["upstream-hash-by-subset-size"].kind == NoteKind.IGNORED
    assert 'without upstream-hash-by-subset: "true"' in notes["upstream-hash-by-subset-size"].reason


def test_subset_hashing_takes_the_size_and_defaults_to_three():
    config, _ = built({"upstream-hash-by": "$uri", "upstream-hash-by-subset": "true"})
    assert config.backend("default-app-80").hash_by.subset_size == 3
    config, _ = built(
        {
            "upstream-hash-by": "$uri",
            "upstream-hash-by-subset": "True",
            "upstream-hash-by-subset-size": "2",
        }
    )
    backend = config.backend("default-app-80")
    assert (backend.hash_by.subset_size, backend.implementation) == (2, "chashsubset")


@pytest.mark.parametrize(
    ("annotations", "reason"),
    [
        ({"upstream-hash-by": "$host:$request_uri"}, "letters, digits, -, _, $, { and } only"),
        ({"upstream-hash-by-subset": "yes"}, "upstream-hash-by-subset 'yes' is not a boolean"),
        ({"load-balance": "EWMA"}, "load-balance 'EWMA' is not one of"),
        ({"configuration-snippet": "return 200;"}, "configuration-snippet is Critical risk"),
    ],
)
def test_values_the_controller_refuses_leave_the_ingress_out(annotations, reason):
    config, _ = built(annotations)
    assert config.ingresses == ()
    assert [n.ingress for n in config.rejected] == ["default/web"]
    assert reason in config.rejected[0].reason


def test_snippets_pass_where_the_risk_level_allows_them():
    config, _ = built(
        {"configuration-snippet": "return 200;"}, configmap={"annotations-risk-level": "Critical"}
    )
    assert config.ingresses == ("default/web",)
    config, _ = built(
        {"configuration-snippet": "return 200;"}, version="1.11.8"
    )  # default: Critical
    assert config.ingresses == ("default/web",)


def test_before_v1_10_values_are_not_validated():
    config, _ = built({"upstream-hash-by": "$host:$request_uri"}, version="1.9.6")
    assert config.backend("default-app-80").hash_by.key == "$host:$request_uri"


def test_an_empty_hash_key_drops_the_whole_hash_group():
    config, notes = built({"upstream-hash-by": "", "upstream-hash-by-subset": "true"})
    hash_by = config.backend("default-app-80").hash_by
    assert (hash_by.key, hash_by.subset, hash_by.subset_size) == ("", False, 0)
    assert notes["upstream-hash-by"].kind == NoteKind.DEFAULTED


def test_invalid_affinity_values_fall_back_to_their_defaults():
    config, notes = built(
        {"affinity": "cookie", "affinity-mode": "Persistent", "session-cookie-name": "a b$"}
    )
    backend = config.backend("default-app-80")
    assert (backend.affinity.mode, backend.affinity.cookie.name) == ("", "INGRESSCOOKIE")
    assert backend.implementation == "sticky_balanced"
    assert notes["affinity-mode"].kind == NoteKind.DEFAULTED
    assert notes["session-cookie-name"].kind == NoteKind.DEFAULTED
    config, notes = built({"affinity": "Cookie"})
    assert config.backend("default-app-80").affinity.type == ""
    assert notes["affinity"].kind == NoteKind.DEFAULTED


def test_lower_case_samesite_passes_validation_but_is_dropped():
    config, notes = built({"affinity": "cookie", "session-cookie-samesite": "lax"})
    assert config.backend("default-app-80").affinity.cookie.samesite == "lax"
    assert notes["session-cookie-samesite"].kind == NoteKind.IGNORED
    assert "exactly Strict, Lax or None" in notes["session-cookie-samesite"].reason
    _, notes = built({"affinity": "cookie", "session-cookie-samesite": "Lax"})
    assert "session-cookie-samesite" not in notes


def test_cookie_attributes_without_cookie_affinity_are_not_read():
    config, notes = built({"session-cookie-path": "/", "session-cookie-max-age": "60"})
    assert config.backend("default-app-80").affinity.cookie.path == ""
    assert notes["session-cookie-path"].kind == NoteKind.IGNORED
    assert notes["session-cookie-max-age"].kind == NoteKind.IGNORED


def test_cookie_expiry_is_checked_as_loosely_as_the_controller_checks_it():
    assert COOKIE_EXPIRES.search("1h30") and COOKIE_EXPIRES.search("0abc")
    assert not COOKIE_EXPIRES.search("3600s")
    config, notes = built(
        {"affinity": "cookie", "session-cookie-max-age": "3600s", "session-cookie-expires": "1h30"}
    )
    cookie = config.backend("default-app-80").affinity.cookie
    assert (cookie.max_age, cookie.expires) == ("", "1h30")
    assert notes["session-cookie-max-age"].kind == NoteKind.DEFAULTED


def test_canary_settings_without_canary_true_are_dropped():
    config, notes = built({"canary-weight": "50", "canary-by-header": "X-Canary"})
    backend = config.backend("default-app-80")
    assert not backend.no_server and backend.traffic_shaping.weight == 0
    assert notes["canary-weight"].kind == NoteKind.IGNORED
    assert "drops every canary setting" in notes["canary-by-header"].reason


def test_annotations_younger_than_the_release_are_unknown_to_it():
    config, notes = built(
        {"affinity": "cookie", "session-cookie-domain": "example.com"}, version="1.3.0"
    )
    assert config.backend("default-app-80").affinity.cookie.domain == ""
    assert "came in v1.4.0" in notes["session-cookie-domain"].reason
    config, _ = built(
        {"affinity": "cookie", "session-cookie-domain": "example.com"}, version="1.4.0"
    )
    assert config.backend("default-app-80").affinity.cookie.domain == "example.com"


def test_annotations_the_model_does_not_follow_are_named():
    config, notes = built({"server-alias": "www.example.com"})
    assert notes["server-alias"].kind == NoteKind.UNMODELLED
    assert config.unmodelled == (notes["server-alias"],)


def test_load_balance_comes_from_the_configmap_and_loses_to_a_hash_key():
    config, _ = built({}, configmap={"load-balance": "ewma"})
    assert config.backend("default-app-80").implementation == "ewma"
    config, notes = built({"upstream-hash-by": "$uri", "load-balance": "ewma"})
    assert config.backend("default-app-80").implementation == "chash"
    assert notes["load-balance"].kind == NoteKind.IGNORED


def test_go_booleans_and_integers():
    assert [go_bool(v) for v in ("1", "t", "TRUE", "True", "0", "F", "yes", "tRue")] == [
        True,
        True,
        True,
        True,
        False,
        False,
        None,
        None,
    ]
    assert [go_int(v) for v in ("+3", "-7", "3.0", "", "9" * 30)] == [3, -7, None, None, None]
