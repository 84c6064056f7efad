"""``@pytest.mark.needs(...)``: a missing capability is a named skip before any setup."""

from __future__ import annotations

import shutil

import pytest

from ingressbed.errors import ToolError
from tests.real_processes import find_nginx

pytest_plugins = ["pytester"]

TESTS = """
import pytest

SET_UP = []


@pytest.fixture
def expensive():
    SET_UP.append("expensive")
    yield


@pytest.mark.needs("hash-subset")
def test_subset(expensive, serve):
    raise AssertionError("must not run on a backend without hash-subset")


@pytest.mark.needs("hash")
def test_hash(bed):
    assert "hash" in bed.capabilities


@pytest.mark.needs("hash-subsett")
def test_typo():
    pass


def test_nothing_was_set_up_for_the_skipped_test():
    assert SET_UP == []
"""


@pytest.mark.slow
def test_a_missing_capability_skips_before_fixtures_and_names_it(pytester):
    try:
        find_nginx()
    except ToolError as exc:
        pytest.fail(f"the local backend needs nginx: {exc}")
    assert shutil.which("curl"), "curl is needed by the local backend's tests"
    pytester.makepyfile(test_marked=TESTS)
    result = pytester.runpytest_inprocess(
        "--backend",
        "local",
        "--data-plane",
        "nginx",
        "-p",
        "no:cacheprovider",
        "-rsE",
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(passed=2, skipped=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED*test_marked.py:*backend local (nginx) lacks: hash-subset",
            "ERROR*test_typo*needs('hash-subsett'): no such capa*",
        ]
    )
    assert "needs('hash-subsett'): no such capability (did you mean 'hash-subset'?)" in (
        result.stdout.str()
    )


def test_a_session_whose_tests_all_skip_starts_nothing(pytester):
    pytester.makepyfile(
        """
import pytest

@pytest.mark.needs("cookie-affinity")
def test_cookie(bed):
    pass
"""
    )
    result = pytester.runpytest_inprocess(
        "--backend", "local", "--data-plane", "nginx", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(skipped=1)
    assert "Starting" not in result.stdout.str()
