"""`ingressbed down`: remove what `ingressbed up` left running.

    ingressbed down --backend kind [--cluster-name N]     deletes the kind cluster
    ingressbed down --backend cluster --context C         deletes the bed's namespaces there

On a cluster it removes only namespaces the bed labelled as its own and whose names start
with the namespace prefix; a controller installed with --install-controller by a run that
was kept is left for you to remove (`kubectl delete -f` of the plan's manifest).
"""

from __future__ import annotations

import argparse

from ingressbed import k8s_manifests as km
from ingressbed.backends.kube import Kube
from ingressbed.cli.up import kind_or_cluster
from ingressbed.docker_env import DockerCLI, one_line
from ingressbed.errors import ToolError
from ingressbed.options import add_cli_arguments, from_args
from ingressbed.progress import Steps
from ingressbed.tools import Lock, cache_dir, find_kind


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "down",
        help="remove a bed left running by `ingressbed up`",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_cli_arguments(parser, "down")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import subprocess

    opts = kind_or_cluster(from_args(args, "down"), "down")
    steps = Steps(quiet=opts.quiet)
    if opts.backend == "kind":
        kind = str(find_kind(Lock.load(), steps.note))
        env = DockerCLI.from_environment().env  # the daemon `ingressbed up` used
        kubeconfig = cache_dir() / "kind" / f"{opts.cluster_name}.kubeconfig"
        with steps.step(f'Deleting cluster "{opts.cluster_name}"'):
            done = subprocess.run(
                [
                    kind,
                    "delete",
                    "cluster",
                    "--name",
                    opts.cluster_name,
                    "--kubeconfig",
                    str(kubeconfig),
                ],
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
            if done.returncode != 0:
                raise ToolError(f"kind delete cluster failed: {one_line(done.stderr)}")
            kubeconfig.unlink(missing_ok=True)
        return 0
    if not opts.context:
        from ingressbed.errors import ConfigError

        raise ConfigError("ingressbed down --backend cluster needs --context NAME")
    kube = Kube.connect(opts.kubeconfig, opts.context)
    try:
        for name in kube.namespaces(f"{km.BED_LABEL}=true"):
            if name.startswith(f"{opts.namespace_prefix}-"):
                with steps.step(f"Deleting namespace {name}"):
                    kube.delete_namespace(name, wait=120)
    finally:
        kube.close()
    return 0
