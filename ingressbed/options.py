"""Options every backend is built from: the same from pytest flags, the CLI and env."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ingressbed.errors import ConfigError

BACKENDS = ("auto", "local", "kind", "cluster")
KEEP = ("never", "on-failure", "always")


@dataclass
class BedOptions:
    """How to bring the bed up.

    backend     auto | local | kind | cluster
    keep        never | on-failure | always: what to leave running at the end
    artifacts   where diagnostics and reports go
    cluster_name  kind cluster name (reused when its config matches)
    context     kubeconfig context for the cluster backend (required there)
    kubeconfig  kubeconfig path for the cluster backend (None: the default)
    controller_version  ingress-nginx release (None: the pinned one in manifests/lock.yaml)
    node_image  kind node image override (None: the pinned one)
    install_controller  cluster backend: install ingress-nginx if none answers
    namespace_prefix  every namespace the bed creates starts with this
    dry_run     write plans instead of acting (kind/cluster `up`)
    quiet       no progress lines
    keep_runs   how many run folders the artifacts folder keeps (older ones are removed)
    """

    backend: str = "auto"
    keep: str = "never"
    artifacts: Path = field(default_factory=lambda: Path("reports"))
    cluster_name: str = "ingressbed"
    context: str | None = None
    kubeconfig: str | None = None
    controller_version: str | None = None
    node_image: str | None = None
    install_controller: bool = False
    namespace_prefix: str = "ingressbed"
    dry_run: bool = False
    quiet: bool = False
    keep_runs: int = 10

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.keep not in KEEP:
            raise ConfigError(f"--keep {self.keep!r} is not one of {', '.join(KEEP)}")
        self.artifacts = Path(self.artifacts)

    @classmethod
    def from_env(cls, **overrides: object) -> BedOptions:
        """Defaults from INGRESSBED_* environment variables, then ``overrides`` (None ignored)."""
        env = {
            "backend": os.environ.get("INGRESSBED_BACKEND"),
            "keep": os.environ.get("INGRESSBED_KEEP"),
            "controller_version": os.environ.get("INGRESSBED_CONTROLLER_VERSION"),
            "node_image": os.environ.get("INGRESSBED_NODE_IMAGE"),
            "context": os.environ.get("INGRESSBED_CONTEXT"),
            "cluster_name": os.environ.get("INGRESSBED_CLUSTER_NAME"),
        }
        values: dict[str, object] = {k: v for k, v in env.items() if v}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
