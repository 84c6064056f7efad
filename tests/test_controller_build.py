"""The controller's build: several Ingresses on one backend, locations, default backend, 503."""

from __future__ import annotations

import pytest

from ingressbed.controller import DEFAULT_BACKEND, NoteKind, build
from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Endpoint
from tests.controller_helpers import build_all, ingress, service

HOST = "app.example.com"


def test_the_oldest_ingress_creates_the_backend_and_the_younger_hash_key_is_ignored():
    older = ingress("web", [(HOST, "/", "app", 80)], {"upstream-hash-by": "$binary_remote_addr"})
    younger = ingress(
        "api",
        [(HOST, "/api", "app", 80)],
        {"upstream-hash-by": "$request_uri", "load-balance": "ewma"},
        order=1,
    )
    config = build_all([younger, older], [service("app")])  # given in any order
    backend = config.backend("default-app-80")
    assert config.ingresses == ("default/web", "default/api")
    assert backend.created_by == "default/web"
    assert backend.hash_by.key == "$binary_remote_addr"
    assert backend.load_balance == "round_robin"
    assert backend.implementation == "chash"
    ignored = {n.annotation: n for n in config.notes_about(ingress="default/api")}
    assert ignored["upstream-hash-by"].kind == NoteKind.IGNORED
    assert "created by the older Ingress default/web" in ignored["upstream-hash-by"].reason
    assert ignored["load-balance"].kind == NoteKind.IGNORED


def test_the_same_settings_on_the_younger_ingress_are_not_reported():
    annotations = {"upstream-hash-by": "$request_uri"}
    config = build_all(
        [
            ingress("web", [(HOST, "/", "app", 80)], annotations),
            ingress("api", [(HOST, "/api", "app", 80)], annotations, order=1),
        ],
        [service("app")],
    )
    assert config.notes_about(ingress="default/api") == ()


def test_cookie_affinity_is_merged_from_the_younger_ingress_and_its_path_wins():
    """kubernetes/ingress-nginx#14042: the last cookie Ingress sets every attribute."""
    older = ingress(
        "web",
        [(HOST, "/", "app", 80)],
        {"affinity": "cookie", "session-cookie-path": "/", "session-cookie-name": "web"},
    )
    younger = ingress(
        "api",
        [(HOST, "/api/v1", "app", 80)],
        {"affinity": "cookie", "session-cookie-path": "/api", "affinity-mode": "persistent"},
        order=1,
    )
    config = build_all([older, younger], [service("app")])
    backend = config.backend("default-app-80")
    cookie = backend.affinity.cookie
    assert (cookie.path, cookie.name) == ("/api", "INGRESSCOOKIE")  # name back to the default
    assert backend.affinity.mode == "persistent"
    assert backend.mode_from == "default/api"
    assert backend.cookie_from == ("default/web", "default/api")
    assert dict(cookie.locations) == {HOST: ("/", "/api/v1")}
    overridden = {
        n.annotation
        for n in config.notes_about(ingress="default/web")
        if n.kind == NoteKind.OVERRIDDEN
    }
    assert overridden == {"session-cookie-path", "session-cookie-name"}


def test_the_first_ingress_naming_a_mode_sets_it_even_without_cookie_affinity():
    config = build_all(
        [
            ingress("web", [(HOST, "/", "app", 80)], {"affinity-mode": "persistent"}),
            ingress("api", [(HOST, "/api", "app", 80)], {"affinity": "cookie"}, order=1),
            ingress("adm", [(HOST, "/adm", "app", 80)], {"affinity-mode": "balanced"}, order=2),
        ],
        [service("app")],
    )
    backend = config.backend("default-app-80")
    assert (backend.affinity.type, backend.affinity.mode) == ("cookie", "persistent")
    assert backend.implementation == "sticky_persistent"
    assert [n.annotation for n in config.notes_about(ingress="default/adm")] == ["affinity-mode"]


