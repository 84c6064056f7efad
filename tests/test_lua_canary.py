"""Canaries on the local ingress-nginx plane, with real nginx and hellogo pods: header,
header value and pattern, cookie, weight and weight total, decided in that order, and
their interplay with cookie affinity (sticky and legacy canary behaviour).

Main backends balance over pods 0-2, canaries over pods 3-5, so the answering pod says
which one served. One plane (one worker) and one post serve the module.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from ingressbed.ingress_nginx_lua import Backend, CookieAffinity, Location, Server, TrafficShaping
from ingressbed.placement import backend_key, predict_cookie
from tests.lua_bed import LuaBed, lua_bed, needs_lua

pytestmark = [pytest.mark.slow, needs_lua]

CASES = ("hdr", "val", "pat", "both", "w50", "w30", "aff", "leg")


@pytest.fixture(scope="module")
def bed() -> Iterator[LuaBed]:
    servers = [Server("_", tuple(x for c in CASES for x in Location.prefix(f"/{c}", f"main-{c}")))]
    with lua_bed(servers, pods=6) as started:
        pods = started.endpoints()
        main, canary = pods[:3], pods[3:]

        def pair(case: str, policy: TrafficShaping, **extra) -> tuple[Backend, Backend]:
            main_affinity = extra.pop("affinity", None)
            canary_affinity = extra.pop("canary_affinity", main_affinity)
            return (
                Backend(
                    f"main-{case}",
                    main,
                    affinity=main_affinity,
                    alternative_backends=(f"canary-{case}",),
                ),
                Backend(
                    f"canary-{case}",
                    canary,
                    affinity=canary_affinity,
                    traffic_shaping=policy,
                    no_server=True,
                ),
            )

        sticky = CookieAffinity(locations={"_": ("/aff",)})
        started.apply(
            *pair("hdr", TrafficShaping(header="X-Canary", cookie="canary")),
            *pair("val", TrafficShaping(header="X-Canary", header_value="yes")),
            *pair("pat", TrafficShaping(header="X-Canary", header_pattern="^v[0-9]+$")),
            *pair(
                "both",
                TrafficShaping(header="X-Canary", header_value="yes", header_pattern="^v[0-9]+$"),
            ),
            *pair("w50", TrafficShaping(weight=50, weight_total=100)),
            *pair("w30", TrafficShaping(weight=30, weight_total=50)),
            *pair("aff", TrafficShaping(header="X-Canary"), affinity=sticky),
            *pair(
                "leg",
                TrafficShaping(weight=50),
                affinity=CookieAffinity(locations={"_": ("/leg",)}),
                canary_affinity=None,  # affinity-canary-behavior: legacy
            ),
        )
        yield started


def _side(bed: LuaBed, path: str, **request) -> str:
    answer = bed.get(path, **request)
    assert answer.status == 200, answer
    pods = bed.endpoints()
    return "main" if answer.pod in pods[:3] else "canary" if answer.pod in pods[3:] else "?"


@pytest.mark.parametrize(
    ("path", "header", "cookie", "side"),
    [
        ("/hdr", None, None, "main"),
        ("/hdr", "always", None, "canary"),
        ("/hdr", "never", None, "main"),
        ("/hdr", "Always", None, "main"),  # case matters; weight 0 then
        ("/hdr", None, "canary=always", "canary"),
        ("/hdr", None, "canary=never", "main"),
        ("/hdr", "never", "canary=always", "main"),  # the header decides first
        ("/hdr", "maybe", "canary=always", "canary"),  # an unknown value falls through
        ("/val", "yes", None, "canary"),
        ("/val", "always", None, "main"),  # with a value, always is just another value
        ("/pat", "v12", None, "canary"),
        ("/pat", "x12", None, "main"),
        ("/pat", "always", None, "main"),
        ("/both", "yes", None, "canary"),
        ("/both", "v12", None, "main"),  # a value set wins over the pattern
    ],
)
def test_header_then_cookie_decide(bed: LuaBed, path, header, cookie, side):
    headers = {"X-Canary": header} if header else {}
    assert _side(bed, f"{path}/x", headers=headers, cookie=cookie) == side


def _within_four_sigma(hits: int, tries: int, share: float) -> bool:
    spread = 4 * math.sqrt(tries * share * (1 - share))
    return abs(hits - tries * share) <= spread


def test_weight_50_of_100_is_a_fair_coin(bed: LuaBed):
    connection = bed.connection()
    try:
        sides = [_side(bed, "/w50/x", connection=connection) for _ in range(1000)]
    finally:
        connection.close()
    assert _within_four_sigma(sides.count("canary"), 1000, 0.5), sides.count("canary")


def test_a_weight_total_below_100_counts_as_100(bed: LuaBed):
    connection = bed.connection()
    try:
        sides = [_side(bed, "/w30/x", connection=connection) for _ in range(1000)]
    finally:
        connection.close()
    hits = sides.count("canary")
    assert _within_four_sigma(hits, 1000, 0.3), hits  # 30 of 100, not 30 of 50
    assert not _within_four_sigma(hits, 1000, 0.6), hits


def test_a_main_issued_cookie_stays_on_main_even_with_always(bed: LuaBed):
    pods = bed.endpoints()
    first = bed.get("/aff/x")
    assert first.pod in pods[:3] and len(first.cookies) == 1
    value = first.cookie_value().split("=", 1)[1]
    assert value.endswith("|" + backend_key("main-aff"))
    for _ in range(5):
        answer = bed.get("/aff/x", headers={"X-Canary": "always"}, cookie=f"INGRESSCOOKIE={value}")
        assert answer.pod == first.pod and answer.cookies == []


def test_a_canary_issued_cookie_beats_never(bed: LuaBed):
    pods = bed.endpoints()
    first = bed.get("/aff/x", headers={"X-Canary": "always"})
    assert first.pod in pods[3:] and len(first.cookies) == 1
    value = first.cookie_value().split("=", 1)[1]
    assert value.endswith("|" + backend_key("canary-aff"))  # sticky: the canary's own key
    assert predict_cookie("balanced", pods[3:], value) == first.pod
    for _ in range(5):
        answer = bed.get("/aff/x", headers={"X-Canary": "never"}, cookie=f"INGRESSCOOKIE={value}")
        assert answer.pod == first.pod and answer.cookies == []


def test_legacy_a_client_is_drawn_again_until_it_lands_on_main_then_stays(bed: LuaBed):
    cookie = None
    history: list[tuple[str, int]] = []
    for _ in range(40):  # weight 50: still on the canary after 40 draws has chance 2**-40
        answer = bed.get("/leg/x", cookie=cookie)
        side = "main" if answer.pod in bed.endpoints()[:3] else "canary"
        history.append((side, len(answer.cookies)))
        if answer.cookies:
            cookie = answer.cookie_value()
        if side == "main":
            break
    assert history[-1] == ("main", 1), history  # the first main answer sets the cookie
    assert all(entry == ("canary", 0) for entry in history[:-1]), history  # no cookie before
    for _ in range(20):
        answer = bed.get("/leg/x", cookie=cookie)
        assert answer.pod in bed.endpoints()[:3] and answer.cookies == []
