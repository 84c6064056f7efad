"""`ingressbed up`: bring a kind or cluster bed up and leave it running, or plan it.

    ingressbed up --backend kind [--cluster-name N] [--controller-version V] [--node-image I]
    ingressbed up --backend cluster --context C [--kubeconfig F] [--install-controller]
    ingressbed up --backend kind --dry-run --output DIR    # write the plan, run nothing

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
from ingressbed.options import KEEP, BedOptions
from ingressbed.plan import DEFAULT_SETUP, apply_step, build_plan, write_plan
from ingressbed.progress import Steps


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `up` and `down`."""
    parser.add_argument(
        "--backend",
        choices=("kind", "cluster"),
        default=None,
        help="where the bed runs (default: $INGRESSBED_BACKEND or kind)",
    )
    parser.add_argument("--cluster-name", help="kind cluster name (default: ingressbed)")
    parser.add_argument("--context", help="kubeconfig context (cluster backend; required there)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (cluster backend)")
    parser.add_argument("--namespace-prefix", help="prefix of the namespaces the bed creates")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def options_from(args: argparse.Namespace, **extra: object) -> BedOptions:
    opts = BedOptions.from_env(
        backend=args.backend,
        cluster_name=args.cluster_name,
        context=args.context,
        kubeconfig=args.kubeconfig,
        namespace_prefix=args.namespace_prefix,
        quiet=args.quiet or None,
        **extra,
    )
    if opts.backend == "auto":
        opts.backend = "kind"
    if opts.backend not in ("kind", "cluster"):
        raise ConfigError(
            f"`ingressbed {args.command}` takes --backend kind or cluster, not {opts.backend!r}"
        )
    return opts


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "up",
        help="bring a kind or cluster bed up (or --dry-run: plan it)",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_backend_options(parser)
    parser.add_argument("--controller-version", help="ingress-nginx release pinned in the lock")
    parser.add_argument("--node-image", help="kind node image, pinned by @sha256: digest")
    parser.add_argument(
        "--install-controller",
        action="store_true",
        help="cluster backend: install ingress-nginx when the cluster has none",
    )
    parser.add_argument(
        "--keep",
        choices=KEEP,
        default=None,
        help="what to leave when bring-up fails (default: never)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write the commands and manifests to --output; run nothing",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("ingressbed-plan"),
        help="folder of the --dry-run plan (default: ./ingressbed-plan)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    opts = options_from(
        args,
        controller_version=args.controller_version,
        node_image=args.node_image,
        keep=args.keep,
        install_controller=args.install_controller or None,
        dry_run=args.dry_run or None,
    )
    if opts.dry_run:
        plan = build_plan(opts)
        paths = write_plan(plan, args.output)
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
    bed.options.keep = "always"  # up leaves the bed running; close only stops helpers
    bed.close()
    print(f"bed up: {bed.name}, namespace {bed.namespace}, ingress {address.base_url}")
    host = DEFAULT_SETUP.ingress.routes[0].host
    print(f"try: curl -H 'Host: {host}' {address.base_url}/8080")
    print(
        f"tear down: ingressbed down --backend {bed.name}"
        + (f" --context {opts.context}" if bed.name == "cluster" else "")
    )
    return 0
