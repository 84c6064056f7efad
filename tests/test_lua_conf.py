"""nginx.conf of the local ingress-nginx plane (``ingress_nginx_lua.conf``): pure rendering,
plus ``nginx -t`` on the result where nginx and its Lua module are installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ingressbed import controller
from ingressbed.errors import ConfigError, ToolError
from ingressbed.ingress_nginx_lua.conf import LUA_DIR, Location, LuaConf, Server, Tls, render
from ingressbed.ingress_nginx_lua.modules import find_lua_modules
from ingressbed.planes.base import Listen, LuaModules
from ingressbed.planes.ingress_nginx_conf import servers

MODULES = LuaModules("/m/ndk.so", "/m/lua.so", ("/usr/share/lua/5.1",), ("/usr/lib/x/lua/5.1",))
LISTEN = Listen("127.9.9.1", 8000, 8001)


def conf(*servers: Server, **more) -> LuaConf:
    return LuaConf(servers, LISTEN, "/run/x", MODULES, str(LUA_DIR), **more)


def locations(text: str) -> list[str]:
    """The ``location ...`` lines, stripped, in order."""
    return [ln.strip() for ln in text.splitlines() if ln.strip().startswith("location ")]


def block(text: str, header: str) -> str:
    """The body of the location whose opening line is ``header``."""
    start = text.index(header)
    return text[start : text.index("        }", start)]


def controller_conf(*ingresses: dict) -> str:
    """The conf of the servers the controller model builds for ``ingresses`` (YAML dicts)."""
    objects = controller.read_objects(ingresses)
    config = controller.build(objects.ingresses, objects.services, {})
    return render(conf(*servers(config, objects.ingresses)))


def ingress(name: str, host: str, paths: list[dict], **annotations: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "annotations": {f"nginx.ingress.kubernetes.io/{k}": v for k, v in annotations.items()},
        },
        "spec": {"rules": [{"host": host, "http": {"paths": paths}}]},
    }


def path(text: str, service: str, kind: str = "Prefix") -> dict:
    return {
        "path": text,
        "pathType": kind,
        "backend": {"service": {"name": service, "port": {"number": 80}}},
    }


def test_the_controllers_locations_are_written_as_the_model_builds_them():
    text = controller_conf(
        ingress(
            "shop",
            "shop.example",
            [
                path("/a", "shop"),
                path("/api", "api"),
                path("/x", "x", "Exact"),
                path("/x", "x2"),
                path("/impl", "i", "ImplementationSpecific"),
            ],
        ),
        ingress("pr", "pr.example", [path("/pr/api/?(.*)$", "pr")], **{"use-regex": "true"}),
        ingress("static", "pr.example", [path("/static", "static")]),
        ingress("app", "a.example", [path("/app(/|$)(.*)", "a")], **{"rewrite-target": "/$2"}),
    )
    shop = text[text.index("server_name shop.example;") :]
    shop = shop[: shop.index("    server {")]
    assert locations(shop) == [
        'location "/impl/" {',  # ImplementationSpecific is Prefix to the controller
        'location = "/impl" {',
        'location "/api/" {',
        'location = "/api" {',
        'location = "/x" {',  # the Exact location; the Prefix /x gets no exact twin
        'location "/x/" {',
        'location "/a/" {',
        'location = "/a" {',
        'location "/" {',  # no "/" of its own: the default backend answers
    ]
    assert 'set $proxy_upstream_name "default-x-80";' in block(text, 'location = "/x" {')
    assert 'set $location_path "/x";' in block(text, 'location "/x/" {')
    assert 'return 404 "default backend - 404\\n";' in block(shop, 'location "/" {')
    # one regex location makes every location of its server a regex, the path kept literal
    pr = text[text.index("server_name pr.example;") :]
    assert locations(pr)[:2] == ['location ~* "^/pr/api/?(.*)$" {', 'location ~* "^/static/" {']
    assert 'set $location_path "/pr/api/?(.*)${bed_dollar}";' in pr
    assert '    geo $bed_dollar { default "$"; }' in text
    # a rewrite target rewrites, after the balancer's phases and before proxying
    app = block(text, 'location ~* "^/app(/|$)(.*)" {')
    assert 'rewrite "(?i)/app(/|$)(.*)" /$2 break;' in app
    assert app.index("rewrite ") < app.index("proxy_pass http://upstream_balancer;")


def test_settings_of_the_ingress_a_location_came_from():
    text = controller_conf(
        ingress(
            "web",
            "w.example",
            [path("/w", "web")],
            **{"enable-cors": "true", "proxy-read-timeout": "300", "proxy-body-size": "200m"},
        ),
        ingress("plain", "p.example", [path("/p", "plain")]),
    )
    web = block(text, 'location "/w/" {')
    assert 'add_header Access-Control-Allow-Origin "*" always;' in web
    assert "proxy_read_timeout 300s;" in web and 'client_max_body_size "200m";' in web
    plain = block(text, 'location "/p/" {')
    assert "Access-Control" not in plain and "proxy_read_timeout 60s;" in plain


def test_the_balancer_the_status_listener_and_the_client_address_rules():
    text = render(conf(Server("_", Location.prefix("/", "default-hellogo-8080")), workers=3))
    assert text.index("load_module /m/ndk.so;") < text.index("load_module /m/lua.so;")
    assert "worker_processes 3;" in text
    assert f'lua_package_path "{LUA_DIR}/?.lua;/usr/share/lua/5.1/?.lua;;";' in text
    assert 'lua_package_cpath "/usr/lib/x/lua/5.1/?.so;;";' in text
    assert 'require("bed.balancer").init_worker(1)' in text
    upstream = text[text.index("upstream upstream_balancer {") :]
    assert upstream.index("server 0.0.0.1;") < upstream.index("balancer_by_lua_block")
    assert upstream.index("balancer_by_lua_block") < upstream.index("keepalive 320;")
    assert "real_ip_header X-Forwarded-For;" in text
    assert "set_real_ip_from 0.0.0.0/0;" in text
    assert "real_ip_recursive on;" in text
    root = block(text, 'location "/" {')
    for line in (
        'set $location_path "/";',
        'set $proxy_upstream_name "default-hellogo-8080";',
        'rewrite_by_lua_block { require("bed.balancer").rewrite() }',
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $full_x_forwarded_for;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_next_upstream error timeout;",
        "proxy_next_upstream_tries 3;",
        "proxy_pass http://upstream_balancer;",
    ):
        assert line in root, line
    assert "listen 127.9.9.1:8000 default_server;" in text
    status = text[text.index("listen 127.9.9.1:8001;") :]
    assert 'location = /generation { return 200 "1"; }' in status
    assert 'content_by_lua_block { require("bed.config").backends() }' in status
    assert "location = /sync " in status


def test_the_default_server_is_there_even_when_no_server_is_given():
    text = render(conf(Server("a.example", Location.prefix("/", "default-a-80"))))
    default = text[text.index("default_server;") : text.index("server_name a.example;")]
    assert "server_name _;" in default
    assert 'return 404 "default backend - 404\\n";' in default


def test_tls_adds_an_ssl_listener_to_every_server():
    tls = Tls(8443, "/c/cert.pem", "/c/key.pem")
    text = render(conf(Server("a.example", Location.prefix("/", "default-a-80")), tls=tls))
    assert text.count("listen 127.9.9.1:8443 ssl") == 2
    assert "listen 127.9.9.1:8443 ssl default_server;" in text
    assert 'ssl_certificate "/c/cert.pem";' in text
    assert 'ssl_certificate_key "/c/key.pem";' in text


@pytest.mark.parametrize(
    ("servers", "more", "message"),
    [
        ((Server("a b"),), {}, "server name 'a b' is not a host name (or _ for the default)"),
        ((Server("a.example"), Server("a.example")), {}, "server a.example is listed twice"),
        (
            (Server("a.example", (Location('"/"', "/", 'x"y'),)),),
            {},
            'server a.example, location "/": backend name \'x"y\' is not letters',
        ),
        (
            (Server("a.example", (Location('~* "^/a"', "/a", "b", rewrite="/x; return 200"),)),),
            {},
            "rewrite target '/x; return 200' holds blanks, quotes, braces or ';'",
        ),
        (
            (Server("a.example", (Location('"/a/"', "/a", "b"), Location('"/a/"', "/a/", "c"))),),
            {},
            'server a.example, location "/a/": listed twice; nginx refuses that',
        ),
        ((), {"workers": 0}, "worker count 0 is not a positive number"),
    ],
)
def test_what_nginx_cannot_take_is_refused_in_one_line(servers, more, message):
    with pytest.raises(ConfigError) as caught:
        render(conf(*servers, **more))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_lua_pieces_name_the_package_to_install(tmp_path: Path):
    with pytest.raises(ToolError) as caught:
        find_lua_modules(tmp_path)
    assert str(caught.value) == (
        f"nginx's Lua module is not installed ({tmp_path}/ngx_http_lua_module.so is missing); "
        "install it: apt-get install libnginx-mod-http-lua lua-resty-core lua-cjson"
    )
    for name in ("ngx_http_lua_module.so", "ndk_http_module.so"):
        (tmp_path / name).write_text("")
    with pytest.raises(ToolError, match=r"^lua-resty-core is not installed .* apt-get install"):
        find_lua_modules(tmp_path, share=[tmp_path / "share"])
    (tmp_path / "share" / "resty").mkdir(parents=True)
    (tmp_path / "share" / "resty" / "core.lua").write_text("")
    with pytest.raises(ToolError, match=r"^lua-cjson is not installed .* lua-cjson$"):
        find_lua_modules(tmp_path, share=[tmp_path / "share"], lib_root=tmp_path)
    (tmp_path / "usr/lib/lua/5.1").mkdir(parents=True)
    (tmp_path / "usr/lib/lua/5.1/cjson.so").write_text("")
    found = find_lua_modules(tmp_path, share=[tmp_path / "share"], lib_root=tmp_path)
    assert found == LuaModules(
        str(tmp_path / "ndk_http_module.so"),
        str(tmp_path / "ngx_http_lua_module.so"),
        (str(tmp_path / "share"),),
        (str(tmp_path / "usr/lib/lua/5.1"),),
    )


def _installed() -> LuaModules | None:
    try:
        return find_lua_modules()
    except ToolError:
        return None


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.mark.slow
@pytest.mark.skipif(NGINX is None or _installed() is None, reason="nginx's Lua module is missing")
def test_real_nginx_accepts_the_rendered_configuration(tmp_path: Path):
    modules = _installed()
    assert modules is not None and NGINX is not None
    (tmp_path / "tmp").mkdir()
    text = render(
        LuaConf(
            (
                Server("_", Location.prefix("/", "default-hellogo-8080")),
                Server("pr.example", (Location('~* "^/pr/(.*)$"', "/pr/(.*)$", "default-pr-80"),)),
                Server(
                    "a.example",
                    (Location('~* "^/app(/|$)(.*)"', "/app(/|$)(.*)", "a-80", rewrite="/$2"),),
                ),
            ),
            Listen("127.0.0.1", 1, 2),
            str(tmp_path),
            modules,
            str(LUA_DIR),
            workers=2,
        )
    )
    (tmp_path / "nginx.conf").write_text(text)
    argv = [NGINX, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stderr
