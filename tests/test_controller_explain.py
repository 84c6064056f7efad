"""The explanation a maintainer reads: which Ingress decides what, and what a browser sees."""

from __future__ import annotations

import json

from ingressbed.controller import apply, build, explain, explain_change, explanation
from ingressbed.controller.cookies import lua_number, returned
from tests.controller_helpers import build_all, endpoints, ingress, service

HOST = "app.example.com"


def lines(config) -> list[str]:
    return explain(config).splitlines()


def test_two_ingresses_on_one_service_name_the_creator_and_the_ignored_key():
    config = build_all(
        [
            ingress("web", [(HOST, "/", "app", 80)], {"upstream-hash-by": "$binary_remote_addr"}),
            ingress(
                "api", [(HOST, "/api", "app", 80)], {"upstream-hash-by": "$request_uri"}, order=1
            ),
        ],
        [service("app")],
    )
    text = lines(config)
    assert text[0] == (
        "ingress-nginx v1.15.1 (controller model): Ingresses in force, oldest first: "
        "default/web, default/api"
    )
    start = text.index(
        "backend default-app-80: Service default/app port 80, created by default/web"
    )
    assert text[start + 1 : start + 5] == [
        "  endpoints: 10.0.0.1:8080, 10.0.0.2:8080, 10.0.0.3:8080",
        "  balancer: chash (consistent hash on the key)",
        "  hash key: $binary_remote_addr",
        "  ignored: default/api upstream-hash-by='$request_uri': backend default-app-80 was "
        "created by the older Ingress default/web (upstream-hash-by: '$binary_remote_addr'); "
        "only the oldest Ingress on a backend sets it",
    ]


def test_a_regex_cookie_path_is_explained_as_never_sent_back():
    """kubernetes/ingress-nginx#14042's shape: the younger cookie Ingress sets no Path."""
    config = build_all(
        [
            ingress(
                "web", [(HOST, "/", "app", 80)], {"affinity": "cookie", "session-cookie-path": "/"}
            ),
            ingress(
                "api",
                [(HOST, "/pr/api/?(.*)", "app", 80)],
                {"affinity": "cookie", "use-regex": "true"},
                order=1,
                path_type="ImplementationSpecific",
            ),
        ],
        [service("app")],
    )
    text = explain(config)
    assert (
        "    on app.example.com /pr/api/?(.*): Set-Cookie: INGRESSCOOKIE=<key>|"
        "4a3eed8b9fdd31eec0786e1c1f7a96bc; Path=/pr/api/?(.*); HttpOnly\n"
        "      browser: NOT sent back: Path=/pr/api/?(.*) holds ?, which no request path holds"
    ) in text
    assert (
        "server app.example.com, defined by default/web; every location is a regex because of "
        "default/api (use-regex or rewrite-target)"
    ) in text
    data = explanation(config)
    cookie = data["backends"][0]["affinity"]
    # the younger Ingress set no Path, so each location sets its own path as the Path
    assert [
        (c["path"], c["cookie_path"], c["browser_sends_back"]) for c in cookie["locations"]
    ] == [
        ("/", "/", True),
        ("/pr/api/?(.*)", "/pr/api/?(.*)", False),
    ]
    assert cookie["cookie_from"] == ["default/web", "default/api"]
    json.dumps(data)  # plain data


def test_sticky_and_hash_canary_and_503_are_spelled_out():
    config = build(
        [
            ingress("hash", [(HOST, "/", "app", 80)], {"upstream-hash-by": "$request_uri"}),
            ingress("sticky", [(HOST, "/s", "app", 80)], {"affinity": "cookie"}, order=1),
            ingress(
                "canary",
                [(HOST, "/", "app-v2", 80)],
                {"canary": "true", "canary-by-header": "X-Canary", "canary-weight": "5"},
                order=2,
            ),
        ],
        [service("app"), service("app-v2")],
        endpoints("app"),
    )
    text = explain(config)
    assert "  hash key: $request_uri (not used: cookie affinity wins)\n" in text
    assert "sticky beats hash, the hash key is never read" in text
    assert "  endpoints: none: every request gets 503\n" in text
    assert (
        "  canary of default-app-80: header X-Canary: always -> canary, never -> main; "
        "else 5 of 100 requests -> canary\n"
    ) in text
    assert "  canary backends: default-app-v2-80\n" in text


def test_refused_ingresses_and_ingress_notes_are_listed():
    config = build_all(
        [
            ingress("web", [(HOST, "/", "app", 80)], {"upstream-hash-by-subset-size": "5"}),
            ingress("bad", [(HOST, "/b", "app", 80)], {"load-balance": "least_conn"}, order=1),
        ],
        [service("app")],
    )
    text = lines(config)
    assert (
        "refused: default/bad: load-balance 'least_conn' is not one of round_robin, chash, "
        "chashsubset, sticky_balanced, sticky_persistent, ewma" in text
    )
    assert text[-2:] == [
        "notes:",
        "  ignored: default/web upstream-hash-by-subset-size='5': has no effect without "
        'upstream-hash-by-subset: "true"',
    ]


def test_a_live_change_is_explained_with_what_stays_stale():
    def config(key: str):
        return build_all(
            [ingress("web", [(HOST, "/", "app", 80)], {"upstream-hash-by": key})], [service("app")]
        )

    text = explain_change(apply(config("$binary_remote_addr"), config("$request_uri")))
    assert text.splitlines() == [
        "no reload: the backends are posted to the Lua balancers",
        "  backend default-app-80: changes upstreamHashByConfig",
        "  stale: backend default-app-80: upstream-hash-by '$request_uri' is posted but "
        "'$binary_remote_addr' stays in force until an nginx reload, a switch to a balancer "
        "without a hash key (remove upstream-hash-by, then set it again) or an empty endpoint "
        "list",
    ]


def test_what_a_browser_and_lua_make_of_cookie_attributes():
    assert returned("/", "/api")[0] and returned("/api", "/api/v1")[0]
    assert not returned("/api/(v1|v2)", "/api/(v1|v2)")[0]
    assert not returned("/other", "/api")[0]
    assert [lua_number(v) for v in ("3600", " 0x10 ", "1e3", "1h30", "1.5")] == [
        "3600",
        "16",
        "1000",
        None,
        "1.5",
    ]


def test_the_default_backend_and_a_host_without_a_root_path_are_shown():
    config = build_all([ingress("web", [(HOST, "/app", "app", 80)])], [service("app")])
    text = lines(config)
    assert "backend upstream-default-backend: the controller's default backend (404)" in text
    server = text.index("server _ (catch-all)")
    assert text[server + 1] == '  location "/" -> upstream-default-backend (the controller\'s 404)'
    host = text.index("server app.example.com, defined by default/web")
    assert text[host + 1 : host + 4] == [
        '  location "/app/" -> default-app-80 (default/web path /app)',
        '  location = "/app" -> default-app-80 (default/web path /app)',
        '  location "/" -> upstream-default-backend (default/web path /, no path of its own)',
    ]
