"""Seeded traffic is the same in every process (no dependence on the hash seed)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ingressbed import traffic

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

SNIPPET = "from ingressbed import traffic; print(traffic.clients(50, seed=4))"


def test_clients_are_distinct_and_identical_across_processes():
    first = traffic.clients(50, seed=4)
    assert len(set(first)) == 50
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", SNIPPET],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == str(first)


def test_urls_are_distinct_and_carry_the_token():
    urls = traffic.urls(20, "/9090", token="abc")
    assert len(set(urls)) == 20
    assert all(u.startswith("/9090/abc/page-") for u in urls)
