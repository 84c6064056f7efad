"""Cookie affinity on the local ingress-nginx plane, with real nginx and hellogo pods:
the cookie's value and every attribute rule, regex locations, the locations list, sticky
beating hash, two cookies of one name, and listed dead pods with and without
change-on-failure.

One plane (one worker, HTTP and HTTPS) serves the module; one post holds every backend.
"""

from __future__ import annotations

import email.message
import http.cookiejar
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ingressbed.ingress_nginx_lua import Backend, CookieAffinity, Location, Server
from ingressbed.placement import Ring, backend_key, persistent_cookie, predict_cookie
from ingressbed.vocabulary import Endpoint, Flavor
from tests.lua_bed import LuaBed, lua_bed, needs_lua

pytestmark = [pytest.mark.slow, needs_lua]

REGEX_PATH = "/pr/api/?(.*)"
PLAIN = ("bal", "attrs", "lax", "none", "secure", "per", "listed", "unlisted", "hash", "dead")
PLAIN += ("cof",)
BALANCED_VALUE = re.compile(r"(\d+(?:\.\d+)?)\.(\d+)\.(\d+)\|([0-9a-f]{32})")
CHROME_60 = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/60.0.3112.90 Safari/537.36"
CHROME_120 = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36"
IOS_12 = "Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15"


def _backend_of(path: str) -> str:
    return "ck-list" if path in ("listed", "unlisted") else f"ck-{path}"


@pytest.fixture(scope="module")
def bed() -> Iterator[LuaBed]:
    servers = [
        Server("_", tuple(x for p in PLAIN for x in Location.prefix(f"/{p}", _backend_of(p)))),
        Server("regex.example", (Location(f'~* "^{REGEX_PATH}"', REGEX_PATH, "ck-regex"),)),
    ]
    with lua_bed(servers, pods=7, tls=True) as started:
        pods, dead = started.endpoints(6), (*started.endpoints(6), started.dead())

        def sticky(which: str, endpoints: tuple[Endpoint, ...] = pods, /, **cookie) -> Backend:
            where = cookie.pop("locations", {"_": (f"/{which}",)})
            affinity = CookieAffinity(locations=where, **cookie)
            return Backend(f"ck-{which}", endpoints, affinity=affinity)

        started.apply(
            sticky("bal"),
            sticky(
                "attrs",
                name="route",
                expires="3600",
                max_age="7200",
                domain="example.com",
                samesite="Strict",
                path="/p",
            ),
            sticky("lax", samesite="lax"),
            sticky("none", samesite="None", conditional_samesite_none=True),
            sticky("secure", secure=True),
            sticky("per", mode="persistent"),
            sticky("list", locations={"_": ("/listed",)}),
            Backend(
                "ck-hash",
                pods,
                hash_by="$request_uri",
                affinity=CookieAffinity(locations={"_": ("/hash",)}),
            ),
            sticky("dead", dead),
            sticky("cof", dead, change_on_failure=True),
            sticky("regex", locations={"regex.example": (REGEX_PATH,)}),
        )
        yield started


def _ring(endpoints: tuple[Endpoint, ...]) -> Ring[Endpoint]:
    return Ring.build(Flavor.INGRESS_NGINX, endpoints)


def _key_on(endpoints: tuple[Endpoint, ...], wanted: Endpoint, start: int = 0) -> str:
    """A cookie key the ring of ``endpoints`` places on ``wanted``."""
    ring = _ring(endpoints)
    return next(f"k{n}" for n in range(start, 100_000) if ring.lookup(f"k{n}".encode()) == wanted)


