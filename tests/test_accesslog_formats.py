"""Access-log formats and records: nginx log_format strings to parsers, lines to requests."""

from __future__ import annotations

import pytest

from ingressbed.accesslog import formats
from ingressbed.accesslog.records import Extractor, key_needs, parse_time, unescape
from ingressbed.errors import ConfigError

UPSTREAMINFO_LINE = (
    '10.1.2.3 - alice [29/Nov/2026:19:40:21 +0100] "GET /a/b?x=1 HTTP/1.1" 502 12 "-" '
    '"curl/8.5 (x86_64)" 80 0.010 [default-hellogo-8080] [] 10.244.0.2:8080, 10.244.0.3:8080 '
    "0, 12 0.004, 0.006 502, 200 5f1c0d2e\n"
)


def test_upstreaminfo_parses_a_line_with_two_upstream_attempts():
    compiled = formats.compile_format("upstreaminfo", {"remote_addr", "time_local", "request"})
    m = compiled.regex.match(UPSTREAMINFO_LINE)
    assert m is not None
    assert m.group(compiled.groups["remote_addr"]) == "10.1.2.3"
    assert m.group(compiled.groups["time_local"]) == "29/Nov/2026:19:40:21 +0100"
    assert m.group(compiled.groups["request"]) == "GET /a/b?x=1 HTTP/1.1"
    assert "host" not in compiled.names  # ingress-nginx's default logs no host


def test_only_the_asked_variables_are_captured():
    compiled = formats.compile_format("combined", {"request"})
    assert compiled.regex.groups == 1
    line = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x y"\n'
    assert compiled.regex.match(line).group(1) == "GET / HTTP/1.1"


def test_a_line_of_another_format_does_not_match():
    compiled = formats.compile_format("combined", {"request"})
    assert compiled.regex.match("GET /only-a-path\n") is None
    assert compiled.regex.match(UPSTREAMINFO_LINE) is None  # trailing fields are not combined


def test_a_pasted_directive_and_its_quoted_pieces_give_the_bare_format():
    bare = '$host $remote_addr [$time_local] "$request"'
    pasted = "log_format  main  '$host $remote_addr '\n    '[$time_local] \"$request\"';"
    assert formats.unquote(pasted) == bare
    assert formats.unquote("'$host $remote_addr ' '[$time_local] \"$request\"'") == bare
    assert formats.unquote('"$request" $status') == '"$request" $status'


def test_adjacent_variables_and_braces_are_split_by_the_regex():
    compiled = formats.compile_format("${host}$request_uri $status", {"host", "request_uri"})
    m = compiled.regex.match("example.test/x?y 200\n")
    assert m is not None
    assert m.group(compiled.groups["request_uri"]).endswith("/x?y")
    assert m.group(compiled.groups["host"]) + m.group(compiled.groups["request_uri"]) == (
        "example.test/x?y"
    )


def test_an_unknown_variable_is_one_error_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown variable \$hots \(did you mean 'host'\?\)"):
        formats.resolve('$hots "$request"')


def test_a_format_without_variables_or_empty_is_an_error():
    with pytest.raises(ConfigError, match="has no \\$variable"):
        formats.resolve("just text")
    with pytest.raises(ConfigError, match="is empty"):
        formats.resolve("   ")


def test_header_families_are_known():
    assert formats.is_known("http_x_forwarded_for")
    assert formats.is_known("upstream_http_x_cache_status")
    assert not formats.is_known("http_")


def test_a_key_needing_the_host_on_upstreaminfo_is_an_error_naming_the_fix():
    with pytest.raises(ConfigError) as caught:
        Extractor.build("upstreaminfo", ["$host$request_uri"])
    message = str(caught.value)
    assert "'$host$request_uri' needs $host or $http_host" in message
    assert "--host NAME" in message
    assert "\n" not in message
    # With --host the key is computed with that host: an explicit choice, not a silent one.
    assert Extractor.build("upstreaminfo", ["$host$request_uri"], host="shop.test").host


def test_a_missing_header_or_client_is_an_error():
    with pytest.raises(ConfigError, match=r"needs \$http_x_user"):
        Extractor.build("combined", ["$http_x_user"])
    with pytest.raises(ConfigError, match=r"needs \$remote_addr"):
        Extractor.build("urls", ["$remote_addr"])


def test_key_needs_maps_variables_to_request_parts():
    assert key_needs(["$binary_remote_addr", "${host}-$arg_id", "$http_x_a$cookie_sid"]) == {
        "client",
        "host",
        "uri",
        "header:x_a",
        "cookie:sid",
    }


