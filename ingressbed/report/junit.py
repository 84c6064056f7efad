"""A scenario's outcome as a JUnit XML report (``ingressbed repro --junit FILE``), for CI.

One ``testsuite`` named after the scenario file, one ``testcase`` per expectation judged
(``name`` its line and what it asked; a ``failure`` with what was seen and why), the
expectations a controller release leaves out as ``skipped``, and the verdict's text as
``system-out``. A scenario that did not run is one ``testcase``: ``skipped`` with the
reason (exit 4), or an ``error`` with the bed's one line (exit 3).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ingressbed.scenario.spec import Scenario
from ingressbed.scenario.verdict import ScenarioVerdict


def _suite(scenario: Scenario, seconds: float) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root, "testsuite", name=f"ingressbed repro {scenario.path}", time=f"{seconds:.3f}"
    )
    return root, suite


def _counts(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(key, str(sum(1 for c in cases if c.find(tag) is not None)))


def _text(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def verdict_report(verdict: ScenarioVerdict, seconds: float = 0.0) -> str:
    """The report of a scenario that ran (passed or not)."""
    scenario = verdict.scenario
    root, suite = _suite(scenario, seconds)
    for v in verdict.verdicts:
        case = ET.SubElement(
            suite, "testcase", classname=scenario.path, name=f"line {v.line}: {v.asked}"
        )
        if not v.passed:
            failure = ET.SubElement(case, "failure", message=v.seen.splitlines()[0][:500])
            failure.text = v.seen + (f"\nwhy: {v.why}" if v.why else "")
    if not verdict.verdicts:
        case = ET.SubElement(suite, "testcase", classname=scenario.path, name=scenario.title)
        plane = verdict.run.plane or "?"
        ET.SubElement(case, "failure", message=f"no expectation applies to data plane {plane}")
    for line in verdict.not_judged():
        case = ET.SubElement(suite, "testcase", classname=scenario.path, name=line)
        ET.SubElement(case, "skipped", message=line)
    out = ET.SubElement(suite, "system-out")
    out.text = verdict.render()
    _counts(suite)
    return _text(root)


def outcome_report(scenario: Scenario, *, skipped: str = "", error: str = "") -> str:
    """The report of a scenario that did not run: ``skipped`` or ``error`` (one line)."""
    root, suite = _suite(scenario, 0.0)
    case = ET.SubElement(suite, "testcase", classname=scenario.path, name=scenario.title)
    if skipped:
        ET.SubElement(case, "skipped", message=skipped)
    else:
        ET.SubElement(case, "error", message=error)
    _counts(suite)
    return _text(root)
