"""The ``kind`` backend: a kind cluster with ingress-nginx and hellogo, made or reused.

Its start is ``bring_up()``, an ordered list of steps (as kind's ``create`` runs its
actions); ``--dry-run`` prints the same list. Each step prints one status line with its
own elapsed time:

1. Checking Docker            endpoint as the docker CLI resolves it (DOCKER_HOST, contexts);
                              ``docker info``; host checks (cgroup v2, rootless, free disk)
2. Ensuring kind              PATH's kind if at least the pinned version, else the pinned,
                              sha256-verified download (and it says so)
3. Pulling node image         its own step and timeout: the first pull takes minutes
4. Ensuring cluster           reuse a running cluster whose config hash matches, restart a
                              stopped one, or create it
5. Connecting to the cluster
6. Building hellogo image     ``docker build`` (BuildKit with buildx, else legacy), same daemon
7. Loading hellogo image      ``kind load docker-image``
8. Installing ingress-nginx, waiting for it, namespace, admission webhook, hellogo, address

The kubeconfig is written to the user cache, never to ``~/.kube/config``. Every ``docker``
and ``kind`` call gets the same ``DOCKER_HOST`` (ingressbed.docker_env).
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from ingressbed import host_checks
from ingressbed import k8s_manifests as km
from ingressbed.backends import kind_build
from ingressbed.backends.bringup import BringUpStep
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.backends.controller import Controller
from ingressbed.backends.kube import Kube, api_errors, poll
from ingressbed.docker_env import (
    DockerCLI,
    DockerEndpoint,
    local_free_bytes,
    one_line,
    remote_problem,
    resolve,
)
from ingressbed.errors import BedError, ConfigError, SetupError, ToolError
from ingressbed.options import BedOptions
from ingressbed.paths import HELLOGO_DIR
from ingressbed.progress import Steps
from ingressbed.tools import cache_dir, find_kind
from ingressbed.vocabulary import Address

_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}

#: Per-step timeouts (seconds): each step is timed on its own.
PULL_TIMEOUT = 1200.0
CREATE_TIMEOUT = 420.0
BUILD_TIMEOUT = 900.0
LOAD_TIMEOUT = 300.0
RESTART_TIMEOUT = 180.0
#: Label kind puts on its node containers.
CLUSTER_LABEL = "io.x-k8s.kind.cluster"

ABSENT, RUNNING, STOPPED = "absent", "running", "stopped"


def source_hash(folder: Path) -> str:
    """A short hash of every file under ``folder`` (names and bytes; caches skipped)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if _SKIP_PARTS & set(rel.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def hellogo_tag(folder: Path = HELLOGO_DIR) -> str:
    return f"ingressbed/hellogo:{source_hash(folder)}"


def cluster_state(clusters: str, name: str, nodes: str) -> str:
    """ABSENT, RUNNING or STOPPED, from ``kind get clusters`` and the node containers.

    ``nodes`` is ``docker ps -a --filter label=io.x-k8s.kind.cluster=NAME --format
    '{{.Names}}\\t{{.State}}'``. A cluster kind lists whose nodes are not all running (a
    reboot, ``docker stop``) is STOPPED.
    """
    if name not in clusters.split():
        return ABSENT
    states = [line.split("\t")[-1].strip() for line in nodes.splitlines() if line.strip()]
    if not states:
        return ABSENT
    return RUNNING if all(state == "running" for state in states) else STOPPED


def paused_nodes(nodes: str) -> list[str]:
    """Names of the node containers ``docker ps`` shows as paused (``docker start`` refuses
    them; they need ``docker unpause``)."""
    rows = [line.split("\t") for line in nodes.splitlines() if line.strip()]
    return [row[0].strip() for row in rows if row[-1].strip() == "paused"]


def node_names(nodes: str) -> list[str]:
    return [line.split("\t")[0].strip() for line in nodes.splitlines() if line.strip()]


class KindBackend(ClusterBackend):
    """The bed on a kind cluster it creates (or reuses when the config matches)."""

    name = "kind"

    def __init__(self, options: BedOptions, steps: Steps | None = None) -> None:
        super().__init__(options, steps)
        self.cluster = options.cluster_name
        release = self.lock.controller(options.controller_version)
        self.node_image = options.node_image or self.lock.node_image_for(release.version)
        self.config = km.kind_config(self.cluster, self.node_image)
        self.kind_kubeconfig = str(cache_dir() / "kind" / f"{self.cluster}.kubeconfig")
        self.kubeconfig = self.kind_kubeconfig
        self.created_cluster = False
        self.kind = ""
        self.docker: DockerCLI | None = None
        self._tmp: Path | None = None
        self._kind_logs: Path | None = None

    def _context(self) -> str:
        return f"kind-{self.options.cluster_name}"

    # --- bring-up as data ----------------------------------------------------------------

    def bring_up(self) -> list[BringUpStep]:
        release = self.lock.controller(self.options.controller_version)
        kind = self.lock.tool("kind")
        kind_dest = cache_dir() / "bin" / kind.name
        tag = hellogo_tag()
        support = self.lock.node_image_note(release.version, self.node_image)
        steps = [
            BringUpStep(
                "Checking Docker",
                self._check_docker,
                "\n".join(
                    [
                        f"endpoint: {self._endpoint_text()} (DOCKER_HOST, else DOCKER_CONTEXT, "
                        "else the Docker CLI's current context)",
                        "$ docker info --format '{{json .}}'",
                        "host checks: cgroup v2 for node images from 1.35, rootless mode, "
                        f"{host_checks.MIN_FREE_BYTES // host_checks.GIB} GiB free for images",
                    ]
                ),
            ),
            BringUpStep(
                "Ensuring kind",
                self._ensure_kind,
                "\n".join(
                    [
                        f"kind on PATH if `kind version` is at least {kind.name[5:]}, else "
                        "the pinned download (sha256 from the lock)",
                        f"$ command -v kind || {{ curl -fsSLo {shlex.quote(str(kind_dest))} "
                        f"{shlex.quote(kind.url)} && echo "
                        f"{shlex.quote(kind.sha256 + '  ' + str(kind_dest))} | sha256sum -c - ; }}",
                    ]
                ),
            ),
            BringUpStep(
                f"Pulling node image {self.node_image.split('@')[0]}",
                self._pull_node_image,
                "\n".join(
                    ([support] if support else [])
                    + [
                        f"$ docker image inspect {self.node_image} >/dev/null 2>&1 || "
                        f"docker pull {self.node_image}",
                        f"timeout {PULL_TIMEOUT:.0f}s, separate from creating the cluster",
                    ]
                ),
            ),
            BringUpStep(
                f'Ensuring cluster "{self.cluster}"',
                self._ensure_cluster,
                "\n".join(
                    [
                        "running with the same config hash: reused; stopped: its node "
                        "containers are started again; absent: created",
                        f"$ kind get clusters | grep -qx {shlex.quote(self.cluster)} || "
                        + shlex.join(self._create_argv("kind-config.yaml")),
                    ]
                ),
            ),
            BringUpStep(
                "Connecting to the cluster",
                self._connect_kind,
                f"context {self.context} of {self.kind_kubeconfig}",
            ),
            BringUpStep(
                f"Building hellogo image {tag}",
                self._build_hellogo,
                kind_build.plan_text(tag, str(HELLOGO_DIR))
                + "\nskipped when the image exists (the tag is a hash of the sources)",
            ),
            BringUpStep(
                "Loading hellogo image into the cluster",
                self._load_hellogo,
                f"$ kind load docker-image {tag} --name {shlex.quote(self.cluster)}\n"
                "if that fails (Docker's containerd image store): docker save --platform "
                "linux/<native arch> --output <tmp>/hellogo.tar (without --platform on a "
                "daemon before API 1.48), then kind load image-archive",
            ),
            *self._install_steps("kind", only_if_missing=False),
            *self._workload_steps(),
        ]
        steps[-1] = BringUpStep(
            "Finding the ingress address",
            self._set_address,
            f"$ docker port {self.cluster}-control-plane 80/tcp\n"
            "requests go to http://127.0.0.1:<that port> with the route's Host header",
        )
        return steps

    def manifest_flavor(self) -> str | None:
        return "kind"

    def plan_files(self) -> dict[str, str]:
        """Files besides manifests that the dry run writes: the kind config."""
        return {"kind-config.yaml": yaml.safe_dump(self.config, sort_keys=False)}

    def _endpoint_text(self) -> str:
        try:
            return resolve_endpoint().describe()
        except BedError as exc:
            return f"not resolvable ({exc})"

    def _create_argv(self, config_path: str) -> list[str]:
        return [
            "kind",
            "create",
            "cluster",
            "--name",
            self.cluster,
            "--config",
            config_path,
            "--kubeconfig",
            self.kind_kubeconfig,
            "--wait",
            "120s",
            # A failed create keeps its nodes, so their logs can be exported (diagnostics);
            # the cleanup registered before the create deletes them.
            "--retain",
        ]

    # --- the steps' actions --------------------------------------------------------------

    def _check_docker(self) -> None:
        endpoint = resolve_endpoint()
        remote = remote_problem(endpoint)
        if remote:
            raise ConfigError(remote)
        self.docker = DockerCLI(endpoint)
        info = self.docker.info()
        free = local_free_bytes(self.docker.endpoint, str(info.get("DockerRootDir") or ""))
        findings = host_checks.check(info, self.node_image, free)
        for warning in host_checks.warnings(findings):
            self.steps.note(f"  warning: {warning}")
        errors = host_checks.errors(findings)
        if errors:
            raise ToolError("; ".join(errors))

    def _ensure_kind(self) -> None:
        self.kind = str(find_kind(self.lock, self.steps.note))

    def _pull_node_image(self) -> None:
        docker = self._docker()
        try:
            docker.run(["image", "inspect", self.node_image], timeout=30)
            return
        except ToolError:
            pass
        docker.run(
            ["pull", self.node_image], timeout=PULL_TIMEOUT, what=f"docker pull {self.node_image}"
        )

    def _ensure_cluster(self) -> None:
        clusters = self.run_kind("get", "clusters", timeout=60)
        nodes = self._docker().run(
            [
                "ps",
                "-a",
                "--filter",
                f"label={CLUSTER_LABEL}={self.cluster}",
                "--format",
                "{{.Names}}\t{{.State}}",
            ],
            timeout=30,
        )
        state = cluster_state(clusters, self.cluster, nodes)
        if state == STOPPED:
            self.steps.note(
                f"  kind cluster {self.cluster!r} is stopped (its node containers exited, e.g. "
                "after a reboot); starting them again"
            )
            self._restart(node_names(nodes), paused_nodes(nodes))
        if state in (RUNNING, STOPPED):
            self._reuse()
            return
        self._create()

    def _restart(self, names: list[str], paused: list[str] | None = None) -> None:
        """Unpause the paused nodes, start the stopped ones, then wait until the API server
        answers and every node's kubelet is Ready (before anything is cleaned up in it)."""
        recreate = f"recreate the cluster: kind delete cluster --name {self.cluster}"
        paused = paused or []
        try:
            if paused:
                self._docker().run(["unpause", *paused], timeout=60)
            stopped = [n for n in names if n not in paused]
            if stopped:
                self._docker().run(["start", *stopped], timeout=60)
        except ToolError as exc:  # e.g. a host port taken since the cluster was made
            raise SetupError(
                f"restarting kind cluster {self.cluster!r}: {exc}; {recreate}"
            ) from None
        self._write_kubeconfig()
        seen = ["the API server does not answer"]

        def ready() -> bool | None:
            try:
                kube = Kube.connect(self.kubeconfig, self.context)
            except BedError as exc:
                seen[0] = str(exc)
                return None
            try:
                kube.server_version()
                unready = kube.unready_nodes()
            except BedError as exc:
                seen[0] = str(exc)
                return None
            finally:
                kube.close()
            seen[0] = f"nodes not Ready: {', '.join(unready)}"
            return None if unready else True

        try:
            poll(
                ready,
                timeout=RESTART_TIMEOUT,
                what="the restarted cluster's API server and nodes",
                detail=lambda: seen[0],
            )
        except SetupError as exc:
            raise SetupError(f"{exc}; {recreate}") from None

    def _reuse(self) -> None:
        want = self.config["nodes"][0]["labels"][km.CONFIG_HASH_LABEL]
        self.steps.note(f'  reusing kind cluster "{self.cluster}"')
        self._write_kubeconfig()
        got = self._cluster_hash()
        if got != want:
            raise SetupError(
                f"kind cluster {self.cluster!r} exists but was made from another config "
                f"(hash {got or 'none'}, this run needs {want}); delete it with `kind "
                f"delete cluster --name {self.cluster}` or pass another --cluster-name"
            )
        self._remove_stale_namespaces()

    def _create(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="ingressbed-kind-"))
        config_path = self._tmp / "kind-config.yaml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        Path(self.kind_kubeconfig).parent.mkdir(parents=True, exist_ok=True)
        # Registered before creating: an interrupted create is cleaned up as well.
        self.created_cluster = True
        self.on_cleanup(
            f'Deleting cluster "{self.cluster}"',
            self._delete_cluster,
            kept=f"kind cluster {self.cluster} (kind delete cluster --name {self.cluster})",
        )
        try:
            self.run_kind(*self._create_argv(str(config_path))[1:], timeout=CREATE_TIMEOUT)
        finally:
            self._remove_tmp()

    def _connect_kind(self) -> None:
        self.kube = Kube.connect(self.kubeconfig, self.context)
        self.controller = Controller(self.kube, self.steps)

    # --- the cluster ---------------------------------------------------------------------

    def run_kind(self, *args: str, timeout: float = 600) -> str:
        """Run ``kind ARGS`` with the resolved DOCKER_HOST; ``ToolError`` with kind's message."""
        env = self.docker.env if self.docker is not None else None
        try:
            done = subprocess.run(
                [self.kind or "kind", *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"kind {' '.join(args[:2])} took longer than {timeout:.0f}s") from exc
        except OSError as exc:
            raise ToolError(f"kind {' '.join(args)}: {exc}") from exc
        if done.returncode != 0:
            raise ToolError(
                f"kind {' '.join(args[:2])} failed: {one_line(done.stderr or done.stdout)}"
            )
        return done.stdout

    def _docker(self) -> DockerCLI:
        if self.docker is None:
            self.docker = DockerCLI(resolve_endpoint())
        return self.docker

    def _write_kubeconfig(self) -> None:
        text = self.run_kind("get", "kubeconfig", "--name", self.cluster)
        path = Path(self.kind_kubeconfig)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)

    def _cluster_hash(self) -> str:
        kube = Kube.connect(self.kubeconfig, self.context)
        try:
            with api_errors(f"reading the nodes of kind cluster {self.cluster}"):
                nodes = kube.core.list_node(label_selector=f"{km.INGRESS_READY_LABEL}=true").items
            for node in nodes:
                labels = kube.to_dict(node).get("metadata", {}).get("labels") or {}
                if labels.get(km.CONFIG_HASH_LABEL):
                    return str(labels[km.CONFIG_HASH_LABEL])
            return ""
        finally:
            kube.close()

    def _remove_stale_namespaces(self) -> None:
        """Bed namespaces an earlier run left by accident (a crash): their Ingresses would
        shadow this run's. Those kept on purpose (``--keep``, ``ingressbed up``) stay, and
        a line says so."""
        bed = f"{km.BED_LABEL}=true"
        kube = Kube.connect(self.kubeconfig, self.context)
        try:
            for name in kube.namespaces(f"{bed},{km.KEPT_LABEL}"):
                self.steps.note(
                    f"  keeping namespace {name}, kept by an earlier run (--keep or ingressbed "
                    f"up); delete it when done: kubectl delete namespace {name}"
                )
            for name in kube.namespaces(f"{bed},!{km.KEPT_LABEL}"):
                self.steps.note(f"  removing namespace {name} left by an earlier run")
                kube.delete_namespace(name, wait=120)
        finally:
            kube.close()

    def _delete_cluster(self) -> None:
        self.run_kind(
            "delete", "cluster", "--name", self.cluster, "--kubeconfig", self.kind_kubeconfig
        )
        Path(self.kind_kubeconfig).unlink(missing_ok=True)

    # --- hellogo ---------------------------------------------------------------------------

    def hellogo_image(self) -> tuple[str, str]:
        return hellogo_tag(), "Never"

    def _build_hellogo(self) -> None:
        tag = hellogo_tag()
        if not (HELLOGO_DIR / "Dockerfile").is_file():
            raise SetupError(f"{HELLOGO_DIR / 'Dockerfile'} is missing; hellogo cannot be built")
        docker = self._docker()
        try:
            docker.run(["image", "inspect", tag], timeout=30)
            return
        except ToolError:
            pass
        try:
            docker.run(["buildx", "version"], timeout=30)
            buildkit = True
        except ToolError:
            buildkit = False
            self.steps.note(f"  {kind_build.NO_BUILDX}")
        env, argv = kind_build.build_command(tag, str(HELLOGO_DIR), buildkit)
        docker.env.update(env)
        docker.run(argv, timeout=BUILD_TIMEOUT, what="docker build of hellogo")

    def _load_hellogo(self) -> None:
        """``kind load docker-image``; when that fails (Docker's containerd image store,
        kind#3795 and kind#4236), ``docker save`` of the native platform loaded with
        ``kind load image-archive``."""
        tag = hellogo_tag()
        try:
            self.run_kind("load", "docker-image", tag, "--name", self.cluster, timeout=LOAD_TIMEOUT)
            return
        except ToolError as exc:
            first = str(exc)
        docker = self._docker()
        arch = str(docker.info().get("Architecture") or "x86_64")
        platform = kind_build.native_platform(arch)
        self.steps.note(
            f"  kind load docker-image failed ({first}); loading a {platform} archive instead"
        )
        folder = Path(tempfile.mkdtemp(prefix="ingressbed-load-"))
        try:
            archive = str(folder / "hellogo.tar")
            try:
                docker.run(
                    kind_build.save_command(tag, archive, platform),
                    timeout=LOAD_TIMEOUT,
                    what="docker save of hellogo",
                )
            except ToolError as exc:
                if not kind_build.SAVE_HAS_NO_PLATFORM.search(str(exc)):
                    raise
                self.steps.note(
                    "  this Docker cannot save one platform (daemon API before 1.48); "
                    "saving the image as it is (its classic store holds one platform)"
                )
                docker.run(
                    kind_build.save_command(tag, archive, None),
                    timeout=LOAD_TIMEOUT,
                    what="docker save of hellogo",
                )
            self.run_kind(
                "load", "image-archive", archive, "--name", self.cluster, timeout=LOAD_TIMEOUT
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # --- address, diagnostics, close ---------------------------------------------------------

    def _find_address(self) -> Address:
        """127.0.0.1 and the host port kind mapped to the node's port 80."""
        node = f"{self.cluster}-control-plane"
        out = self._docker().run(["port", node, "80/tcp"], timeout=30)
        address = parse_docker_port(out)
        if address is None:
            raise SetupError(f"node {node} maps no host port to port 80; recreate the cluster")
        return address

    def versions(self) -> dict[str, str]:
        out = super().versions()
        out.update({"node-image": self.node_image, "kind-cluster": self.cluster})
        if self.kind:
            out["kind"] = self.run_kind("version").strip()
        return out

    def diagnostics(self, dest: Path) -> list[Path]:
        """The cluster backend's files, plus ``kind export logs`` once per bed (session)."""
        written = super().diagnostics(dest)
        if not self.kind:
            return written
        dest.mkdir(parents=True, exist_ok=True)
        if self._kind_logs is not None:
            note = dest / "kind-logs.txt"
            note.write_text(f"kind logs of this session were exported to {self._kind_logs}\n")
            return [*written, note]
        logs = dest / "kind-logs"
        try:
            self.run_kind("export", "logs", str(logs), "--name", self.cluster)
            self._kind_logs = logs
            written.append(logs)
        except ToolError as exc:
            (dest / "kind-logs.txt").write_text(f"could not export kind logs: {exc}\n")
            written.append(dest / "kind-logs.txt")
        return written

    def close(self) -> None:
        if self.created_cluster and not self._keeping():
            # The cluster goes as a whole: its namespace need not be deleted first.
            self._cleanups = [
                c for c in self._cleanups if not c[0].startswith("Deleting namespace")
            ]
        try:
            super().close()
        finally:
            self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _keeping(self) -> bool:
        return self.options.keep == "always" or (self.options.keep == "on-failure" and self.failed)


def resolve_endpoint() -> DockerEndpoint:
    """The Docker endpoint of this process's environment (as the docker CLI resolves it)."""
    import os

    return resolve(os.environ, Path.home())


def parse_docker_port(text: str) -> Address | None:
    """The first IPv4 mapping ``docker port NODE 80/tcp`` printed (``127.0.0.1:38117``)."""
    for line in text.splitlines():
        host, sep, port = line.strip().rpartition(":")
        if sep and port.isdigit() and "[" not in host:
            return Address(host if host not in ("", "0.0.0.0") else "127.0.0.1", int(port))
    return None