def test_records_come_from_request_line_host_header_and_headers():
    fmt = '$http_host "$request" "$http_x_user" $remote_addr'
    extractor = Extractor.build(fmt, ["$http_x_user", "$remote_addr"], client=True)
    m = extractor.regex.match('Shop.Test:8080 "HEAD /p?q=1 HTTP/1.1" "u7" 10.0.0.9, 10.0.0.1\n')
    assert m is not None
    groups = extractor.all_groups()
    record = extractor.record(groups, m.group(*groups))
    assert record.method == "HEAD" and record.cacheable
    assert record.request.request_uri == "/p?q=1"
    assert record.request.client_ip == "10.0.0.9"  # leftmost X-Forwarded-For entry
    assert record.request.header("x-user") == "u7"
    assert record.page == ("shop.test:8080", "/p?q=1")


def test_a_request_nginx_refuses_is_not_a_record():
    extractor = Extractor.build('"$request"', [])
    groups = extractor.page_groups()
    with pytest.raises(ConfigError, match="has no target"):
        extractor.record(groups, "-")
    with pytest.raises(ConfigError, match="above the root"):
        extractor.record(groups, "GET /../etc HTTP/1.1")


def test_post_is_not_cacheable():
    extractor = Extractor.build('"$request"', [])
    assert not extractor.record(extractor.page_groups(), "POST /form HTTP/1.1").cacheable


def test_urls_lines_give_host_and_target():
    extractor = Extractor.build("urls", ["$host$request_uri"])
    record = extractor.record((1,), "http://Site.Test/a?b=1")
    assert record.request.host == "Site.Test" and record.request.request_uri == "/a?b=1"
    assert record.page == ("site.test", "/a?b=1")
    with pytest.raises(ConfigError, match="not a URL"):
        extractor.record((1,), "site.test/a")


def test_nginx_escapes_are_undone():
    assert unescape(r"/a\x22b\xC3\xA9") == '/a"bé'
    assert unescape("/plain") == "/plain"


def test_the_three_time_variables_agree():
    local = parse_time("time_local", "29/Nov/2026:20:40:21 +0100")
    assert local == parse_time("time_iso8601", "2026-11-29T19:40:21+00:00")
    assert local == parse_time("msec", f"{local:.3f}")
    with pytest.raises(ValueError):
        parse_time("time_local", "29/Foo/2026:20:40:21 +0100")


SPACED_LINE_PARTS = {
    "time_local": "29/Nov/2026:20:40:21 +0100",
    "request": "GET /a/b?x=1 HTTP/1.1",
    "http_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140",
    "remote_user": "jane doe",
    "uri": "/a b/c",
}
PLAIN_PARTS = {"host": "shop.example", "status": "200", "remote_addr": "10.0.0.9"}


@pytest.mark.parametrize(
    "fmt",
    [
        "$time_local $host $remote_addr",  # the issue's own: no brackets around the time
        "$host $time_local $status",
        "$remote_addr $time_local",  # last on the line
        '$time_local "$request" $status',
        "$host $request $status",  # unquoted request line
        "$http_user_agent $host $status",  # a header first, unquoted
        "$host $status $http_user_agent",  # a header last, unquoted
        "$remote_user $time_local $uri $status",
        "[$time_local] $http_user_agent [$host]",
        "$time_local|$http_user_agent|$host",
    ],
)
def test_a_variable_that_may_hold_spaces_parses_wherever_the_format_puts_it(fmt):
    values = {**SPACED_LINE_PARTS, **PLAIN_PARTS}
    names = formats.variables(fmt)
    line = fmt
    for name in sorted(names, key=len, reverse=True):
        line = line.replace(f"${name}", values[name])
    compiled = formats.compile_format(fmt, set(names))
    m = compiled.regex.match(line + "\n")
    assert m is not None, (fmt, line)
    for name in names:
        assert m.group(compiled.groups[name]) == values[name], (fmt, name)


def test_a_custom_format_with_the_time_outside_brackets_goes_through_the_cli(tmp_path, capsys):
    from ingressbed.cli import main

    log = tmp_path / "access.log"
    log.write_text(
        "".join(
            f'29/Nov/2026:20:40:2{i} +0100 shop.example "GET /p{i} HTTP/1.1" 200 10.0.0.{i}\n'
            for i in range(5)
        )
    )
    status = main(
        ["analyze", "--access-log", str(log), "--log-format",
         '$time_local $host "$request" $status $remote_addr', "--json", "-q"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    assert '"requests": 5' in out and '"skipped": 0' in out
