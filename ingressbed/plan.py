"""The dry-run plan of ``ingressbed up --dry-run``: every command and manifest, nothing run.

``build_plan`` renders the same objects the kind and cluster backends apply (through
``ingressbed.k8s_manifests``) and lists their bring-up steps, titled as the backends title
them, with the shell command equivalent to each (the backends themselves use the docker
SDK and the kubernetes client). It touches no Docker daemon and no network: the upstream
ingress-nginx manifest is rendered only when it is already in the user cache, verified.
``write_plan`` writes ``commands.sh``, ``kind-config.yaml`` and ``manifests/*.yaml``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingressbed import k8s_manifests as km
from ingressbed.backends.kind import hellogo_tag
from ingressbed.errors import BedError, ConfigError
from ingressbed.options import BedOptions
from ingressbed.tools import Lock, cache_dir, controller_manifest, platform_key
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
class PlanStep:
    title: str
    commands: list[str]
    note: str = ""


@dataclass
class Plan:
    backend: str
    steps: list[PlanStep] = field(default_factory=list)
    #: Relative file name -> parsed objects (one YAML document each).
    manifests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object of the plan (the kind config excluded)."""
        return [
            o for name, docs in self.manifests.items() if name != "kind-config.yaml" for o in docs
        ]


def _sh(*argv: str) -> str:
    return shlex.join(argv)


def build_plan(options: BedOptions, setup: Setup = DEFAULT_SETUP, run_id: str = "dryrun") -> Plan:
    """The ordered steps and manifests of bringing up ``options.backend`` (kind or cluster)."""
    if options.backend not in ("kind", "cluster"):
        raise ConfigError(f"--dry-run plans the kind and cluster backends, not {options.backend!r}")
    lock = Lock.load()
    release = lock.controller(options.controller_version)
    ns = f"{options.namespace_prefix}-{run_id}"
    plan = Plan(options.backend)
    on_kind = options.backend == "kind"
    if on_kind:
        context = f"kind-{options.cluster_name}"
        kubeconfig = str(cache_dir() / "kind" / f"{options.cluster_name}.kubeconfig")
        image, policy = hellogo_tag(), "Never"
    else:
        if not options.context:
            raise ConfigError("the cluster backend needs --context NAME, also for --dry-run")
        context, kubeconfig = options.context, options.kubeconfig or ""
        image, policy = "$INGRESSBED_HELLOGO_IMAGE", "IfNotPresent"
    kubectl = ["kubectl", "--context", context] + (
        ["--kubeconfig", kubeconfig] if kubeconfig else []
    )

    def k(*args: str) -> str:
        return _sh(*kubectl, *args)

    if on_kind:
        _kind_steps(plan, options, lock, kubeconfig, image)
    else:
        plan.steps.append(PlanStep(f"Connecting to context {context}", [k("version")]))
        plan.steps.append(
            PlanStep(
                "Finding ingress-nginx (IngressClass nginx)",
                [k("get", "ingressclass", km.INGRESS_CLASS, "-o", "yaml")],
                "installed from the pinned cloud manifest only with "
                "--install-controller; otherwise use-forwarded-headers must "
                'already be "true" in its ConfigMap',
            )
        )

    flavor = "kind" if on_kind else "cloud"
    pinned = release.manifests[flavor]
    config = km.controller_config(setup.controller)
    try:
        path = controller_manifest(release, flavor, fetch=False)
        upstream = [d for d in yaml.safe_load_all(path.read_text()) if d]
        config = km.controller_config(setup.controller, km.configmap_data(upstream))
        plan.manifests["manifests/10-ingress-nginx.yaml"] = km.rewrite_controller_manifest(
            upstream, release.images, config, on_kind=on_kind
        )
    except BedError as exc:
        plan.notes.append(f"10-ingress-nginx.yaml not rendered: {exc}")
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": km.CONTROLLER_CONFIGMAP, "namespace": km.CONTROLLER_NAMESPACE},
        "data": config,
    }
    plan.manifests["manifests/11-controller-configmap.yaml"] = [cm]
    install = [
        f"curl -fsSLo ingress-nginx.yaml {shlex.quote(pinned.url)}",
        f"echo {shlex.quote(pinned.sha256 + '  ingress-nginx.yaml')} | sha256sum -c -",
        "# images rewritten to the lock's digests, bed ConfigMap keys merged: the result is",
        k(
            "apply",
            "--server-side",
            "--field-manager=ingressbed",
            "-f",
            "manifests/10-ingress-nginx.yaml",
        ),
    ]
    rollout = k(
        "-n",
        km.CONTROLLER_NAMESPACE,
        "rollout",
        "status",
        f"deployment/{km.CONTROLLER_DEPLOYMENT}",
        "--timeout=300s",
    )
    if on_kind or options.install_controller:
        plan.steps.append(PlanStep(f"Installing ingress-nginx {release.version}", install))
        plan.steps.append(PlanStep("Waiting for the ingress-nginx controller", [rollout]))

    plan.manifests["manifests/20-namespace.yaml"] = [km.namespace(ns, run_id)]
    plan.steps.append(
        PlanStep(
            f"Creating namespace {ns}",
            [
                k(
                    "apply",
                    "--server-side",
                    "--field-manager=ingressbed",
                    "-f",
                    "manifests/20-namespace.yaml",
                )
            ],
        )
    )
    if on_kind or options.install_controller:
        plan.manifests["manifests/90-webhook-probe.yaml"] = [km.webhook_probe(ns)]
        plan.steps.append(
            PlanStep(
                "Waiting for the admission webhook",
                [
                    "until "
                    + k("create", "--dry-run=server", "-f", "manifests/90-webhook-probe.yaml")
                    + "; do sleep 1; done"
                ],
            )
        )
    plan.manifests["manifests/21-hellogo-service.yaml"] = [km.hellogo_service(ns)]
    plan.manifests["manifests/22-hellogo-deployment.yaml"] = [
        km.hellogo_deployment(ns, image, setup.replicas, policy)
    ]
    plan.steps.append(
        PlanStep(
            f"Deploying hellogo ({setup.replicas} replicas)",
            [
                k(
                    "apply",
                    "--server-side",
                    "--field-manager=ingressbed",
                    "-f",
                    "manifests/21-hellogo-service.yaml",
                    "-f",
                    "manifests/22-hellogo-deployment.yaml",
                ),
                k("-n", ns, "rollout", "status", "deployment/hellogo", "--timeout=300s"),
            ],
        )
    )
    plan.manifests["manifests/30-ingress.yaml"] = [km.ingress(setup.ingress, ns)]
    checks = [
        k(
            "-n",
            km.CONTROLLER_NAMESPACE,
            "exec",
            f"deploy/{km.CONTROLLER_DEPLOYMENT}",
            "--",
            "/dbg",
            "backends",
            "get",
            km.upstream_name(ns, p),
        )
        for p in setup.ingress.ports
    ]
    plan.steps.append(
        PlanStep(
            f"Applying Ingress {setup.ingress.name}",
            [
                k(
                    "apply",
                    "--server-side",
                    "--field-manager=ingressbed",
                    "-f",
                    "manifests/30-ingress.yaml",
                ),
                *checks,
            ],
            "the bed polls these until every routed port's backend shows the setup's annotations "
            "and the pods, then requests each HTTP route through the ingress",
        )
    )
    if on_kind:
        plan.steps.append(
            PlanStep(
                "Finding the ingress address",
                [_sh("docker", "port", f"{options.cluster_name}-control-plane", "80/tcp")],
                "requests go to http://127.0.0.1:<that port> with the route's Host header",
            )
        )
        plan.steps.append(
            PlanStep(
                f'Deleting cluster "{options.cluster_name}"',
                [
                    _sh(
                        "kind",
                        "delete",
                        "cluster",
                        "--name",
                        options.cluster_name,
                        "--kubeconfig",
                        kubeconfig,
                    )
                ],
                f"at close, only if this run created it; --keep {options.keep}",
            )
        )
    else:
        plan.steps.append(
            PlanStep(
                f"Deleting namespace {ns}",
                [k("delete", "namespace", ns)],
                f"at close; --keep {options.keep}",
            )
        )
    return plan


