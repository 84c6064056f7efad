"""The browser's cookie jar (RFC 6265) and Set-Cookie parsing: pure, with a fixed clock."""

from __future__ import annotations

import calendar

import pytest

from ingressbed.clients.cookies import (
    Jar,
    default_path,
    domain_matches,
    parse_date,
    parse_set_cookie,
    path_matches,
)

NOW = float(calendar.timegm((2026, 12, 7, 12, 0, 0)))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def jar() -> tuple[Jar, Clock]:
    clock = Clock()
    return Jar(clock=clock), clock


def test_set_cookie_is_read_as_written():
    found = parse_set_cookie("INGRESSCOOKIE=k|b; Max-Age=60; Path=/; HttpOnly; SameSite=Lax")
    assert found is not None
    assert (found.name, found.value) == ("INGRESSCOOKIE", "k|b")
    assert found.attribute("max-age") == "60" and found.attribute("PATH") == "/"
    assert found.has("httponly") and not found.has("Secure")
    assert parse_set_cookie("no-equals-sign; Path=/") is None
    assert parse_set_cookie("=value") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mon, 07-Dec-26 13:54:18 GMT", (2026, 12, 7, 13, 54, 18)),  # ingress-nginx's form
        ("Mon, 07 Dec 2026 13:54:18 GMT", (2026, 12, 7, 13, 54, 18)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", (1994, 11, 6, 8, 49, 37)),
        ("Sun Nov  6 08:49:37 1994", (1994, 11, 6, 8, 49, 37)),
    ],
)
def test_cookie_dates_as_the_rfc_reads_them(text, expected):
    assert parse_date(text) == calendar.timegm(expected)


@pytest.mark.parametrize(
    "text", ["", "tomorrow", "Mon, 31-Feb-26 10:00:00 GMT", "1 Jan 1500 0:0:0"]
)
def test_what_is_not_a_cookie_date(text):
    assert parse_date(text) is None


def test_paths_and_domains_match_as_the_rfc_says():
    assert default_path("/a/b/c?x=1") == "/a/b"
    assert default_path("/a") == "/" and default_path("") == "/"
    assert path_matches("/api/x", "/api") and path_matches("/api/x", "/api/")
    assert path_matches("/api", "/api") and not path_matches("/apix", "/api")
    assert not path_matches("/pr/api/x", "/pr/api/?(.*)")  # a regex is no prefix of a path
    assert domain_matches("www.example.com", "example.com")
    assert not domain_matches("badexample.com", "example.com")
    assert not domain_matches("10.0.0.1", "0.0.1")


def test_a_host_only_cookie_goes_back_to_its_host_alone():
    j, _ = jar()
    assert j.receive("app.example.com", "/", ["a=1; Path=/"]) == []
    assert j.header("app.example.com", "/x") == "a=1"
    assert j.header("www.app.example.com", "/x") == ""


def test_a_domain_cookie_goes_to_subdomains_and_a_foreign_domain_is_refused():
    j, _ = jar()
    assert j.receive("www.example.com", "/", ["d=1; Domain=.example.com; Path=/"]) == []
    assert j.header("api.example.com", "/") == "d=1"
    refused = j.receive("www.example.com", "/", ["e=1; Domain=other.com"])
    assert refused == [
        "cookie e from www.example.com/ not stored: Domain=other.com does not cover the host "
        "www.example.com"
    ]


def test_a_regex_path_is_never_sent_back_and_a_missing_path_is_the_directory():
    j, _ = jar()
    j.receive("h", "/pr/api/orders", ["INGRESSCOOKIE=k|b; Path=/pr/api/?(.*); HttpOnly"])
    assert j.header("h", "/pr/api/orders") == ""
    j.receive("h", "/shop/cart/view", ["dir=1"])
    assert j.header("h", "/shop/cart/other") == "dir=1"
    assert j.header("h", "/shop/other") == ""


def test_same_name_cookies_go_longer_path_first_then_older_first():
    j, _ = jar()
    j.receive("h", "/", ["C=root; Path=/"])
    j.receive("h", "/", ["C=app; Path=/app"])
    j.receive("h", "/", ["D=one; Path=/"])
    assert j.header("h", "/app/x") == "C=app; C=root; D=one"


def test_a_cookie_of_the_same_name_domain_and_path_replaces_and_keeps_its_place():
    j, _ = jar()
    j.receive("h", "/", ["A=1; Path=/", "B=1; Path=/"])
    j.receive("h", "/", ["A=2; Path=/"])
    assert j.header("h", "/") == "A=2; B=1"


def test_max_age_wins_over_expires_and_lifetimes_run_out():
    j, clock = jar()
    j.receive("h", "/", ["m=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"])
    assert j.header("h", "/") == "m=1"
    clock.now += 61
    assert j.header("h", "/") == ""
    clock.now = NOW
    j.receive("h", "/", ["e=1; Expires=Mon, 07-Dec-26 12:00:30 GMT; Path=/"])
    assert j.header("h", "/") == "e=1"
    clock.now = NOW + 31
    assert j.header("h", "/") == ""


def test_max_age_zero_removes_a_cookie():
    j, _ = jar()
    j.receive("h", "/", ["s=1; Path=/"])
    said = j.receive("h", "/", ["s=gone; Max-Age=0; Path=/"])
    assert said == ["cookie s from h/ removed: its Max-Age or Expires is already over"]
    assert j.header("h", "/") == ""


def test_secure_and_samesite_none_without_secure_are_not_kept_over_plain_http():
    j, _ = jar()
    refused = j.receive("h", "/", ["s=1; Secure; Path=/", "n=1; SameSite=None; Path=/"])
    assert refused == [
        "cookie s from h/ not stored: Secure, and the answer came over plain HTTP",
        "cookie n from h/ not stored: SameSite=None without Secure (browsers refuse it)",
    ]
    assert j.receive("h", "/", ["x=1; Secure; Path=/"], https=True) == []
    assert j.header("h", "/") == "" and j.header("h", "/", https=True) == "x=1"