def test_sticky_beats_hash_on_one_backend():
    """kubernetes/ingress-nginx#4043: one Ingress hashes, another sets a cookie."""
    config = build_all(
        [
            ingress("hash", [(HOST, "/", "app", 80)], {"upstream-hash-by": "$request_uri"}),
            ingress("sticky", [(HOST, "/s", "app", 80)], {"affinity": "cookie"}, order=1),
        ],
        [service("app")],
    )
    backend = config.backend("default-app-80")
    assert backend.hash_by.key == "$request_uri"  # posted, but never read
    assert backend.implementation == "sticky_balanced"
    note = next(n for n in config.notes if n.annotation == "upstream-hash-by")
    assert (note.kind, note.ingress) == (NoteKind.IGNORED, "default/hash")
    assert "sticky beats hash" in note.reason


def test_use_regex_on_another_ingress_makes_every_location_of_the_host_a_regex():
    config = build_all(
        [
            ingress("web", [(HOST, "/app", "app", 80)]),
            ingress(
                "api",
                [(HOST, "/api/?(.*)", "api", 80)],
                {"use-regex": "true"},
                order=1,
                path_type="ImplementationSpecific",
            ),
            ingress("other", [("other.example.com", "/app", "app", 80)], order=2),
        ],
        [service("app"), service("api")],
    )
    server = config.server(HOST)
    assert server.regex_because == ("default/api",)
    assert [(loc.nginx, loc.ingress_path) for loc in server.locations] == [
        ('~* "^/api/?(.*)"', "/api/?(.*)"),
        ('~* "^/app/"', "/app"),
        ('~* "^/app"', "/app"),  # the Exact twin loses its "=" in a regex server
        ('~* "^/"', "/"),
    ]
    other = config.server("other.example.com")
    assert [loc.nginx for loc in other.locations] == ['"/app/"', '= "/app"', '"/"']


def test_a_rewrite_target_makes_regex_locations_and_a_quoted_path_is_escaped():
    config = build_all(
        [ingress("web", [(HOST, '/a"b\\c', "app", 80)], {"rewrite-target": "/$1"})],
        [service("app")],
    )
    assert [loc.nginx for loc in config.server(HOST).locations] == [
        '~* "^/a\\"b\\\\c"',
        '~* "^/"',
    ]
    assert [loc.rewrite for loc in config.server(HOST).locations] == ["/$1", "/$1"]


def test_locations_are_ordered_as_the_controller_orders_them():
    config = build_all(
        [
            ingress(
                "web",
                [(HOST, p, "app", 80) for p in ("/a", "/zz", "/b/c", "/", "/ab")],
            )
        ],
        [service("app")],
    )
    assert [(loc.path, loc.path_type) for loc in config.server(HOST).locations] == [
        ("/b/c/", "Prefix"),
        ("/b/c", "Exact"),
        ("/zz/", "Prefix"),
        ("/zz", "Exact"),
        ("/ab/", "Prefix"),
        ("/ab", "Exact"),
        ("/a/", "Prefix"),
        ("/a", "Exact"),
        ("/", "Prefix"),
    ]


def test_hosts_without_a_root_path_and_the_catch_all_use_the_default_backend():
    config = build_all([ingress("web", [(HOST, "/app", "app", 80)])], [service("app")])
    root = config.server(HOST).locations[-1]
    assert (root.path, root.backend, root.is_default_backend) == ("/", DEFAULT_BACKEND, True)
    catch_all = config.server("_").locations
    assert [(loc.nginx, loc.backend) for loc in catch_all] == [('"/"', DEFAULT_BACKEND)]
    default = config.backend(DEFAULT_BACKEND)
    assert default.endpoints == (Endpoint("127.0.0.1", 8181),)
    assert not default.service_spec


def test_an_ingress_default_backend_takes_the_catch_all_and_its_hosts_roots():
    config = build_all(
        [
            ingress("fallback", [], default=("app", 80)),
            ingress("web", [(HOST, "/x", "api", 80)], default=("app", 80), order=1),
        ],
        [service("app"), service("api")],
    )
    assert config.server("_").locations[0].backend == "default-app-80"
    assert config.server("_").locations[0].ingress == "default/fallback"
    assert config.server(HOST).locations[-1].backend == "default-app-80"
    assert config.backend("default-app-80").port == 0  # the controller leaves it unset


