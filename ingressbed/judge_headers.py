"""Expectations on answers' headers and cookies: ``header`` and ``cookie`` (pure).

Observations in, a ``Verdict`` out. Answers keep the headers a scenario's steps were
asked to keep (``Observation.headers``: ``Set-Cookie``, ``Date`` and every header an
expectation names), and each request the ``Cookie`` header it carried
(``Observation.cookie``). A request nothing answered (a transport error) is no evidence:
it fails the expectation, as does a step with no answers, or a cookie no answer set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingressbed.clients.cookies import SetCookie, parse_date, parse_set_cookie
from ingressbed.expectations import CookieAttribute, CookieExpect, HeaderExpect
from ingressbed.judge_answers import show
from ingressbed.verdict import Verdict
from ingressbed.vocabulary import Observation

#: ``header`` and ``cookie`` compare these attributes without regard to case.
_ANY_CASE = ("Domain", "SameSite")


def _verdict(e: HeaderExpect | CookieExpect, asked: str, passed: bool, seen: str) -> Verdict:
    return Verdict(str(e.kind), asked, passed, seen, e.why, e.line)


def _steps(e: HeaderExpect | CookieExpect) -> str:
    return ", ".join(e.steps) or "(no step)"


def _unanswered(observations: Sequence[Observation]) -> list[Observation]:
    return [o for o in observations if o.status == 0]


def _header_holds(e: HeaderExpect, o: Observation) -> bool:
    values = o.header(e.name)
    if e.equals is not None:
        return e.equals in values
    if e.matches:
        return any(re.search(e.matches, v) for v in values)
    return bool(values) == e.present


def _header_wants(e: HeaderExpect) -> str:
    if e.equals is not None:
        return f"{e.name}: {e.equals}"
    if e.matches:
        return f"{e.name} matching /{e.matches}/"
    return f"{e.name} {'present' if e.present else 'absent'}"


def _header_seen(e: HeaderExpect, o: Observation) -> str:
    values = o.header(e.name)
    shown = " | ".join(repr(v) for v in values[:3]) if values else "(none)"
    return f"{show(o)}; {e.name}: {shown}"


def header(e: HeaderExpect, observations: Sequence[Observation]) -> Verdict:
    """``header``: the named header on ``every``, ``any``, the ``first`` or ``last`` answer."""
    asked = f"header {_header_wants(e)} on {e.answers} answer of {_steps(e)}"
    if not observations:
        return _verdict(e, asked, False, f"nothing to judge: no answers from {_steps(e)}")
    lost = _unanswered(observations)
    if lost:
        seen = f"{len(lost)} of {len(observations)} requests got no answer, e.g. {show(lost[0])}"
        return _verdict(e, asked, False, seen)
    if e.answers in ("first", "last"):
        one = observations[0] if e.answers == "first" else observations[-1]
        return _verdict(e, asked, _header_holds(e, one), _header_seen(e, one))
    good = [o for o in observations if _header_holds(e, o)]
    bad = [o for o in observations if not _header_holds(e, o)]
    seen = f"{len(good)} of {len(observations)} answers"
    passed = bool(good) if e.answers == "any" else not bad
    example = bad[0] if bad and not passed else (good[0] if good else observations[0])
    return _verdict(e, asked, passed, f"{seen}; e.g. {_header_seen(e, example)}")


def _cookies(e: CookieExpect, o: Observation) -> list[SetCookie]:
    found = [parse_set_cookie(v) for v in o.header("set-cookie")]
    return [c for c in found if c is not None and c.name == e.name]


def _attribute_problem(a: CookieAttribute, cookie: SetCookie, o: Observation) -> str:
    """Why ``cookie`` does not have ``a`` ("" when it does)."""
    value = cookie.attribute(a.name)
    if not a.present:
        return "" if value is None else f"{a.name}={value} is there"
    if value is None:
        return f"no {a.name}"
    if a.seconds is not None:
        return _seconds_problem(a, value, o)
    if a.value is None:
        return ""
    same = value.lower() == a.value.lower() if a.name in _ANY_CASE else value == a.value
    return "" if same else f"{a.name}={value}"


def _seconds_problem(a: CookieAttribute, value: str, o: Observation) -> str:
    assert a.seconds is not None
    if a.name == "Max-Age":
        if not re.fullmatch(r"-?\d+", value):
            return f"Max-Age={value} is not a number of seconds"
        return "" if a.seconds.holds(int(value)) else f"Max-Age={value}"
    expires, dates = parse_date(value), o.header("date")
    if expires is None:
        return f"Expires={value} is not a date a browser reads"
    sent = parse_date(dates[-1]) if dates else None
    if sent is None:
        return f"no Date header to measure Expires={value} from"
    seconds = expires - sent
    return "" if a.seconds.holds(seconds) else f"Expires is {seconds:g} s after Date"


def _asked(e: CookieExpect) -> str:
    parts = []
    if e.set is True:
        parts.append(
            "set"
            + (f" with {', '.join(a.describe() for a in e.attributes)}" if e.attributes else "")
        )
    elif e.set is False:
        parts.append("never set")
    if e.sent is not None:
        parts.append("sent back on every request" if e.sent else "never sent back")
    return f"cookie {e.name} {' and '.join(parts)} in {_steps(e)}"


def cookie(e: CookieExpect, observations: Sequence[Observation]) -> Verdict:
    """``cookie``: whether answers set it (with these attributes) and requests carried it."""
    asked = _asked(e)
    if not observations:
        return _verdict(e, asked, False, f"nothing to judge: no answers from {_steps(e)}")
    lost = _unanswered(observations)
    if lost:
        seen = f"{len(lost)} of {len(observations)} requests got no answer, e.g. {show(lost[0])}"
        return _verdict(e, asked, False, seen)
    said: list[str] = []
    passed = True
    if e.set is not None:
        ok, line = _set(e, observations)
        passed, said = passed and ok, [*said, line]
    if e.sent is not None:
        carried = [o for o in observations if e.name in _names(o.cookie)]
        ok = len(carried) == len(observations) if e.sent else not carried
        line = f"{len(carried)} of {len(observations)} requests carried {e.name}"
        odd = [o for o in observations if (o in carried) != e.sent]
        if odd and not ok:
            line += f", e.g. {show(odd[0])} (Cookie: {odd[0].cookie or '(none)'})"
        passed, said = passed and ok, [*said, line]
    return _verdict(e, asked, passed, "; ".join(said))


def _names(header_value: str) -> set[str]:
    return {part.split("=", 1)[0].strip() for part in header_value.split(";") if "=" in part}


def _set(e: CookieExpect, observations: Sequence[Observation]) -> tuple[bool, str]:
    setting = [(o, c) for o in observations for c in _cookies(e, o)]
    if e.set is False:
        if not setting:
            return True, f"no answer of {len(observations)} set {e.name}"
        o, c = setting[0]
        return False, f"{len(setting)} Set-Cookie of {e.name}, e.g. {show(o)}: {c.raw}"
    if not setting:
        others = sorted({c.split("=", 1)[0] for o in observations for c in o.header("set-cookie")})
        also = f" (Set-Cookie seen: {', '.join(others)})" if others else ""
        return False, (f"nothing to judge: no answer of {len(observations)} set {e.name}{also}")
    problems = [
        (o, c, p)
        for o, c in setting
        for p in [_attribute_problem(a, c, o) for a in e.attributes]
        if p
    ]
    if problems:
        o, c, p = problems[0]
        return False, f"{p} in {c.raw} ({show(o)})"
    return True, f"{len(setting)} Set-Cookie of {e.name}, e.g. {setting[0][1].raw}"
