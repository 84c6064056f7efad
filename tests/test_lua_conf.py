"""nginx.conf of the local ingress-nginx plane (``ingress_nginx_lua.conf``): pure rendering,
plus ``nginx -t`` on the result where nginx and its Lua module are installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ingressbed.errors import ConfigError, ToolError
from ingressbed.ingress_nginx_lua.conf import Location, LuaConf, Server, Tls, render
from ingressbed.ingress_nginx_lua.modules import LUA_DIR, LuaModules, find_lua_modules
from ingressbed.planes.base import Listen

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


def test_prefix_paths_get_a_slash_location_and_an_exact_twin_in_the_controllers_order():
    text = render(
        conf(
            Server(
                "shop.example",
                (
                    Location("/a", "default-shop-80"),
                    Location("/api", "default-api-80"),
                    Location("/x", "default-x-80", path_type="Exact"),
                    Location("/x", "default-x2-80"),
                    Location("/impl", "default-i-80", path_type="ImplementationSpecific"),
                ),
            )
        )
    )
    shop = text[text.index("server_name shop.example;") :]
    assert locations(shop)[:8] == [
        'location "/impl" {',
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
    assert 'return 404 "default backend - 404\\n";' in block(text, 'location "/" {')


def test_one_regex_location_makes_every_location_of_its_server_a_regex():
    text = render(
        conf(
            Server(
                "pr.example",
                (
                    Location("/pr/api/?(.*)$", "default-pr-80", use_regex=True),
                    Location("/static", "default-static-80"),
                ),
            ),
            Server("other.example", (Location("/static", "default-static-80"),)),
        )
    )
    pr = text[text.index("server_name pr.example;") : text.index("server_name other.example;")]
    assert locations(pr) == [
        'location ~* "^/pr/api/?(.*)$" {',
        'location ~* "^/static/" {',
        'location ~* "^/static" {',
        'location ~* "^/" {',
    ]
    # Path as written, a literal "$" kept from nginx's variable expansion.
    assert 'set $location_path "/pr/api/?(.*)${bed_dollar}";' in pr
    assert '    geo $bed_dollar { default "$"; }' in text
    other = text[text.index("server_name other.example;") :]
    assert locations(other)[:2] == ['location "/static/" {', 'location = "/static" {']


def test_a_rewrite_target_rewrites_and_enforces_regex_unless_it_equals_the_path():
    text = render(
        conf(
            Server("a.example", (Location("/app(/|$)(.*)", "default-a-80", rewrite_target="/$2"),)),
            Server("b.example", (Location("/same", "default-b-80", rewrite_target="/same"),)),
        )
    )
    a = block(text, 'location ~* "^/app(/|$)(.*)" {')
    assert 'rewrite "(?i)/app(/|$)(.*)" /$2 break;' in a
    assert a.index("rewrite ") < a.index("proxy_pass http://upstream_balancer;")
    b = text[text.index("server_name b.example;") :]
    assert locations(b)[:2] == ['location "/same/" {', 'location = "/same" {']
    assert "rewrite " not in b


def test_the_balancer_the_status_listener_and_the_client_address_rules():
    text = render(conf(Server("_", (Location("/", "default-hellogo-8080"),)), workers=3))
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
    text = render(conf(Server("a.example", (Location("/", "default-a-80"),))))
    default = text[text.index("default_server;") : text.index("server_name a.example;")]
    assert "server_name _;" in default
    assert 'return 404 "default backend - 404\\n";' in default


def test_tls_adds_an_ssl_listener_to_every_server():
    tls = Tls(8443, "/c/cert.pem", "/c/key.pem")
    text = render(conf(Server("a.example", (Location("/", "default-a-80"),)), tls=tls))
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
            (Server("a.example", (Location("/", 'x"y'),)),),
            {},
            "server a.example, path '/': backend name 'x\"y' is not letters",
        ),
        (
            (Server("a.example", (Location("p", "b"),)),),
            {},
            "server a.example, path 'p': a path starts with /",
        ),
        (
            (Server("a.example", (Location("/", "b", path_type="Regex"),)),),
            {},
            "path type 'Regex' is not one of Prefix, Exact, ImplementationSpecific",
        ),
        (
            (Server("a.example", (Location("/a", "b", rewrite_target="/x; return 200"),)),),
            {},
            "rewrite target '/x; return 200' holds blanks, quotes, braces or ';'",
        ),
        (
            (
                Server(
                    "a.example",
                    (Location("/a", "b"), Location("/a/", "c", path_type="ImplementationSpecific")),
                ),
            ),
            {},
            'server a.example: two paths both become location "/a/"',
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


@pytest.mark.skipif(NGINX is None or _installed() is None, reason="nginx's Lua module is missing")
def test_real_nginx_accepts_the_rendered_configuration(tmp_path: Path):
    modules = _installed()
    assert modules is not None and NGINX is not None
    (tmp_path / "tmp").mkdir()
    text = render(
        LuaConf(
            (
                Server("_", (Location("/", "default-hellogo-8080"),)),
                Server("pr.example", (Location("/pr/(.*)$", "default-pr-80", use_regex=True),)),
                Server("a.example", (Location("/app(/|$)(.*)", "a-80", rewrite_target="/$2"),)),
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