def _kind_steps(plan: Plan, options: BedOptions, lock: Lock, kubeconfig: str, image: str) -> None:
    node_image = options.node_image or lock.node_image
    config = km.kind_config(options.cluster_name, node_image)
    plan.manifests["kind-config.yaml"] = [config]
    kind = lock.tool("kind")
    dest = cache_dir() / "bin" / kind.name
    name = options.cluster_name
    plan.steps += [
        PlanStep("Checking Docker", [_sh("docker", "info", "--format", "{{.ServerVersion}}")]),
        PlanStep(
            "Ensuring kind",
            [
                f"command -v kind || {{ curl -fsSLo {shlex.quote(str(dest))} "
                f"{shlex.quote(kind.url)} && echo {shlex.quote(kind.sha256 + '  ' + str(dest))}"
                " | sha256sum -c - ; }"
            ],
            f"{platform_key()}: sha256 from {lock.path.name} ({kind.source})",
        ),
        PlanStep(
            f'Creating cluster "{name}"',
            [
                _sh(
                    "kind",
                    "create",
                    "cluster",
                    "--name",
                    name,
                    "--config",
                    "kind-config.yaml",
                    "--kubeconfig",
                    kubeconfig,
                    "--wait",
                    "120s",
                )
            ],
            f"reused instead when `kind get clusters` lists {name} and its node label "
            f"{km.CONFIG_HASH_LABEL}={config['nodes'][0]['labels'][km.CONFIG_HASH_LABEL]} matches",
        ),
        PlanStep(
            f"Building hellogo image {image}",
            [_sh("docker", "build", "-t", image, "hellogo/")],
            "tag = hash of the files under hellogo/",
        ),
        PlanStep(
            "Loading hellogo image into the cluster",
            [_sh("kind", "load", "docker-image", image, "--name", name)],
        ),
    ]


def render_commands(plan: Plan, options: BedOptions) -> str:
    lines = [
        "#!/bin/sh",
        f"# ingressbed dry-run plan: backend {plan.backend}, ingress-nginx "
        f"{Lock.load().controller(options.controller_version).version}.",
        "# NOTHING HERE WAS RUN. The bed performs these steps itself (docker SDK, kubernetes",
        "# client); each step lists the shell equivalent, in order.",
        "set -eu",
    ]
    for note in plan.notes:
        lines.append(f"# note: {note}")
    for i, step in enumerate(plan.steps, 1):
        lines += ["", f"# {i}. {step.title}"]
        if step.note:
            lines.append(f"#    {step.note}")
        lines += step.commands
    return "\n".join(lines) + "\n"


def write_plan(plan: Plan, options: BedOptions, out: Path) -> list[Path]:
    """Write ``commands.sh`` and every manifest under ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, docs in plan.manifests.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        written.append(path)
    script = out / "commands.sh"
    script.write_text(render_commands(plan, options))
    script.chmod(0o755)
    written.append(script)
    return written
