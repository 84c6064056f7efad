"""The fake backend stands in for every data plane the registry knows.

The catalog's candidates whose answers depend most on the plane's own model (cookies,
round robin) run on ``--backend fake`` once per plane: a plane whose model the fake
serves differently from the catalog's expectations fails here, in the fast tier, before
the matrix runs the real data plane.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingressbed import planes

pytestmark = pytest.mark.slow  # a pytest session per plane

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", [p.name for p in planes.all_planes()])
def test_the_catalogs_cookie_and_round_robin_candidates_pass_on_the_fake(name, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "e2e/test_catalog.py", "--backend", "fake",
         "--data-plane", name, "-k", "cookie or round-robin", "-q", "-p", "no:cacheprovider",
         "--artifacts", str(tmp_path / "reports")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1], done.stdout[-2000:]
