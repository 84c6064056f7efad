"""`ingressbed repro`: run one scenario file (a bug report) outside pytest.

    ingressbed repro report.yaml                       # --backend auto: kind, else local
    ingressbed repro report.yaml --backend local --explain
    ingressbed repro report.yaml --backend cluster --context C --keep on-failure
    ingressbed repro report.yaml --junit report.xml    # for CI
    ingressbed repro report.yaml --dry-run --explain   # what ingress-nginx builds; runs nothing
    ingressbed repro - < report.yaml                   # the file on stdin

The file is validated first (nothing starts for a malformed file); then the backend is
created and started, the scenario's setup applied, its steps sent (live edits between
them) and its expectations judged. The verdict (notes, each expectation, what was seen,
the observation table) goes to stdout, after the controller model's explanation with
``--explain``; progress lines go to stderr. The backend is closed at the end, also on a
failure or Ctrl-C (``--keep`` decides what stays). A catalog candidate's file (a ``mix``
step, every expectation with its ``why``) also gets the catalog report a pytest run writes
(report.json, report.md and the PNGs) in a run folder under ``--artifacts``.

Exit status: 0 every expectation holds; 1 one does not; 2 a malformed file or a bad
option; 3 the bed itself failed (one line on stderr); 4 the scenario was skipped (a
capability the backend lacks, or a controller release outside every range the file
states; the reason on stderr); 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from ingressbed import artifacts, catalog
from ingressbed import report as catalog_report
from ingressbed.backends import create
from ingressbed.backends.base import Backend
from ingressbed.errors import BedError, ScenarioError
from ingressbed.options import BedOptions, add_cli_arguments, from_args
from ingressbed.progress import Steps
from ingressbed.report.candidates import full_report, played
from ingressbed.report.junit import outcome_report, verdict_report
from ingressbed.scenario.explain import dry_run
from ingressbed.scenario.load import load, loads
from ingressbed.scenario.play import play, skip_reason, version_skip
from ingressbed.scenario.spec import Scenario
from ingressbed.scenario.verdict import ScenarioVerdict

#: How a scenario read from stdin is named in messages.
STDIN = "<stdin>"
#: Exit statuses of `ingressbed repro`.
HOLDS, FAILED, MALFORMED, BED_FAILED, SKIPPED = 0, 1, 2, 3, 4


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "repro",
        help="run one scenario file (a bug report) and print the verdict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the scenario file (YAML); - reads it from stdin")
    add_cli_arguments(parser, "repro")
    parser.add_argument(
        "--diagnostics",
        type=Path,
        default=None,
        metavar="DIR",
        help="on failure, write the backend's diagnostics (config, logs) under DIR",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print what ingress-nginx builds from the objects (the controller model; on "
        "kind and cluster compared with the controller's own) before the verdict",
    )
    parser.add_argument(
        "--junit",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a JUnit XML report to FILE (one test case per expectation)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the file (with --explain: explain it on placeholder pods); run nothing",
    )
    parser.set_defaults(run=run)


def _error(args: argparse.Namespace, exc: BaseException) -> None:
    if args.verbose:
        traceback.print_exc()
    print(f"ingressbed: error: {exc}", file=sys.stderr)


def _write(path: Path | None, text: str) -> None:
    if path is not None:
        path.write_text(text)


def run(args: argparse.Namespace) -> int:
    try:  # options, then the file: nothing has started yet
        options = from_args(args, "repro")
        scenario = loads(sys.stdin.read(), STDIN) if str(args.file) == "-" else load(args.file)
        steps = Steps(quiet=options.quiet)
        bed = None if args.dry_run else create(options, steps)
    except BedError as exc:
        _error(args, exc)
        return MALFORMED
    if bed is None:
        if args.explain:
            print(dry_run(scenario).text, end="", flush=True)
        else:
            print(
                f"{scenario.path}: valid ({len(scenario.steps)} steps, "
                f"{len(scenario.expect)} expectations); nothing ran"
            )
        return HOLDS
    reason = skip_reason(scenario, bed)  # decided before anything starts
    if reason:
        return _skip(args, scenario, reason)
    status = BED_FAILED
    try:
        status = _play(args, scenario, bed, steps, options)
    except BedError as exc:
        _error(args, exc)
        _write(args.junit, outcome_report(scenario, error=str(exc)))
    finally:
        if status not in (HOLDS, SKIPPED):
            bed.mark_failed()
        closed = _close(args, bed)
    return status if closed else BED_FAILED


def _close(args: argparse.Namespace, bed: Backend) -> bool:
    try:
        bed.close()
    except BedError as exc:
        _error(args, exc)
        return False
    return True


def _skip(args: argparse.Namespace, scenario: Scenario, reason: str) -> int:
    print(f"ingressbed: skipped: {reason}", file=sys.stderr)
    _write(args.junit, outcome_report(scenario, skipped=reason))
    return SKIPPED


def _play(
    args: argparse.Namespace, scenario: Scenario, bed: Backend, steps: Steps, options: BedOptions
) -> int:
    started = time.monotonic()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    bed.start()
    reason = version_skip(scenario, bed)
    if reason:
        return _skip(args, scenario, reason)
    with steps.step(f"Playing {scenario.path}"):
        verdict = play(scenario, bed, progress=steps.note, steps=steps, explained=args.explain)
    if args.explain and verdict.explanation is not None:
        print(verdict.explanation.text, flush=True)
    print(verdict.render(), flush=True)
    _write(args.junit, verdict_report(verdict, time.monotonic() - started))
    _write_report(scenario, bed, verdict, options, steps, stamp)
    if not verdict.passed and args.diagnostics is not None:
        paths = bed.diagnostics(args.diagnostics)
        steps.note(f"diagnostics: {len(paths)} files written under {args.diagnostics}")
    return HOLDS if verdict.passed else FAILED


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
