"""Pasted curl commands: split like a shell, flags understood or named in the error."""

from __future__ import annotations

import pytest

from ingressbed.scenario.curlargs import CurlArgsError, parse
from ingressbed.scenario.spec import CurlCommand


def test_the_incident_command_as_pasted():
    assert parse("$ curl http://hellogo.d.xiaomi.net/8080") == CurlCommand(
        url="http://hellogo.d.xiaomi.net/8080"
    )


def test_method_headers_data_and_passed_flags():
    command = parse(
        "curl -sSL -XPOST --http1.1 -k -H 'Accept: application/json' "
        "-H \"X-Forwarded-For: 10.0.0.7, 10.0.0.1\" -d a=1 --data-raw 'b=2' "
        "--compressed -A probe -m 5 -o /dev/null hellogo.d.xiaomi.net/9090?x=1"
    )
    assert command.url == "http://hellogo.d.xiaomi.net/9090?x=1"
    assert command.method == "POST"
    assert command.headers == ("Accept: application/json",)
    assert command.client == "10.0.0.7"  # leftmost X-Forwarded-For address
    assert command.data == "a=1&b=2"
    assert command.options == (
        "--location",
        "--http1.1",
        "--insecure",
        "--compressed",
        "--user-agent",
        "probe",
    )


def test_line_continuations_and_attached_values():
    command = parse("curl \\\n  -HHost:x \\\n  -XDELETE http://h/a")
    assert command.method == "DELETE"
    assert command.headers == ("Host:x",)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("curl -2 http://h/", "-2 is curl's --sslv2 (long removed), not HTTP/2; write --http2"),
        ("curl --frobnicate http://h/", "unknown curl option '--frobnicate'"),
        ("curl -sZ http://h/", "unknown curl option '-Z'"),
        ("curl --resolve h:80:1.2.3.4 http://h/", "--resolve routes the request"),
        ("curl -d @body.json http://h/", "reads a file"),
        ("curl https://h/", "https is not served by the bed"),
        ("curl http://h/{a,b}", "add -g"),
        ("curl http://h/a http://h/b", "2 URLs"),
        ("curl -s", "no URL"),
        ("curl -H", "-H needs a value"),
        ("wget http://h/", "must start with curl"),
        ("curl http://h/ | jq .", "no pipes"),
        ("curl 'http://h/", "cannot split"),
    ],
)
def test_what_cannot_run_is_named(command, words):
    with pytest.raises(CurlArgsError) as info:
        parse(command)
    assert words in str(info.value)


def test_globbing_is_fine_with_globoff():
    assert parse("curl -g 'http://h/{a}'").options == ("--globoff",)


def test_cookies_given_and_a_cookie_file_kept_as_a_jar():
    given = parse("curl -b a=1 -H 'Cookie: b=2' http://h/x")
    assert given.cookies == ("a=1", "b=2") and not given.jar and given.headers == ()
    kept = parse("curl -c jar.txt -b jar.txt http://h/x")
    assert kept.jar and kept.cookies == () and kept.options == ()
    assert parse("curl --cookie-jar /tmp/j http://h/x").jar
