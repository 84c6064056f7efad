"""The dry-run plan of ``ingressbed up --dry-run``: the backend's own bring-up, described.

``build_plan`` builds the kind or cluster backend (without starting it) and takes its
``bring_up()`` list, the same one ``start()`` runs, plus the step that applies the default
setup; nothing here lists steps of its own, so the plan cannot drift from what the bed
does. It touches no Docker daemon and no network: the upstream ingress-nginx manifest is
written only when it is available offline (user cache, or ``$INGRESSBED_UPSTREAM_MIRROR``),
verified; otherwise ``commands.sh`` stops at that step and says what is missing.

``write_plan`` writes ``plan.txt`` (the numbered steps), ``commands.sh`` (their shell
equivalents: detail lines starting with ``$ ``), ``kind-config.yaml`` and
``manifests/*.yaml``. ``commands.sh`` refers only to files the dry run wrote.
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingressbed import k8s_manifests as km
from ingressbed import k8s_objects as ko
from ingressbed.backends.bringup import BringUpStep, describe_all
from ingressbed.backends.cluster import MANIFEST_FILE, ClusterBackend
from ingressbed.backends.controller import install_objects
from ingressbed.backends.kind import KindBackend
from ingressbed.errors import ConfigError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.vocabulary import HTTP2_PORT, HTTP_PORT, WS_PORT, IngressSpec, Route, Setup

#: The setup ``ingressbed up`` serves: incident 1's three routes, no balancing annotation.
DEFAULT_HOST = "hellogo.test"
DEFAULT_SETUP = Setup(
    ingress=IngressSpec(
        name="hellogo",
        routes=(
            Route("/8080", HTTP_PORT, DEFAULT_HOST),
            Route("/9090", HTTP2_PORT, DEFAULT_HOST),
            Route("/ws", WS_PORT, DEFAULT_HOST),
        ),
    ),
    replicas=6,
)


@dataclass
class Plan:
    backend: str
    steps: list[BringUpStep]
    #: Relative file name -> parsed objects (one YAML document each).
    manifests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Other files (relative name -> text), e.g. the kind config.
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    controller_version: str = ""

    def objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object of the plan (the kind config excluded)."""
        return [o for docs in self.manifests.values() for o in docs]

    def describe(self) -> str:
        return describe_all(self.steps)


def ingress_files(setup: Setup) -> list[str]:
    """The dry run's file of each Ingress of a report, oldest first (one per file: they are
    applied a second apart, the controller's order is their creation time)."""
    return [f"manifests/30-ingress-{n}-{i.name}.yaml" for n, i in enumerate(setup.ingresses, 1)]


def manifests(bed: ClusterBackend, setup: Setup) -> dict[str, list[dict[str, Any]]]:
    """Every file the dry run writes (the objects the steps apply), by relative name."""
    image, policy = bed.hellogo_image_for_plan()
    ns = bed.namespace
    files: dict[str, list[dict[str, Any]]] = {}
    flavor = bed.manifest_flavor()
    if flavor and not bed.controller_manifest_problem(flavor):
        release = bed.lock.controller(bed.options.controller_version)
        objs, _ = install_objects(release, flavor, on_kind=flavor == "kind", fetch=False)
        files[MANIFEST_FILE] = objs
    files["manifests/20-namespace.yaml"] = [km.namespace(ns, bed.run_id)]
    files["manifests/21-hellogo-service.yaml"] = [km.hellogo_service(ns)]
    files["manifests/22-hellogo-deployment.yaml"] = [
        km.hellogo_deployment(ns, image, setup.replicas, policy)
    ]
    if not setup.ingresses:
        files["manifests/30-ingress.yaml"] = [km.ingress(setup.ingress, ns)]
    else:
        files["manifests/23-report-services.yaml"] = [
            obj
            for s in setup.services
            for obj in (
                ko.service(s, ns),
                ko.deployment(s.name, ns, image, setup.replicas_of(s.name), policy),
            )
        ]
        for file, ingress in zip(ingress_files(setup), setup.ingresses, strict=True):
            files[file] = [ko.ingress(ingress, ns)]
    files["manifests/90-webhook-probe.yaml"] = [km.webhook_probe(ns)]
    return files


def apply_step(bed: ClusterBackend, setup: Setup) -> BringUpStep:
    """What ``ingressbed up`` does after ``start()``: apply ``setup`` and check it is served."""
    if setup.ingresses:
        return _objects_step(bed, setup)
    checks = [
        bed.kubectl_line(
            "-n",
            bed.ctl_namespace(),
            "exec",
            f"deploy/{km.CONTROLLER_DEPLOYMENT}",
            "--",
            "/dbg",
            "backends",
            "get",
            km.upstream_name(bed.namespace, port),
        )
        for port in setup.ingress.ports
    ]
    detail = [
        bed.kubectl_line(
            "apply",
            "--server-side",
            "--field-manager=ingressbed",
            "-f",
            "manifests/30-ingress.yaml",
        ),
        *checks,
        "polled until every routed port's backend shows the setup and the ready pods; then "
        "traffic must show each route's port and, for hash setups, the placement model's "
        "picks (ingressbed/backends/converge.py)",
    ]
    return BringUpStep(
        f"Applying Ingress {setup.ingress.name}", lambda: bed.apply(setup), "\n".join(detail)
    )


