"""The ``cluster`` backend: the bed in an existing cluster, from a kubeconfig context.

It works only in namespaces it creates (``<namespace_prefix>-<run id>``), with the
cluster's own ingress-nginx (found through the IngressClass ``nginx``) or, with
``install_controller``, one it installs from the pinned upstream manifest and removes
again. The context must be named (``--context``): the current context is never used by
accident.

What it cannot do on a controller it did not install: change the controller ConfigMap.
So a setup with controller keys that differ from the live ConfigMap is refused with a
``ConfigError``, and ``use-forwarded-headers`` must already be "true" there (checked at
start): the bed simulates clients through X-Forwarded-For, and without it every request
would count as one client. ``KindBackend`` (kind.py) builds on this class and adds the
cluster's lifecycle and full control of the controller.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingressbed import ingress_keys, preflight
from ingressbed import k8s_manifests as km
from ingressbed import k8s_objects as ko
from ingressbed.backends import cluster_waits, converge
from ingressbed.backends.base import ControllerState
from ingressbed.backends.bringup import BringUpStep, run_all
from ingressbed.backends.cluster_objects import ReportObjects
from ingressbed.backends.controller import Controller
from ingressbed.backends.ingress_nginx import (
    backend_endpoints,
    backend_mismatches,
    full_capabilities,
    ingress_conflicts,
    load_balancer_address,
    order_slice_endpoints,
    stale_balancer_ports,
)
from ingressbed.backends.kube import FIELD_MANAGER, Kube, api_errors, poll, settle
from ingressbed.errors import BedError, ConfigError, SetupError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.tools import Lock, controller_manifest, find_tool
from ingressbed.vocabulary import (
    SERVICE_NAME,
    Address,
    Capability,
    DataPlane,
    Endpoint,
    IngressSpec,
    Pod,
    Setup,
)

#: The upstream controller manifest, as the dry run writes it.
MANIFEST_FILE = "manifests/10-ingress-nginx.yaml"
#: Agreeing traffic rounds in a row: each controller worker syncs on its own timer.
CONVERGE_ROUNDS = 2
HELLOGO_SELECTOR = ",".join(f"{k}={v}" for k, v in km.HELLOGO_LABELS.items())
ROLLOUT_TIMEOUT = 300.0
SERVE_TIMEOUT = 120.0


class ClusterBackend:
    """The bed on an existing cluster (see the module docstring)."""

    name = "cluster"
    data_plane: DataPlane = DataPlane.INGRESS_NGINX

    #: How the backend waits past a worker tick (tests put a recorder here).
    pause: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, options: BedOptions, steps: Steps | None = None) -> None:
        self.options = options
        self.steps = steps or Steps(quiet=options.quiet)
        self.lock = Lock.load()
        self.run_id = secrets.token_hex(4)
        self.namespace = f"{options.namespace_prefix}-{self.run_id}"
        self.capabilities: frozenset[Capability] = full_capabilities(
            self.lock.controller(options.controller_version).version
        )
        #: Set by the caller (e.g. the pytest plugin) when a test failed: keep=on-failure.
        self.failed = False
        self.kube: Kube | None = None
        self.context = self._context()
        self.kubeconfig = options.kubeconfig
        self.controller: Controller | None = None
        self.setup: Setup | None = None
        self._address: Address | None = None
        self._cleanups: list[tuple[str, Callable[[], None]]] = []
        self._kept_notes: list[str] = []
        self._started = False
        self._controller_missing = False
        #: The Ingress the controller's hash balancers were last made from.
        self._balancers: IngressSpec | None = None
        #: A bug report's own Services and Ingresses (``Setup.ingresses``).
        self.objects = ReportObjects(self)

    def _context(self) -> str:
        if not self.options.context:
            raise ConfigError(
                "the cluster backend needs a kubeconfig context: pass --context NAME (or set "
                "INGRESSBED_CONTEXT); it never uses the current context by itself"
            )
        return self.options.context

    # --- lifecycle -----------------------------------------------------------------------

    def mark_failed(self) -> None:
        """Something failed: ``keep=on-failure`` keeps what this run created."""
        self.failed = True

    def on_cleanup(self, title: str, action: Callable[[], None], kept: str = "") -> None:
        """Remember how to undo something this run created (run in reverse at close)."""
        self._cleanups.append((title, action))
        if kept:
            self._kept_notes.append(kept)

    def start(self) -> None:
        """Run ``bring_up()`` in order. On failure the diagnostics are written whatever
        ``keep`` says (``keep`` is about the cluster, not the evidence)."""
        if self._started:
            return
        try:
            run_all(self.bring_up(), self.steps)
        except Exception:  # Ctrl-C is no test failure: keep=on-failure does not keep for it
            self.failed = True
            self._save_bring_up_diagnostics()
            raise
        self._started = True

    def _save_bring_up_diagnostics(self) -> None:
        dest = Path(self.options.artifacts) / f"bring-up-{self.run_id}"
        missing = [p for p in (dest, *dest.parents) if not p.exists()]
        try:
            written = self.diagnostics(dest)
        except (BedError, OSError) as exc:
            self.steps.note(f"bring-up failed; could not write diagnostics to {dest}: {exc}")
            written = []
        if written:
            self.steps.note(f"bring-up failed; diagnostics in {dest}")
            return
        for folder in missing:  # nothing to keep: no empty folder stays behind
            try:
                folder.rmdir()
            except OSError:
                break

    # --- bring-up as data ----------------------------------------------------------------

    def kubectl_line(self, *args: str) -> str:
        """The shell equivalent of a Kubernetes call of this backend, for ``--dry-run``."""
        argv = ["kubectl", "--context", self.context]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        return "$ " + shlex.join([*argv, *args])

    def _apply_line(self, *files: str) -> str:
        flags = [x for f in files for x in ("-f", f)]
        return self.kubectl_line(
            "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", *flags
        )

    def bring_up(self) -> list[BringUpStep]:
        """Connect, find (or install) ingress-nginx, namespace, webhook, hellogo, address."""
        steps = [
            BringUpStep(
                f"Connecting to context {self.context}",
                self._connect,
                self.kubectl_line("version"),
            ),
            BringUpStep(
                "Finding ingress-nginx (IngressClass nginx)",
                self._find_controller,
                "\n".join(
                    [
                        self.kubectl_line("get", "ingressclass", km.INGRESS_CLASS, "-o", "yaml"),
                        'its ConfigMap must have use-forwarded-headers: "true" (the bed does '
                        "not change a controller it did not install)",
                    ]
                ),
            ),
        ]
        if self.options.install_controller:
            steps += self._install_steps("cloud", only_if_missing=True)
        steps += self._workload_steps()
        return steps

    def _install_steps(self, flavor: str, *, only_if_missing: bool) -> list[BringUpStep]:
        release = self.lock.controller(self.options.controller_version)
        when = " (only when none was found)" if only_if_missing else ""
        return [
            BringUpStep(
                f"Installing ingress-nginx {release.version}{when}",
                lambda: self._install_controller(flavor, on_kind=flavor == "kind"),
                "\n".join(self._install_detail(flavor)),
            ),
            BringUpStep(
                "Waiting for the ingress-nginx controller",
                self._wait_controller,
                self.kubectl_line(
                    "-n",
                    km.CONTROLLER_NAMESPACE,
                    "rollout",
                    "status",
                    f"deployment/{km.CONTROLLER_DEPLOYMENT}",
                    "--timeout=300s",
                ),
            ),
        ]

    def _install_detail(self, flavor: str) -> list[str]:
        release = self.lock.controller(self.options.controller_version)
        pinned = release.manifests[flavor]
        lines = [
            f"upstream {pinned.url} (sha256 {pinned.sha256}), images replaced by the lock's "
            "digests, bed keys merged into its ConfigMap"
        ]
        if self.controller_manifest_problem(flavor):
            lines.append(
                f"! {MANIFEST_FILE} was not written: {self.controller_manifest_problem(flavor)}"
            )
        lines.append(self._apply_line(MANIFEST_FILE))
        return lines

    def controller_manifest_problem(self, flavor: str) -> str:
        """Why the upstream manifest is not available offline ("" when it is)."""
        release = self.lock.controller(self.options.controller_version)
        try:
            controller_manifest(release, flavor, fetch=False)
        except BedError as exc:
            return str(exc)
        return ""

    def _workload_steps(self) -> list[BringUpStep]:
        image, _ = self.hellogo_image_for_plan()
        return [
            BringUpStep(
                f"Creating namespace {self.namespace}",
                self._create_namespace,
                self._apply_line("manifests/20-namespace.yaml"),
            ),
            BringUpStep(
                "Waiting for the admission webhook",
                self._wait_webhook,
                "\n".join(
                    [
                        "only when the bed installed the controller: a server-side dry-run "
                        "create, retried until the webhook accepts it",
                        "$ until "
                        + self.kubectl_line(
                            "create", "--dry-run=server", "-f", "manifests/90-webhook-probe.yaml"
                        )[2:]
                        + "; do sleep 1; done",
                    ]
                ),
            ),
            BringUpStep(
                "Deploying hellogo (6 replicas)",
                self._deploy_hellogo,
                "\n".join(
                    [
                        f"image {image}",
                        self._apply_line(
                            "manifests/21-hellogo-service.yaml",
                            "manifests/22-hellogo-deployment.yaml",
                        ),
                        self.kubectl_line(
                            "-n",
                            self.namespace,
                            "rollout",
                            "status",
                            "deployment/hellogo",
                            "--timeout=300s",
                        ),
                    ]
                ),
            ),
            BringUpStep(
                "Finding the ingress address",
                self._set_address,
                "the controller Service's load balancer, else a kubectl port-forward to it",
            ),
        ]

    def manifest_flavor(self) -> str | None:
        """Which upstream manifest this backend installs (None: it installs none)."""
        return "cloud" if self.options.install_controller else None

    def ctl_namespace(self) -> str:
        """The controller's namespace (the pinned manifests' until the controller is found)."""
        return self.controller.namespace if self.controller else km.CONTROLLER_NAMESPACE

    def hellogo_image_for_plan(self) -> tuple[str, str]:
        try:
            return self.hellogo_image()
        except ConfigError:
            return "$INGRESSBED_HELLOGO_IMAGE", "IfNotPresent"

    # --- the steps' actions ----------------------------------------------------------------

    def _connect(self) -> None:
        self.hellogo_image()  # a missing image reference fails before anything is created
        # Kube.connect: the kubeconfig parses and the context exists; then the server answers
        self.kube = Kube.connect(self.kubeconfig, self.context)
        self._check_api_server(self.kube)
        self.controller = Controller(self.kube, self.steps)

    @staticmethod
    def _check_api_server(kube: Kube) -> None:
        """The API server answers ``GET /version`` within 10 s, or one line says why not."""
        from kubernetes import client

        server = str(kube.api_client.configuration.host)
        preflight.check_api_server(
            server, lambda: client.VersionApi(kube.api_client).get_code(_request_timeout=10)
        )

    def _find_controller(self) -> None:
        found = self.ctl.find(self.context)
        self._controller_missing = not found
        if found:
            if self.ctl.version != "unknown":
                self.capabilities = full_capabilities(self.ctl.version)
            self.ctl.check_forwarded_headers()
            return
        if not self.options.install_controller:
            raise SetupError(
                f"context {self.context} has no IngressClass nginx; install ingress-nginx or "
                "pass --install-controller to let the bed install (and later remove) one"
            )

    def _wait_controller(self) -> None:
        if self.ctl.controls_config:
            self.ctl.wait_ready()

    def _wait_webhook(self) -> None:
        if self.ctl.controls_config:
            self.ctl.wait_webhook(self.namespace)

    def _set_address(self) -> None:
        self._address = self._find_address()

    @property
    def k(self) -> Kube:
        if self.kube is None:
            raise SetupError(f"the {self.name} backend is not started; call start() first")
        return self.kube

    @property
    def ctl(self) -> Controller:
        if self.controller is None:
            raise SetupError(f"the {self.name} backend is not started; call start() first")
        return self.controller

    def _install_controller(self, flavor: str, *, on_kind: bool) -> None:
        if not on_kind and not self._controller_missing:
            self.steps.note("  the cluster has ingress-nginx; nothing installed")
            return
        release = self.lock.controller(self.options.controller_version)
        register = None if on_kind else self._register_cleanup
        self.ctl.install(release, flavor, on_kind=on_kind, on_cleanup=register)
        self.capabilities = full_capabilities(release.version)

    def _register_cleanup(self, title: str, action: Callable[[], None], kept: str) -> None:
        self.on_cleanup(title, action, kept=kept)

    def _create_namespace(self) -> None:
        self.on_cleanup(
            f"Deleting namespace {self.namespace}",
            lambda: self.k.delete_namespace(self.namespace, wait=120),
            kept=f"namespace {self.namespace}",
        )
        self.k.apply(km.namespace(self.namespace, self.run_id))

    def _mark_kept(self) -> None:
        """Label this run's namespace as kept on purpose, so a later run leaves it alone."""
        try:
            self.k.apply(km.namespace(self.namespace, self.run_id, kept=self.options.keep))
        except BedError as exc:
            self.steps.note(f"could not mark namespace {self.namespace} as kept: {exc}")

    def hellogo_image(self) -> tuple[str, str]:
        """The hellogo image and its pull policy: from ``INGRESSBED_HELLOGO_IMAGE``."""
        image = os.environ.get("INGRESSBED_HELLOGO_IMAGE", "")
        if "@sha256:" not in image:
            raise ConfigError(
                "the cluster backend pulls hellogo from a registry: build hellogo/, push it, and "
                "set INGRESSBED_HELLOGO_IMAGE=registry/hellogo@sha256:... (pinned by digest)"
            )
        return image, "IfNotPresent"

    def _deploy_hellogo(self, replicas: int = 6) -> None:
        image, policy = self.hellogo_image()
        self.k.apply(km.hellogo_service(self.namespace))
        self.k.apply(km.hellogo_deployment(self.namespace, image, replicas, policy))
        self.k.wait_deployment(self.namespace, "hellogo", ROLLOUT_TIMEOUT)

    def _find_address(self) -> Address:
        """The controller Service's load balancer, else a kubectl port-forward to it."""
        with api_errors("reading the controller Service"):
            svc = self.k.core.read_namespaced_service(km.CONTROLLER_DEPLOYMENT, self.ctl.namespace)
        return load_balancer_address(self.k.to_dict(svc)) or self._port_forward()

    def _port_forward(self) -> Address:
        kubectl = find_tool("kubectl", self.lock)
        argv = [
            str(kubectl),
            "--context",
            self.context,
            "-n",
            self.ctl.namespace,
            "port-forward",
            "--address",
            "127.0.0.1",
            f"svc/{km.CONTROLLER_DEPLOYMENT}",
            ":80",
        ]
        if self.kubeconfig:
            argv[1:1] = ["--kubeconfig", self.kubeconfig]
        # Output goes to a file: kubectl prints a line per connection, and an unread pipe
        # would block it after a few thousand requests.
        log_dir = Path(tempfile.mkdtemp(prefix="ingressbed-port-forward-"))
        log = log_dir / "port-forward.log"
        with log.open("w") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True)
        self.on_cleanup("Stopping kubectl port-forward", functools.partial(_stop, proc, log_dir))

        def forwarding() -> int | None:
            found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", log.read_text())
            if found:
                return int(found.group(1))
            if proc.poll() is not None:
                raise SetupError(
                    f"kubectl port-forward to the controller failed: "
                    f"{log.read_text().strip()[-300:]}"
                )
            return None

        port = poll(forwarding, timeout=30, what="kubectl port-forward to listen")
        return Address("127.0.0.1", port)

    def close(self) -> None:
        """Remove what this run created, in reverse order, unless ``keep`` says otherwise."""
        keep = self.options.keep == "always" or (self.options.keep == "on-failure" and self.failed)
        if keep and self._kept_notes:
            self.steps.note(f"kept for inspection: {'; '.join(self._kept_notes)}")
        self._kept_notes = []
        errors: list[str] = []
        if keep and f"Deleting namespace {self.namespace}" in [t for t, _ in self._cleanups]:
            self._mark_kept()
        while self._cleanups:
            title, action = self._cleanups.pop()
            if keep and not title.startswith("Stopping"):
                continue
            try:
                with self.steps.step(title):
                    action()
            except BedError as exc:
                errors.append(str(exc))
        if self.kube is not None:
            self.kube.close()
            self.kube = None
            self.controller = None
        self._started = False
        if errors:
            raise SetupError("cleanup incomplete: " + "; ".join(errors))

    # --- what the bed serves ---------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        out = {
            "backend": self.name,
            "context": self.context,
            "ingress-nginx": self.controller.version if self.controller else "not started",
        }
        if self.kube is not None:
            out["kubernetes"] = self.kube.server_version()
        return out

    def controller_version(self) -> str | None:
        """The controller's release (found at start), else the one the bed installs."""
        found = self.controller.version if self.controller is not None else ""
        if found == "unknown":
            return None
        return found or self.lock.controller(self.options.controller_version).version

    def controller_state(self) -> ControllerState:
        """``/dbg backends all`` and ``nginx -T`` of the controller now."""
        return ControllerState(
            self.namespace, self.ctl.run(["/dbg", "backends", "all"]), self.ctl.run(["nginx", "-T"])
        )

    def apply(self, setup: Setup) -> None:
        """Serve ``setup``; fresh balancers when a port's hash configuration changes; then
        confirm with traffic (``converge``), or for several objects with the controller's
        own backends (``cluster_objects``)."""
        self._apply(setup, fresh_balancers=True)
        if not setup.ingresses:
            self._converge(setup)

    def apply_keeping_balancers(self, setup: Setup) -> None:
        """Apply ``setup`` as ``kubectl apply`` would: no balancer refresh, no traffic check.

        This is ingress-nginx's own behaviour, which keeps an old hash key in force (see
        docs/kind.md, "The stale hash key"); only the footgun test uses it.
        """
        self._apply(setup, fresh_balancers=False)

    def _apply(self, setup: Setup, *, fresh_balancers: bool) -> None:
        ingress_keys.check(setup)
        self.ctl.apply_keys(setup.controller, self.name)
        if setup.ingresses:
            if self.setup is not None and not self.setup.ingresses:
                self.k.delete(km.ingress(self.setup.ingress, self.namespace))
            self.objects.apply(setup, fresh_balancers=fresh_balancers)
            self.setup = setup
            self._past_worker_tick()  # the objects' backends match /dbg; workers apply next tick
            return
        if self.objects.applied is not None:
            with self.steps.step("Removing the report's Services and Ingresses"):
                self.objects.clear(lambda: self._restore_hellogo(setup))
            self.setup = None
            self._balancers = None
        normal = setup.replicas - setup.slow_pods
        if self.setup is None or normal != self._replicas():
            with self.steps.step(f"Scaling hellogo to {normal}"):
                self.k.scale(self.namespace, "hellogo", normal)
                self.k.wait_deployment(self.namespace, "hellogo", ROLLOUT_TIMEOUT)
        self._slow_pods(setup)
        obj = km.ingress(setup.ingress, self.namespace)
        clashes = ingress_conflicts(obj, self.k.ingresses())
        if clashes:
            raise ConfigError(
                f"another namespace's Ingress already serves {', '.join(clashes)}; ingress-nginx "
                "would route those to the older one: use another host in the setup"
            )
        old = self.setup
        # Compared with what the live balancers were made from, which differs from the
        # last setup after apply_keeping_balancers.
        stale = stale_balancer_ports(self._balancers, setup.ingress)
        if fresh_balancers or not stale:
            self._balancers = setup.ingress  # else they keep what they were made from
        if old is not None and stale and fresh_balancers:
            names = {km.upstream_name(self.namespace, port) for port in stale}
            with self.steps.step(f"Dropping the hash balancers of ports {stale} (new key)"):
                self.k.delete(km.ingress(old.ingress, self.namespace))
                self.ctl.wait_backends_gone(names)
        elif old is not None and old.ingress.name != setup.ingress.name:
            self.k.delete(km.ingress(old.ingress, self.namespace))
        with self.steps.step(f"Applying Ingress {setup.ingress.name}"):
            if old is not None and old.ingress.name != setup.ingress.name:
                cluster_waits.apply_after_delete(
                    lambda: self.k.apply(obj),
                    self.namespace,
                    [old.ingress.name],
                )
            else:
                self.k.apply(obj)
            self.setup = setup
            self._wait_served(setup)

    def _converge(self, setup: Setup) -> None:
        with self.steps.step("Checking with traffic that the setup is served"):
            converge.converge(
                self,
                setup,
                timeout=SERVE_TIMEOUT,
                rounds=CONVERGE_ROUNDS,
                controller_version=self.ctl.version or None,
                check_cookies=True,
            )

    def _restore_hellogo(self, setup: Setup) -> None:
        """The bed's own hellogo Service and Deployment, as bring-up made them."""
        image, policy = self.hellogo_image()
        normal = setup.replicas - setup.slow_pods
        self.k.apply(km.hellogo_service(self.namespace))
        self.k.apply(km.hellogo_deployment(self.namespace, image, normal, policy))

    def _replicas(self) -> int:
        return int(self.k.deployment(self.namespace, "hellogo").spec.replicas or 0)

    def _slow_pods(self, setup: Setup) -> None:
        """Run ``setup.slow_pods`` pods answering ``slow_ms`` late, or none (``hellogo-slow``)."""
        before = self.setup.slow_pods if self.setup else 0
        before_ms = self.setup.slow_ms if self.setup else 0
        if (setup.slow_pods, setup.slow_ms) == (before, before_ms):
            return
        image, policy = self.hellogo_image()
        slow = km.hellogo_deployment(
            self.namespace, image, setup.slow_pods, policy, delay_ms=max(setup.slow_ms, 1)
        )
        if not setup.slow_pods:
            with self.steps.step("Removing the slow hellogo pods"):
                self._delete_slow(slow)
            return
        title = f"Running {setup.slow_pods} slow hellogo pod(s) ({setup.slow_ms} ms late)"
        with self.steps.step(title):
            if before_ms and before_ms != setup.slow_ms:
                # A new delay is a new pod template: start afresh, once the old pods are
                # gone (they stay Ready until the garbage collector deletes them).
                self._delete_slow(slow)
            self.k.apply(slow)
            self.k.wait_deployment(self.namespace, km.SLOW_DEPLOYMENT, ROLLOUT_TIMEOUT)

    def _delete_slow(self, slow: dict[str, Any]) -> None:
        """Delete the slow Deployment and wait until none of its pods is left."""
        self.k.delete(slow)
        poll(
            lambda: True if not self._slow_pod_names() else None,
            timeout=ROLLOUT_TIMEOUT,
            what="the slow hellogo pods to go away",
            interval=0.25,
        )

    def _slow_pod_names(self) -> list[str]:
        selector = f"{HELLOGO_SELECTOR},{km.VARIANT_LABEL}=slow"
        return [p.metadata.name for p in self.k.pods(self.namespace, selector)]

    def dbg_backend(self, port: int | str, service: str = SERVICE_NAME) -> dict[str, Any] | None:
        """``/dbg backends get <ns>-<service>-<port>`` in the controller pod (None: none)."""
        return self.ctl.backend(f"{self.namespace}-{service}-{port}")

    def _wait_served(self, setup: Setup) -> None:
        """Until every routed port's backend matches ``setup`` and each route answers."""
        default_lb = self.ctl.live_config().get("load-balance", "round_robin")
        for port in setup.ingress.ports:

            def backend_problems(port: int = port) -> list[str]:
                ips = {p.ip for p in self.pods()}
                try:
                    backend = self.dbg_backend(port)
                except SetupError as exc:  # one failed exec: asked again until the deadline
                    return [str(exc)]
                return backend_mismatches(backend, setup.ingress, port, ips, default_lb)

            settle(
                backend_problems,
                timeout=SERVE_TIMEOUT,
                interval=0.5,
                what=f"the controller to serve port {port} as the setup says",
            )
        self._past_worker_tick()

    def pods(self) -> list[Pod]:
        return [
            Pod(
                p.metadata.name,
                p.status.pod_ip,
                p.spec.node_name or "",
                int((p.metadata.labels or {}).get(km.DELAY_LABEL, "0")),
                (p.metadata.labels or {}).get(ko.SERVICE_LABEL, SERVICE_NAME),
            )
            for p in self.k.ready_pods(self.namespace, HELLOGO_SELECTOR)
        ]

    def endpoints(self, port: int, service: str = SERVICE_NAME) -> list[Endpoint]:
        """The balancer's peers of ``service``'s ``port`` (by number, else by the port's
        name, as an Ingress may name it); EndpointSlices without exec rights."""
        name, target = km.PORT_NAMES.get(port, ""), port
        for found in self.setup.services if self.setup else ():
            listed = found.port(port) if found.name == service else None
            if listed is not None:
                name = listed.name
                target = listed.target if isinstance(listed.target, int) else port
        try:
            backend = self.dbg_backend(port, service)
            if backend is None and name:
                backend = self.dbg_backend(name, service)
        except SetupError:
            backend = None  # no exec rights on the controller: fall back to EndpointSlices
        if backend is not None:
            return backend_endpoints(backend)
        slices = self.k.endpoint_slices(self.namespace, service)
        return order_slice_endpoints(slices, name, target)

    def _wait_balancer(self, what: str) -> None:
        """Until the balancer's peers of every routed port are exactly the ready pods."""
        if self.setup is None:
            return
        if self.setup.ingresses:
            self.objects.wait_served(self.setup)
            self._past_worker_tick()
            return
        if (self.setup.ingress.annotation("service-upstream") or "").lower() == "true":
            return  # the peer is the ClusterIP; kube-proxy follows the pods itself
        for port in self.setup.ingress.ports:

            def peer_problems(port: int = port) -> list[str]:
                ips = {p.ip for p in self.pods()}
                got = {e.address for e in self.endpoints(port)}
                return [] if got == ips else [f"peers {sorted(got)} vs pods {sorted(ips)}"]

            settle(
                peer_problems,
                timeout=SERVE_TIMEOUT,
                what=f"the balancer to use {what} (port {port})",
            )
        self._past_worker_tick()

    def _past_worker_tick(self) -> None:
        """``/dbg`` matches now: the workers apply it at their next tick, so wait past one."""
        cluster_waits.past_worker_tick(time.monotonic(), pause=self.pause)

    def scale(self, replicas: int, service: str = SERVICE_NAME) -> None:
        """Scale to ``replicas`` pods in all; only normal pods are added or removed. With
        several objects: ``service``'s pods."""
        if self.setup is not None and self.setup.ingresses:
            with self.steps.step(f"Scaling {service} to {replicas}"):
                self.k.scale(self.namespace, ko.deployment_name(service), replicas)
                self.k.wait_deployment(self.namespace, ko.deployment_name(service), ROLLOUT_TIMEOUT)
                counts = {**self.setup.service_replicas, service: replicas}
                self.setup = dataclasses.replace(self.setup, service_replicas=counts)
                self._wait_balancer(f"{replicas} pods of {service}")
            return
        slow = self.setup.slow_pods if self.setup else 0
        if replicas < slow:
            raise ConfigError(f"cannot scale to {replicas}: {slow} slow pod(s) stay")
        with self.steps.step(f"Scaling hellogo to {replicas}"):
            self.k.scale(self.namespace, "hellogo", replicas - slow)
            self.k.wait_deployment(self.namespace, "hellogo", ROLLOUT_TIMEOUT)
            self._wait_balancer(f"{replicas} pods")
        if self.setup is not None:
            self.setup = dataclasses.replace(self.setup, replicas=replicas)
            self._converge(self.setup)

    def kill(self, pod: str) -> None:
        """Delete ``pod`` and wait for its replacement: the victim gone, a new name Ready,
        the Ready pods of its Deployment as many as its replicas; then the balancer."""
        victim = next((p for p in self.pods() if p.name == pod), None)
        service = victim.service if victim else SERVICE_NAME
        slow = bool(victim and victim.slow_ms)
        deployment = km.SLOW_DEPLOYMENT if slow else ko.deployment_name(service)

        def names() -> list[str]:
            return [p.name for p in self.pods() if p.service == service and bool(p.slow_ms) == slow]

        before = names()
        with self.steps.step(f"Killing pod {pod}"):
            self.k.delete_pod(self.namespace, pod, grace=0)
            replicas = int(self.k.deployment(self.namespace, deployment).spec.replicas or 0)
            settle(
                lambda: cluster_waits.replacement_problems(before, pod, names(), replicas),
                timeout=ROLLOUT_TIMEOUT,
                what=f"a new pod of {deployment} in place of {pod}",
            )
            self._wait_balancer(f"the replacement of {pod}")
        if self.setup is not None and not self.setup.ingresses:
            self._converge(self.setup)

    def address(self) -> Address:
        if self._address is None:
            raise SetupError(f"the {self.name} backend has no address yet; call start() first")
        return self._address

    def diagnostics(self, dest: Path) -> list[Path]:
        """Controller logs, ``nginx -T``, ``/dbg backends all``, events and pods, one file each."""
        dest.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []

        def write(name: str, produce: Callable[[], str]) -> None:
            path = dest / name
            try:
                text = produce()
            except (BedError, OSError) as exc:
                text = f"could not collect {name}: {exc}\n"
            path.write_text(text)
            written.append(path)

        if self.kube is None or self.controller is None:
            return written
        ctl = self.controller
        write("controller.log", ctl.logs)
        write("nginx-T.txt", functools.partial(ctl.run, ["nginx", "-T"]))
        write("dbg-backends.json", functools.partial(ctl.run, ["/dbg", "backends", "all"]))
        for space in (self.namespace, ctl.namespace):
            write(f"events-{space}.txt", functools.partial(self._events_text, space))
        write("pods-wide.txt", self._pods_wide)
        return written

    def _events_text(self, ns: str) -> str:
        return "\n".join(self.k.events(ns)) + "\n"

    def _pods_wide(self) -> str:
        rows = ["NAMESPACE\tNAME\tPHASE\tREADY\tIP\tNODE"]
        for space, sel in ((self.namespace, HELLOGO_SELECTOR), (self.ctl.namespace, "")):
            for p in self.k.pods(space, sel):
                ready = {c.type: c.status for c in p.status.conditions or []}.get("Ready", "")
                rows.append(
                    f"{space}\t{p.metadata.name}\t{p.status.phase}\t{ready}\t"
                    f"{p.status.pod_ip}\t{p.spec.node_name}"
                )
        return "\n".join(rows) + "\n"


def _stop(proc: subprocess.Popen[str], folder: Path) -> None:
    """End a helper process this backend started, and remove its folder."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(folder, ignore_errors=True)
