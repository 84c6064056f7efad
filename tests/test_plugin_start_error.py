"""A bed start-up error under pytest is one line, once per session, without the "During
handling of the above exception" chain (issue 24). The start fails at "Checking Docker"
on a fake docker CLI answering like a cgroup v1 host; nothing else is started.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow  # runs a fake docker CLI
pytest_plugins = ["pytester"]

LATE_BED = """
import pytest

@pytest.mark.parametrize("i", range(3))
def test_asks_late(request, i):
    request.getfixturevalue("bed")  # not seen when the session starts: started here
"""


def test_a_start_error_in_the_bed_fixture_is_one_line_once(pytester, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"OSType": "linux", "CgroupVersion": "1"}))
    (bin_dir / "docker").write_text(f"#!/bin/sh\nexec /bin/cat {info}\n")
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/fake-docker.sock")
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    pytester.makepyfile(test_late=LATE_BED)
    # -rN: no short summary, whose FAILED line repeats the error uncut on a wide terminal.
    result = pytester.runpytest("--backend", "kind", "-p", "no:cacheprovider", "-rN")
    text = result.stdout.str()
    result.assert_outcomes(failed=1)
    assert "During handling of the above exception" not in text
    assert "Traceback" not in text
    assert text.count("needs cgroup v2; switch the host") == 1, text
    assert "the bed did not start (the error above)" in text