def test_a_backend_without_endpoints_serves_503():
    config = build(
        [ingress("web", [(HOST, "/", "app", 80), (HOST, "/gone", "gone", 80)])],
        [service("app")],
        {},
    )
    app, gone = config.backend("default-app-80"), config.backend("default-gone-80")
    assert app.serves_503 and gone.serves_503
    reasons = " ".join(n.reason for n in config.notes)
    assert "no endpoints for default/app port 80: requests get 503" in reasons
    assert "Service default/gone does not exist" in reasons
    assert config.server(HOST).locations[0].backend == "default-gone-80"


def test_endpoints_are_found_by_port_number_target_port_or_name():
    eps = {("default", "app", 80): [Endpoint("10.0.0.9", 8080)]}
    for port in (80, 8080, "http"):
        config = build([ingress("web", [(HOST, "/", "app", port)])], [service("app")], eps)
        assert config.backend(f"default-app-{port}").endpoints == (Endpoint("10.0.0.9", 8080),)


def test_service_upstream_uses_the_cluster_ip_and_only_the_creator_decides():
    config = build_all(
        [
            ingress("web", [(HOST, "/", "app", "http")], {"service-upstream": "true"}),
            ingress("api", [(HOST, "/api", "app", "http")], {"service-upstream": "false"}, order=1),
        ],
        [service("app", clusterIP="10.96.0.7")],
    )
    backend = config.backend("default-app-http")
    assert backend.endpoints == (Endpoint("10.96.0.7", 80),)
    assert backend.service_upstream
    assert [n.annotation for n in config.notes_about(ingress="default/api")] == ["service-upstream"]


def test_service_upstream_without_a_cluster_ip_falls_back_to_the_pods():
    config = build_all(
        [ingress("web", [(HOST, "/", "app", 80)], {"service-upstream": "true"})], [service("app")]
    )
    assert len(config.backend("default-app-80").endpoints) == 3
    assert not config.backend("default-app-80").service_upstream


def test_the_admission_webhook_refuses_a_repeated_host_and_path():
    older = ingress("web", [(HOST, "/app", "app", 80)])
    younger = ingress("copy", [(HOST, "/app", "api", 80)], order=1)
    config = build_all([older, younger], [service("app"), service("api")])
    assert config.ingresses == ("default/web",)
    assert [n.ingress for n in config.rejected] == ["default/copy"]
    assert 'host "app.example.com" and path "/app"' in config.rejected[0].reason
    without = build_all([older, younger], [service("app"), service("api")], admission_webhook=False)
    assert without.ingresses == ("default/web", "default/copy")
    assert all(loc.backend != "default-api-80" for loc in without.server(HOST).locations)


def test_equal_creation_order_is_broken_by_namespace_and_name_descending():
    a = ingress("a", [(HOST, "/", "app", 80)], {"upstream-hash-by": "$uri"})
    b = ingress("b", [(HOST, "/b", "app", 80)], {"upstream-hash-by": "$host"})
    config = build_all([a, b], [service("app")])
    assert config.ingresses == ("default/b", "default/a")
    assert config.backend("default-app-80").hash_by.key == "$host"


def test_objects_named_twice_and_old_releases_are_refused():
    web = ingress("web", [(HOST, "/", "app", 80)])
    with pytest.raises(ConfigError, match="two Ingress objects are named default/web"):
        build_all([web, web], [service("app")])
    with pytest.raises(ConfigError, match=r"controller v0\.49\.3 is not modelled"):
        build_all([web], [service("app")], version="0.49.3")
    with pytest.raises(ConfigError, match=r"1\.16\.0'?: ingress-nginx's last release is 1\.15\.1"):
        build_all([web], [service("app")], version="1.16.0")
