"""`ingressbed repro`: run one scenario file (a bug report) outside pytest.

    ingressbed repro report.yaml                       # --backend auto: kind, else local
    ingressbed repro report.yaml --backend local
    ingressbed repro report.yaml --backend cluster --context C --keep on-failure
    ingressbed repro report.yaml --diagnostics out/    # on failure, write what explains it

The file is validated first (nothing starts for a malformed file); then the backend is
created and started, the scenario's setup applied, its steps sent and its expectations
judged. The verdict (each expectation, what was seen, the observation table) goes to
stdout; progress lines go to stderr. A catalog candidate's file (a ``mix`` step, every
expectation with its ``why``) also gets the catalog report a pytest run writes (report.json,
report.md and the PNGs) in a run folder under ``--artifacts``. The backend is closed at
the end, also on a failure or Ctrl-C (``--keep`` decides what stays). Exit status: 0 when every
expectation holds, 1 when one does not or when the bed fails (one line on stderr).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ingressbed import artifacts, catalog
from ingressbed import report as catalog_report
from ingressbed.backends import create
from ingressbed.backends.base import Backend
from ingressbed.errors import ConfigError, ScenarioError
from ingressbed.options import BedOptions, add_cli_arguments, from_args
from ingressbed.progress import Steps
from ingressbed.report.candidates import full_report, played
from ingressbed.scenario.load import load
from ingressbed.scenario.play import play, skip_reason
from ingressbed.scenario.spec import Scenario
from ingressbed.scenario.verdict import ScenarioVerdict


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "repro",
        help="run one scenario file (a bug report) and print the verdict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the scenario file (YAML)")
    add_cli_arguments(parser, "repro")
    parser.add_argument(
        "--diagnostics",
        type=Path,
        default=None,
        metavar="DIR",
        help="on failure, write the backend's diagnostics (config, logs) under DIR",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = from_args(args, "repro")  # options, then the file: nothing has started yet
    scenario = load(args.file)
    steps = Steps(quiet=options.quiet)
    bed = create(options, steps)
    reason = skip_reason(scenario, bed)  # decided before anything starts
    if reason:
        raise ConfigError(f"{scenario.path} cannot run here: {reason}")
    passed = False
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        bed.start()
        with steps.step(f"Playing {scenario.path}"):
            verdict = play(scenario, bed, progress=steps.note, steps=steps)
        print(verdict.render(), flush=True)
        passed = verdict.passed
        _write_report(scenario, bed, verdict, options, steps, started)
        if not passed and args.diagnostics is not None:
            paths = bed.diagnostics(args.diagnostics)
            steps.note(f"diagnostics: {len(paths)} files written under {args.diagnostics}")
    finally:
        if not passed:
            bed.mark_failed()
        bed.close()
    return 0 if passed else 1


def _write_report(
    scenario: Scenario,
    bed: Backend,
    verdict: ScenarioVerdict,
    options: BedOptions,
    steps: Steps,
    started: str,
) -> None:
    """A catalog candidate's file: write the catalog report of this one candidate."""
    try:
        candidate = catalog.check(scenario)
    except ScenarioError:
        return  # a bug report, not a catalog candidate: the verdict is the whole result
    plane = str(bed.data_plane)
    result = played(candidate, plane, verdict)
    one = catalog.Catalog(Path(scenario.path).parent, (candidate,))
    report = full_report(
        one,
        {candidate.id: result},
        backend=bed.name,
        data_plane=plane,
        versions=bed.versions(),
        started=started,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    folder = artifacts.current_run(options.artifacts, options.keep_runs)
    written = catalog_report.write(report, folder)
    steps.note(f"catalog report: {written[0].parent}")
