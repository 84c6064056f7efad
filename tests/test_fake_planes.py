"""The fake backend stands in for every data plane the registry knows.

The catalog's candidates whose answers depend most on the plane's own model (the cookie
candidates: how a visitor is pinned, how a new one is placed) run on ``--backend fake``
for the first plane of each family (ingress-nginx, nginx, haproxy, envoy; the planes of a
family share their upstreams): a family whose model the fake serves differently from the
catalog's expectations fails here, before the matrix runs the real data planes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingressbed import planes

pytestmark = pytest.mark.slow  # a pytest session per plane

REPO = Path(__file__).resolve().parent.parent


FIRST_OF_EACH_FAMILY = list({p.flavor: p.name for p in reversed(planes.all_planes())}.values())


@pytest.mark.parametrize("name", FIRST_OF_EACH_FAMILY[::-1])
def test_the_catalogs_cookie_candidates_pass_on_the_fake(name, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "e2e/test_catalog.py", "--backend", "fake",
         "--data-plane", name, "-k", "cookie", "-q", "-p", "no:cacheprovider",
         "--artifacts", str(tmp_path / "reports")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1], done.stdout[-2000:]
