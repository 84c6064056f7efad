"""`ingressbed up`: bring a kind or cluster bed up and leave it running, or plan it.

    ingressbed up --backend kind [--cluster-name N] [--controller-version V] [--node-image I]
    ingressbed up --backend cluster --context C [--kubeconfig F] [--install-controller]
    ingressbed up --backend kind --dry-run --output DIR    # write the plan, run nothing
    ingressbed up --dry-run --scenario report.yaml         # the plan of a report's objects

On success the bed stays up (tear it down with `ingressbed down`); on a failure or Ctrl-C
what was started is removed unless `--keep on-failure|always` says otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingressbed.backends.bringup import run_all
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.backends.kind import KindBackend
from ingressbed.errors import ConfigError
from ingressbed.options import BedOptions, add_cli_arguments, from_args
from ingressbed.plan import DEFAULT_SETUP, apply_step, build_plan, write_plan
from ingressbed.progress import Steps
from ingressbed.scenario.load import load


def kind_or_cluster(options: BedOptions, command: str) -> BedOptions:
    """``options`` for `up`/`down`: ``auto`` means kind; local is refused in one line."""
    if options.backend == "auto":
        options = options.but(backend="kind")
    if options.backend not in ("kind", "cluster"):
        raise ConfigError(
            f"`ingressbed {command}` takes --backend kind or cluster, not {options.backend!r}"
        )
    return options


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "up",
        help="bring a kind or cluster bed up (or --dry-run: plan it)",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_cli_arguments(parser, "up")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write the commands and manifests to --output; run nothing",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --dry-run: plan the objects of this scenario file (its setup before the "
        "first step: every Service with its Deployment, every Ingress)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("ingressbed-plan"),
        help="folder of the --dry-run plan (default: ./ingressbed-plan)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    opts = kind_or_cluster(from_args(args, "up", dry_run=bool(args.dry_run)), "up")
    if args.scenario is not None and not opts.dry_run:
        raise ConfigError("--scenario plans a report's objects: give --dry-run too")
    if opts.dry_run:
        setup = load(args.scenario).setup if args.scenario is not None else DEFAULT_SETUP
        plan = build_plan(opts, setup)
        paths = write_plan(plan, args.output)  # ConfigError when --output cannot take it
        for note in plan.notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"wrote {len(paths)} files to {args.output} (nothing was run):")
        for path in paths:
            print(f"  {path}")
        if not opts.quiet:
            print(plan.describe())
        return 0
    steps = Steps(quiet=opts.quiet)
    bed = KindBackend(opts, steps) if opts.backend == "kind" else ClusterBackend(opts, steps)
    try:
        bed.start()
        run_all([apply_step(bed, DEFAULT_SETUP)], steps)
    except BaseException:
        bed.failed = True
        bed.close()
        raise
    address = bed.address()
    bed.options = bed.options.but(keep="always")  # up leaves the bed running
    bed.close()
    print(f"bed up: {bed.name}, namespace {bed.namespace}, ingress {address.base_url}")
    host = DEFAULT_SETUP.ingress.routes[0].host
    print(f"try: curl -H 'Host: {host}' {address.base_url}/8080")
    print(
        f"tear down: ingressbed down --backend {bed.name}"
        + (f" --context {opts.context}" if bed.name == "cluster" else "")
    )
    return 0
