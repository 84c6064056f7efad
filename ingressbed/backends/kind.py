"""The ``kind`` backend: a kind cluster with ingress-nginx and hellogo, made or reused.

Bring-up, one status line per step (as kind prints them):

1. Checking Docker            docker SDK ping; ``ToolError`` naming the fix
2. Ensuring kind              from PATH, else the pinned, sha256-verified download
3. Creating/Reusing cluster   the kind config (ingressbed.k8s_manifests.kind_config) carries its
                              hash as a node label; a cluster of the same name is reused only
                              when the hashes match, otherwise the run stops and says how to
                              delete it. Only a cluster this run created is deleted at close.
4. Building hellogo image     docker SDK, context hellogo/, tag = hash of the sources
5. Loading hellogo image      ``kind load docker-image``
6. Installing ingress-nginx   pinned manifest, sha256-verified, images by digest, bed keys
7. Waiting for the controller and for the admission webhook (server-side dry-run probe)
8. Creating namespace, deploying hellogo, finding the host port mapped to node port 80

The kubeconfig is written to the user cache, never to ``~/.kube/config``. ``keep``
decides what ``close`` leaves: ``always``, ``on-failure`` (when ``failed`` is set), or
``never``; a temporary folder holding the kind config is always removed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ingressbed import k8s_manifests as km
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.backends.controller import Controller
from ingressbed.backends.kube import Kube, api_errors
from ingressbed.errors import SetupError, ToolError
from ingressbed.options import BedOptions
from ingressbed.paths import HELLOGO_DIR
from ingressbed.progress import Steps
from ingressbed.tools import cache_dir, docker_client, find_tool
from ingressbed.vocabulary import Address

_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


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


class KindBackend(ClusterBackend):
    """The bed on a kind cluster it creates (or reuses when the config matches)."""

    name = "kind"

    def __init__(self, options: BedOptions, steps: Steps | None = None) -> None:
        super().__init__(options, steps)
        self.cluster = options.cluster_name
        self.node_image = options.node_image or self.lock.node_image
        self.config = km.kind_config(self.cluster, self.node_image)
        self.kind_kubeconfig = str(cache_dir() / "kind" / f"{self.cluster}.kubeconfig")
        self.kubeconfig = self.kind_kubeconfig
        self.created_cluster = False
        self.kind = ""
        self.docker: Any = None
        self._tmp: Path | None = None

    def _context(self) -> str:
        return f"kind-{self.options.cluster_name}"

    def _start(self) -> None:
        with self.steps.step("Checking Docker"):
            self.docker = docker_client()
        with self.steps.step("Ensuring kind"):
            self.kind = str(find_tool("kind", self.lock))
        self._ensure_cluster()
        self.kube = Kube.connect(self.kubeconfig, self.context)
        self.controller = Controller(self.kube, self.steps)
        self._load_hellogo()
        self._install_controller("kind", on_kind=True)
        self._create_namespace()
        self._deploy_hellogo()
        with self.steps.step("Finding the ingress address"):
            self._address = self._find_address()

    # --- the cluster ---------------------------------------------------------------------

    def run_kind(self, *args: str, timeout: float = 600) -> str:
        """Run ``kind ARGS``; ``ToolError`` with kind's own message on failure."""
        try:
            done = subprocess.run(
                [self.kind, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(f"kind {' '.join(args)}: {exc}") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ToolError(f"kind {' '.join(args)} failed: {' | '.join(tail)}")
        return done.stdout

    def _ensure_cluster(self) -> None:
        existing = self.run_kind("get", "clusters").split()
        want = self.config["nodes"][0]["labels"][km.CONFIG_HASH_LABEL]
        if self.cluster in existing:
            with self.steps.step(f'Reusing cluster "{self.cluster}"'):
                self._write_kubeconfig()
                got = self._cluster_hash()
                if got != want:
                    raise SetupError(
                        f"kind cluster {self.cluster!r} exists but was made from another config "
                        f"(hash {got or 'none'}, this run needs {want}); delete it with `kind "
                        f"delete cluster --name {self.cluster}` or pass another --cluster-name"
                    )
                self._remove_stale_namespaces()
            return
        with self.steps.step(f'Creating cluster "{self.cluster}"'):
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
                self.run_kind(
                    "create",
                    "cluster",
                    "--name",
                    self.cluster,
                    "--config",
                    str(config_path),
                    "--kubeconfig",
                    self.kind_kubeconfig,
                    "--wait",
                    "120s",
                )
            finally:
                self._remove_tmp()

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
        """Bed namespaces kept by earlier runs: their Ingresses would shadow this run's."""
        kube = Kube.connect(self.kubeconfig, self.context)
        try:
            for name in kube.namespaces(f"{km.BED_LABEL}=true"):
                self.steps.note(f"  removing namespace {name} kept by an earlier run")
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

    def _load_hellogo(self) -> None:
        from docker.errors import BuildError, DockerException, ImageNotFound

        tag = hellogo_tag()
        with self.steps.step(f"Building hellogo image {tag}"):
            if not (HELLOGO_DIR / "Dockerfile").is_file():
                raise SetupError(
                    f"{HELLOGO_DIR / 'Dockerfile'} is missing; hellogo cannot be built"
                )
            try:
                self.docker.images.get(tag)
            except ImageNotFound:
                try:
                    self.docker.images.build(path=str(HELLOGO_DIR), tag=tag, rm=True)
                except BuildError as exc:
                    log = "".join(
                        str(c.get("stream") or c.get("error") or "") for c in exc.build_log
                    )
                    tail = " | ".join(line.strip() for line in log.splitlines() if line.strip())
                    raise SetupError(f"docker build of hellogo failed: {tail[-400:]}") from exc
            except DockerException as exc:
                raise ToolError(f"docker: {exc}") from exc
        with self.steps.step("Loading hellogo image into the cluster"):
            self.run_kind("load", "docker-image", tag, "--name", self.cluster)

    # --- address, diagnostics, close ---------------------------------------------------------

    def _find_address(self) -> Address:
        """127.0.0.1 and the host port kind mapped to the node's port 80."""
        from docker.errors import DockerException

        node = f"{self.cluster}-control-plane"
        try:
            container = self.docker.containers.get(node)
            bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get("80/tcp") or []
        except (DockerException, KeyError) as exc:
            raise SetupError(f"cannot read the port mappings of node {node}: {exc}") from exc
        for b in bindings:
            if b.get("HostPort"):
                return Address(b.get("HostIp") or "127.0.0.1", int(b["HostPort"]))
        raise SetupError(f"node {node} maps no host port to port 80; recreate the cluster")

    def versions(self) -> dict[str, str]:
        out = super().versions()
        out.update({"node-image": self.node_image, "kind-cluster": self.cluster})
        if self.kind:
            out["kind"] = self.run_kind("version").strip()
        return out

    def diagnostics(self, dest: Path) -> list[Path]:
        written = super().diagnostics(dest)
        if self.kind:
            logs = dest / "kind-logs"
            try:
                self.run_kind("export", "logs", str(logs), "--name", self.cluster)
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