def test_a_balanced_cookie_names_its_ring_key_and_the_backend(bed: LuaBed):
    pods = bed.endpoints(6)
    before = time.time()
    first = bed.get("/bal/x")
    assert first.status == 200 and len(first.cookies) == 1
    name, _, rest = first.cookies[0].partition("=")
    value, attributes = rest.split("; ", 1)
    assert name == "INGRESSCOOKIE"
    assert attributes == "Path=/bal; HttpOnly"  # Path: the location path as written
    match = BALANCED_VALUE.fullmatch(value)
    assert match, value
    stamp, pid, _draw, key_of_backend = match.groups()
    assert before + 1 - 0.5 <= float(stamp) <= time.time() + 1 + 0.5  # now + 1, not an expiry
    assert int(pid) in {w.pid for w in bed.plane.state().workers}
    assert key_of_backend == backend_key("ck-bal")
    assert first.pod == predict_cookie("balanced", pods, value)  # the key on the ring
    again = bed.get("/bal/y", cookie=f"INGRESSCOOKIE={value}")
    assert again.pod == first.pod and again.cookies == []


def test_every_attribute_in_the_controllers_order(bed: LuaBed):
    answer = bed.get("/attrs/x")
    value, *attributes = answer.cookies[0].split("; ")
    assert value.startswith("route=")
    expires = datetime.strptime(attributes[0], "Expires=%a, %d-%b-%y %H:%M:%S GMT")
    assert abs(expires.replace(tzinfo=UTC).timestamp() - (time.time() + 3600)) < 5
    assert attributes[1:] == [
        "Max-Age=7200",
        "Domain=example.com",
        "Path=/p",  # session-cookie-path wins over the location path
        "HttpOnly",
        "SameSite=Strict",
    ]


def test_same_site_lower_case_is_dropped_and_none_depends_on_the_browser(bed: LuaBed):
    assert bed.get("/lax/x").cookies[0].endswith("; Path=/lax; HttpOnly")
    for agent, kept in ((CHROME_60, False), (IOS_12, False), (CHROME_120, True), (None, True)):
        headers = {"User-Agent": agent} if agent else {}
        cookie = bed.get("/none/x", headers=headers).cookies[0]
        assert cookie.endswith("; Path=/none; HttpOnly" + ("; SameSite=None" if kept else "")), (
            agent,
            cookie,
        )


def test_secure_over_https_or_when_asked(bed: LuaBed):
    assert bed.get("/bal/x", https=True).cookies[0].endswith("; Path=/bal; Secure; HttpOnly")
    assert bed.get("/bal/x").cookies[0].endswith("; Path=/bal; HttpOnly")
    assert bed.get("/secure/x").cookies[0].endswith("; Path=/secure; Secure; HttpOnly")


def test_a_regex_location_sets_its_regex_as_the_path_which_no_browser_sends_back(bed: LuaBed):
    first = bed.get("/pr/api/v1", host="regex.example")
    assert first.status == 200 and len(first.cookies) == 1
    assert first.cookies[0].endswith(f"; Path={REGEX_PATH}; HttpOnly")
    jar = http.cookiejar.CookieJar()
    request = urllib.request.Request("http://regex.example/pr/api/v1")
    head = email.message.Message()
    head["Set-Cookie"] = first.cookies[0]
    jar.extract_cookies(_Response(head), request)
    assert len(jar) == 1  # stored...
    later = urllib.request.Request("http://regex.example/pr/api/v2")
    jar.add_cookie_header(later)
    assert not later.has_header("Cookie")  # ...but never sent: every request a fresh pick
    assert len(bed.get("/pr/api/v2", host="regex.example").cookies) == 1


class _Response:
    def __init__(self, head: email.message.Message) -> None:
        self._head = head

    def info(self) -> email.message.Message:
        return self._head


def test_a_persistent_cookie_names_its_endpoint_and_a_gone_one_draws_again(bed: LuaBed):
    first = bed.get("/per/x")
    assert first.pod is not None
    assert first.cookie_value() == f"INGRESSCOOKIE={persistent_cookie('ck-per', first.pod)}"
    cookie = first.cookie_value()
    again = bed.get("/per/y", cookie=cookie)
    assert again.pod == first.pod and again.cookies == []
    others = tuple(e for e in bed.endpoints(6) if e != first.pod)
    backend = bed.backends["ck-per"]
    try:
        bed.apply(Backend("ck-per", others, affinity=backend.affinity))
        moved = bed.get("/per/z", cookie=cookie)
        assert moved.pod in others and moved.pod is not None
        assert moved.cookie_value() == f"INGRESSCOOKIE={persistent_cookie('ck-per', moved.pod)}"
    finally:
        bed.apply(backend)


