"""A pytest session on the bed: started once when the session starts, its start-up errors
said once (exit 4), and its report never lost because the final write failed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes (tests/conftest.py)

pytest_plugins = ["pytester"]

USES_THE_BED = """
from ingressbed import layouts

def test_one(serve):
    serve(layouts.setup("one-port", replicas=1))

def test_two(serve):
    serve(layouts.setup("one-port", replicas=1))

def test_three(bed):
    pass

def test_unrelated():
    pass
"""


def _run(pytester, *args: str):
    pytester.makepyfile(test_session=USES_THE_BED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--artifacts", str(pytester.path / "reports"), *args
    )
    return result, result.stdout.str() + "\n" + result.stderr.str()


@pytest.mark.parametrize(
    ("variable", "args", "said"),
    [
        (
            ("INGRESSBED_NGINX", "/nonexistent"),
            ("--backend", "local"),
            "ERROR: ingressbed: Finding nginx: INGRESSBED_NGINX=/nonexistent is not an "
            "executable file",
        ),
        (
            None,
            ("--backend", "cluster"),
            "ERROR: ingressbed: the cluster backend needs a kubeconfig context: pass --context "
            "NAME (or set INGRESSBED_CONTEXT); it never uses the current context by itself",
        ),
    ],
    ids=["nginx-missing", "cluster-without-context"],
)
def test_a_start_up_error_stops_the_session_once_with_exit_4(
    pytester, monkeypatch, variable, args, said
):
    if variable:
        monkeypatch.setenv(*variable)
    result, text = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("ERROR")]
    assert errors == [said], text
    assert "passed" not in text and "failed" not in text, text  # no test ran, none failed


def test_artifacts_nothing_can_be_created_in_stop_the_session_at_start_up(pytester):
    pytester.makepyfile(test_session=USES_THE_BED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend", "local", "--artifacts", "/proc/nope"
    )
    text = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert [line for line in text.splitlines() if "/proc/nope" in line] == [
        "ERROR: ingressbed: --artifacts /proc/nope: cannot create folders in it (No such file "
        "or directory); choose another artifacts folder"
    ]
    assert "Starting nginx" not in text  # stopped before anything started


def test_a_session_whose_tests_skip_or_do_not_use_the_bed_starts_nothing(pytester):
    pytester.makepyfile(
        test_session="""
import pytest
from ingressbed.vocabulary import Capability

@pytest.mark.needs(Capability.COOKIE)
def test_skipped(bed):
    pass

def test_unrelated():
    pass
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend", "local", "--data-plane", "nginx",
        "--artifacts", str(pytester.path / "r"),
    )  # fmt: skip
    text = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == pytest.ExitCode.OK, text
    assert "Starting nginx" not in text and "1 passed, 1 skipped" in text


LOSES_ITS_FOLDER = """
import shutil
from pathlib import Path

from ingressbed import catalog
from ingressbed.report.results import SKIPPED

def test_records_then_the_artifacts_folder_goes(catalog_recorder, pytestconfig):
    listed = catalog.load()
    catalog_recorder.begin(listed.candidates[0], listed)
    catalog_recorder.not_measured(listed.candidates[0], SKIPPED, "for the record")
    folder = Path(pytestconfig.getoption("artifacts"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_text("a file where the artifacts folder was")
"""


def test_results_are_written_elsewhere_and_said_when_the_artifacts_folder_fails(pytester):
    pytester.makepyfile(test_session=LOSES_ITS_FOLDER)
    artifacts = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend", "local", "--artifacts", str(artifacts)
    )
    text = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == pytest.ExitCode.OK, text
    assert "INTERNALERROR" not in text and "Traceback" not in text, text
    notes = [line for line in text.splitlines() if line.startswith("note:   could not write")]
    assert len(notes) == 1, text
    assert notes[0].startswith(f"note:   could not write the report to {artifacts} (")
    fallback = Path(notes[0].rsplit("it was written to ", 1)[1].removesuffix(" instead"))
    try:
        data = json.loads((fallback / "report.json").read_text())
        first = next(c for c in data["candidates"] if c["reason"] == "for the record")
        assert first["status"] == "skipped"
        assert f"report: {fallback / 'report.md'}" in text
    finally:
        shutil.rmtree(fallback, ignore_errors=True)
