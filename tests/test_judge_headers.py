"""The header and cookie expectations, judged on hand-made observations (pure)."""

from __future__ import annotations

from dataclasses import replace

from ingressbed.expectations import Bound, CookieAttribute, CookieExpect, HeaderExpect
from ingressbed.judge_headers import cookie, header
from ingressbed.vocabulary import Observation

SET = "INGRESSCOOKIE=k|b; Expires=Mon, 07-Dec-26 13:00:00 GMT; Max-Age=3600; Path=/; HttpOnly"
DATE = "Mon, 07 Dec 2026 12:00:00 GMT"


def answer(*headers: tuple[str, str], cookie_sent: str = "", status: int = 200) -> Observation:
    return Observation(
        "http", "10.0.0.1", "h", "/", "p", "10.244.0.1", 8080, status, step="a",
        headers=tuple(headers), cookie=cookie_sent,
    )  # fmt: skip


def test_a_header_present_equal_or_matching_on_every_any_first_or_last_answer():
    plain = answer(("x-served-by", "v1"))
    other = answer(("x-served-by", "v2"))
    bare = answer()
    present = HeaderExpect(steps=("a",), name="x-served-by")
    assert header(present, [plain, other]).passed
    verdict = header(present, [plain, bare])
    assert not verdict.passed and verdict.seen.startswith("1 of 2 answers; e.g. a 10.0.0.1")
    assert header(replace(present, answers="any"), [bare, plain]).passed
    assert not header(replace(present, answers="last"), [plain, bare]).passed
    assert header(replace(present, present=False, answers="first"), [bare, plain]).passed
    assert header(replace(present, equals="v2", answers="any"), [plain, other]).passed
    assert not header(replace(present, matches="^v[3-9]"), [plain, other]).passed


def test_a_request_nothing_answered_is_no_evidence_of_absence():
    lost = answer(status=0)
    verdict = header(HeaderExpect(steps=("a",), name="x-canary", present=False), [lost])
    assert not verdict.passed and "1 of 1 requests got no answer" in verdict.seen


def test_cookie_attributes_are_judged_on_every_set_cookie_of_that_name():
    good = answer(("set-cookie", SET), ("set-cookie", "other=1"), ("date", DATE))
    wanted = CookieExpect(
        steps=("a",),
        name="INGRESSCOOKIE",
        set=True,
        attributes=(
            CookieAttribute("Path", value="/"),
            CookieAttribute("HttpOnly"),
            CookieAttribute("Secure", present=False),
            CookieAttribute("Max-Age", seconds=Bound(equals=3600)),
            CookieAttribute("Expires", seconds=Bound(at_least=3599, at_most=3601)),
            CookieAttribute("SameSite", present=False),
        ),
    )
    verdict = cookie(wanted, [good])
    assert verdict.passed, verdict.seen
    wrong = replace(wanted, attributes=(CookieAttribute("Path", value="/app"),))
    verdict = cookie(wrong, [good])
    assert not verdict.passed and verdict.seen.startswith("Path=/ in INGRESSCOOKIE=k|b;")


def test_expires_needs_the_answers_date_and_a_cookie_nobody_set_is_missing_evidence():
    undated = answer(("set-cookie", SET))
    expires = CookieAttribute("Expires", seconds=Bound(at_least=1))
    verdict = cookie(
        CookieExpect(steps=("a",), name="INGRESSCOOKIE", set=True, attributes=(expires,)),
        [undated],
    )
    assert not verdict.passed and "no Date header to measure Expires=" in verdict.seen
    nothing = cookie(CookieExpect(steps=("a",), name="X", set=True), [answer(("set-cookie", SET))])
    assert not nothing.passed
    assert nothing.seen == "nothing to judge: no answer of 1 set X (Set-Cookie seen: INGRESSCOOKIE)"


def test_never_set_and_sent_back_or_not():
    sent = answer(cookie_sent="a=1; INGRESSCOOKIE=k|b")
    unsent = answer(cookie_sent="a=1")
    assert cookie(CookieExpect(steps=("a",), name="INGRESSCOOKIE", sent=True), [sent]).passed
    verdict = cookie(CookieExpect(steps=("a",), name="INGRESSCOOKIE", sent=True), [sent, unsent])
    assert not verdict.passed and verdict.seen.startswith("1 of 2 requests carried INGRESSCOOKIE")
    assert "(Cookie: a=1)" in verdict.seen
    never = CookieExpect(steps=("a",), name="INGRESSCOOKIE", set=False, sent=False)
    assert cookie(never, [unsent]).passed
    assert not cookie(never, [answer(("set-cookie", SET))]).passed