def test_a_location_not_listed_gets_no_cookie_and_a_random_pick(bed: LuaBed):
    assert len(bed.get("/listed/x").cookies) == 1
    answers = [bed.get("/unlisted/x") for _ in range(30)]
    assert all(a.status == 200 and a.cookies == [] for a in answers)
    assert len({a.pod for a in answers}) > 1  # one pod 30 times: 6 * 6**-30


def test_sticky_beats_hash(bed: LuaBed):
    pods = bed.endpoints(6)
    assert len(bed.get("/hash/x").cookies) == 1  # no cookie yet: one is issued
    by_uri = _ring(pods).lookup(b"/hash/x")
    others = [p for p in pods if p != by_uri]
    for pod in others:
        key = _key_on(pods, pod)
        cookie = f"INGRESSCOOKIE={key}|{backend_key('ck-hash')}"
        answer = bed.get("/hash/x", cookie=cookie)
        assert answer.pod == pod and answer.cookies == []


def test_of_two_cookies_with_one_name_the_last_counts(bed: LuaBed):
    pods = bed.endpoints(6)
    first, second = _key_on(pods, pods[0]), _key_on(pods, pods[1])
    suffix = backend_key("ck-bal")
    both = f"INGRESSCOOKIE={first}|{suffix}; INGRESSCOOKIE={second}|{suffix}"
    assert bed.get("/bal/x", cookie=both).pod == pods[1]
    swapped = f"INGRESSCOOKIE={second}|{suffix}; INGRESSCOOKIE={first}|{suffix}"
    assert bed.get("/bal/x", cookie=swapped).pod == pods[0]


def _connect_failures(bed: LuaBed, dead: Endpoint) -> int:
    log = bed.plane.run_dir / "error.log"
    return sum(
        1
        for line in log.read_text(errors="replace").splitlines()
        if "connect() failed" in line and f"http://{dead}/" in line
    )


def test_a_cookie_on_a_dead_pod_fails_after_three_tries_without_change_on_failure(bed: LuaBed):
    dead = bed.dead()
    endpoints = (*bed.endpoints(6), dead)
    cookie = f"INGRESSCOOKIE={_key_on(endpoints, dead)}|{backend_key('ck-dead')}"
    failures = _connect_failures(bed, dead)
    answer = bed.get("/dead/x", cookie=cookie)
    assert answer.status == 502 and answer.cookies == []
    assert _connect_failures(bed, dead) == failures + 3  # 3 tries, all to the cookie's pod


def test_change_on_failure_moves_the_session_with_a_new_cookie(bed: LuaBed):
    dead = bed.dead()
    endpoints = (*bed.endpoints(6), dead)
    cookie = f"INGRESSCOOKIE={_key_on(endpoints, dead)}|{backend_key('ck-cof')}"
    failures = _connect_failures(bed, dead)
    answer = bed.get("/cof/x", cookie=cookie)
    assert answer.status == 200 and len(answer.cookies) == 1
    assert answer.pod == predict_cookie(
        "balanced", endpoints, answer.cookie_value().split("=", 1)[1]
    )
    assert _connect_failures(bed, dead) == failures + 1


def test_a_fresh_client_whose_first_try_hits_a_dead_pod_gets_two_cookies(bed: LuaBed):
    dead = bed.dead()
    endpoints = (*bed.endpoints(6), dead)
    # The first draw lands on the dead pod with probability about 1/7: 200 fresh clients
    # all missing it has probability about 4e-14.
    for _ in range(200):
        answer = bed.get("/dead/x")
        assert answer.status == 200
        if len(answer.cookies) == 2:
            break
        assert len(answer.cookies) == 1
    else:
        pytest.fail("no fresh client's first try went to the dead pod in 200 tries")
    first, second = (answer.cookie_value(i).split("=", 1)[1] for i in (0, 1))
    assert predict_cookie("balanced", endpoints, first) == dead  # the first names the dead pod
    assert predict_cookie("balanced", endpoints, second) == answer.pod