def _objects_step(bed: ClusterBackend, setup: Setup) -> BringUpStep:
    """A report's own objects: its Services and Deployments, then each Ingress, oldest
    first, a second apart (``ingressbed/backends/cluster_objects.py``)."""
    apply = ("apply", "--server-side", "--field-manager=ingressbed", "-f")
    detail = [bed.kubectl_line(*apply, "manifests/23-report-services.yaml")]
    for n, file in enumerate(ingress_files(setup)):
        if n:
            detail.append("$ sleep 1")
        detail.append(bed.kubectl_line(*apply, file))
    detail += [
        bed.kubectl_line(
            "-n",
            bed.ctl_namespace(),
            "exec",
            f"deploy/{km.CONTROLLER_DEPLOYMENT}",
            "--",
            "/dbg",
            "backends",
            "all",
        ),
        "polled until every backend of the namespace equals the controller model of the same "
        "objects on the ready pods (ingressbed.controller.compare)",
    ]
    names = ", ".join(i.name for i in setup.ingresses)
    return BringUpStep(f"Applying Ingresses {names}", lambda: bed.apply(setup), "\n".join(detail))


def build_plan(options: BedOptions, setup: Setup = DEFAULT_SETUP) -> Plan:
    """The backend's bring-up steps and every file they apply (kind or cluster)."""
    if options.backend not in ("kind", "cluster"):
        raise ConfigError(f"--dry-run plans the kind and cluster backends, not {options.backend!r}")
    quiet = Steps(quiet=True)
    bed: ClusterBackend = (
        KindBackend(options, quiet) if options.backend == "kind" else ClusterBackend(options, quiet)
    )
    bed.run_id = "dryrun"
    bed.namespace = f"{options.namespace_prefix}-dryrun"
    steps = [*bed.bring_up(), apply_step(bed, setup)]
    plan = Plan(
        options.backend,
        steps,
        manifests(bed, setup),
        controller_version=bed.lock.controller(options.controller_version).version,
    )
    if isinstance(bed, KindBackend):
        plan.files.update(bed.plan_files())
        at_close = f"at close, only if this run created it (--keep {options.keep})"
        plan.notes.append(f'the kind cluster "{bed.cluster}" is deleted {at_close}')
    else:
        plan.notes.append(f"namespace {bed.namespace} is deleted at close (--keep {options.keep})")
    flavor = bed.manifest_flavor()
    problem = bed.controller_manifest_problem(flavor) if flavor else ""
    if problem:
        plan.notes.append(f"manifests/10-ingress-nginx.yaml not written: {problem}")
    return plan


def render_commands(plan: Plan) -> str:
    """``commands.sh``: each step's shell lines in order, everything else as comments."""
    lines = [
        "#!/bin/sh",
        f"# ingressbed dry-run plan: backend {plan.backend}, ingress-nginx "
        f"{plan.controller_version}.",
        "# NOTHING HERE WAS RUN. The bed performs these steps itself; each step lists its",
        "# shell equivalent, in order. Run from the folder this file is in.",
        "set -eu",
        'cd "$(dirname "$0")"',
    ]
    lines += [f"# note: {note}" for note in plan.notes]
    for i, step in enumerate(plan.steps, 1):
        lines += ["", f"# {i}. {step.title}"]
        for raw in step.detail.splitlines():
            line = raw.strip()
            if line.startswith("$ "):
                lines.append(line[2:])
            elif line.startswith("! "):
                message = f"MISSING: {line[2:]}"
                lines += [f"# {message}", f"echo {shlex.quote(message)} >&2", "exit 1"]
            elif line:
                lines.append(f"#    {line}")
    return "\n".join(lines) + "\n"


def write_plan(plan: Plan, out: Path) -> list[Path]:
    """Write ``plan.txt``, ``commands.sh`` and every file of ``plan`` under ``out``.

    Raises:
        ConfigError: ``out`` cannot take the files (one line); what was written of them
            is removed again.
    """
    made: list[Path] = []  # what this call created, files and folders, in order
    try:
        return _write_plan(plan, out, made)
    except OSError as exc:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() else path.unlink()
        raise ConfigError(
            f"--output {out}: cannot write the plan there ({exc.strerror or exc}); "
            "choose another folder"
        ) from exc


def _mkdir(folder: Path, made: list[Path]) -> None:
    for path in reversed([folder, *folder.parents]):
        if not path.exists():
            path.mkdir()
            made.append(path)


def _write_plan(plan: Plan, out: Path, made: list[Path]) -> list[Path]:
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        _mkdir(path.parent, made)
        if not path.exists():
            made.append(path)
        path.write_text(text)
        written.append(path)

    _mkdir(out, made)
    for name, text in plan.files.items():
        write(out / name, text)
    for name, docs in plan.manifests.items():
        write(out / name, yaml.safe_dump_all(docs, sort_keys=False))
    write(out / "plan.txt", plan.describe() + "\n")
    write(out / "commands.sh", render_commands(plan))
    (out / "commands.sh").chmod(0o755)
    return written
