"""The wheel: what it carries, and that the plugin works from it in an empty folder.

``pip wheel .`` builds the distribution as a user's ``pip install .`` would. The wheel is
then unpacked (``pip install --target``) and used from a folder that holds nothing but
one test file: the ``bed`` and ``serve`` fixtures and the ``needs`` marker must come from
the wheel's ``pytest11`` entry point, and the test runs on the real local backend.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent

USER_TEST = """
import pytest
import ingressbed
from ingressbed import layouts
from ingressbed.clients.http import HttpRequest, probe


def test_comes_from_the_wheel():
    assert ingressbed.__file__.startswith({target!r}), ingressbed.__file__


def test_serve_and_probe(serve):
    bed = serve(layouts.setup("one-port", {{"upstream-hash-by": "$request_uri"}}, replicas=2))
    seen = probe(bed.address(), [HttpRequest("/8080/a", layouts.DEFAULT_HOST)] * 4)
    assert len({{o.pod for o in seen}}) == 1 and all(o.status == 200 for o in seen)


@pytest.mark.needs("cookie-affinity")
def test_skipped_by_name(bed):
    raise AssertionError("local has no cookie affinity")
"""


def _tracked_copy(dest: Path) -> Path:
    """The repository's tracked files only: a stale ``build/`` must not reach the wheel."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = _tracked_copy(tmp_path_factory.mktemp("source"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (found,) = out.glob("ingressbed-*.whl")
    return found


def test_the_wheel_carries_the_data_the_entry_points_and_no_repository_parts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ingressbed/manifests/lock.yaml" in names
    assert any(n.startswith("ingressbed/manifests/catalog") for n in names), sorted(names)
    assert "hellogo/Dockerfile" in names
    assert "ingressbed/pytest_plugin/__init__.py" in names
    packages = {
        init.parent.relative_to(REPO).as_posix() + "/__init__.py"
        for init in (REPO / "ingressbed").rglob("__init__.py")
    }
    assert packages <= names, f"packages missing from the wheel: {sorted(packages - names)}"
    assert not [n for n in names if n.split("/")[0] in ("fixtures", "tests", "e2e", "bench")]
    meta = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(meta).decode()
    assert "[pytest11]\ningressbed = ingressbed.pytest_plugin" in entry_points
    assert "ingressbed = ingressbed.cli:main" in entry_points


def test_the_plugin_works_from_the_wheel_in_an_empty_folder(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "test_user.py").write_text(USER_TEST.format(target=str(target)))
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--backend",
            "local",
            "--data-plane",
            "nginx",
            "-p",
            "no:cacheprovider",
            "-rs",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "2 passed, 1 skipped" in out, out[-3000:]
    assert "backend local (nginx) lacks: cookie-affinity" in out
    # the run's artifacts went to the user's folder, not to a checkout
    assert not (REPO / "elsewhere").exists()
