"""Annotation and ConfigMap checks, capability requirements."""

from __future__ import annotations

import pytest

from ingressbed import ingress_keys, layouts
from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Capability


def test_a_typo_names_the_annotation_and_the_likely_fix():
    setup = layouts.setup(annotations={"upstream-hash-bye": "$host"})
    with pytest.raises(ConfigError, match=r"upstream-hash-bye.*did you mean 'upstream-hash-by'"):
        ingress_keys.check(setup)


def test_unknown_controller_key_and_bad_load_balance():
    with pytest.raises(ConfigError, match="use-forwarded-header'"):
        ingress_keys.check(layouts.setup(controller={"use-forwarded-header": "true"}))
    with pytest.raises(ConfigError, match="load-balance 'random'"):
        ingress_keys.check(layouts.setup(annotations={"load-balance": "random"}))


def test_foreign_annotations_are_not_judged():
    setup = layouts.setup(annotations={"kubernetes.io/ingress.class": "nginx"})
    ingress_keys.check(setup)


def test_required_capabilities():
    need = ingress_keys.required_capabilities
    assert need(layouts.setup("one-port")) == set()  # /ws goes to 8080 there
    assert need(layouts.setup("three-ports")) == {Capability.WEBSOCKET}
    assert Capability.HASH in need(layouts.setup(annotations={"upstream-hash-by": "$host"}))
    subset = {"upstream-hash-by": "$host", "upstream-hash-by-subset": "true"}
    assert Capability.SUBSET in need(layouts.setup(annotations=subset))
    off = {"upstream-hash-by-subset": "false", "service-upstream": "false"}
    assert need(layouts.setup("one-port", annotations=off)) == set()
    assert Capability.EWMA in need(layouts.setup(controller={"load-balance": "ewma"}))
    assert Capability.COOKIE in need(layouts.setup(annotations={"affinity": "cookie"}))


def test_no_name_in_the_tables_is_a_fragment():
    # Regression: wrapping the word lists once split names at hyphens ("ssl-" / "redirect").
    names = ingress_keys.KNOWN_ANNOTATIONS | ingress_keys.KNOWN_CONTROLLER_KEYS
    assert not [n for n in names if n.startswith("-") or n.endswith("-")]
    single = {n for n in names if "-" not in n}
    assert single <= {"affinity", "canary", "satisfy", "default-backend"} | {"rewrite-log"}
    for name in ("ssl-redirect", "server-snippet", "use-regex", "proxy-http-version"):
        assert name in ingress_keys.KNOWN_ANNOTATIONS
    for key in ("keep-alive", "proxy-send-timeout", "upstream-keepalive-connections"):
        assert key in ingress_keys.KNOWN_CONTROLLER_KEYS


def test_a_subset_size_alone_needs_no_subset_hashing():
    # ingress-nginx reads upstream-hash-by-subset-size only with upstream-hash-by-subset: "true"
    size_only = {"upstream-hash-by": "$host", "upstream-hash-by-subset-size": "2"}
    assert ingress_keys.required_capabilities(layouts.setup("one-port", size_only)) == {
        Capability.HASH
    }


def test_a_canary_is_never_silently_ignored():
    need = ingress_keys.required_capabilities
    assert Capability.CANARY in need(layouts.setup("one-port", {"canary": "true"}))
    assert Capability.CANARY in need(layouts.setup("one-port", {"canary": "True"}))  # Go's bool
    assert Capability.CANARY not in need(layouts.setup("one-port", {"canary": "false"}))
