"""Host checks before a kind cluster is made, over ``docker info`` (pure, no I/O).

kind's node images run systemd and the kubelet inside a container, so what the host's
Docker can do decides whether a cluster starts at all. ``check`` reads the JSON of
``docker info --format '{{json .}}'`` and returns findings, each one line saying what is
wrong and what to do:

- **cgroup v2**: node images from Kubernetes 1.35 on no longer run on cgroup v1; with an
  older node image cgroup v1 still works, with a warning.
- **rootless Docker**: needs cgroup v2 (an error on v1); on v2 it works with kind, but the
  ingress's hostPort mapping needs the host's iptables modules and cgroup delegation; a
  warning naming them.
- **free disk** where Docker keeps images: a node image is about 1 GB to pull and more
  unpacked; below ``MIN_FREE_BYTES`` it is an error, below twice that a warning.
- a daemon that reports errors, or one that is not a Linux engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ERROR, WARNING = "error", "warning"
GIB = 1 << 30
#: Free space needed where Docker stores images: node image, controller, hellogo, logs.
MIN_FREE_BYTES = 4 * GIB
#: First Kubernetes minor whose kind node image needs cgroup v2.
CGROUP_V2_FROM = (1, 35)


@dataclass(frozen=True)
class Finding:
    level: str  # ERROR or WARNING
    message: str


def node_version(node_image: str) -> tuple[int, int] | None:
    """Kubernetes (major, minor) of a ``kindest/node:v1.35.1@sha256:...`` reference."""
    match = re.search(r":v(\d+)\.(\d+)", node_image.split("@")[0])
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_rootless(info: Mapping[str, Any]) -> bool:
    return any("rootless" in str(opt) for opt in info.get("SecurityOptions") or [])


def check(info: Mapping[str, Any], node_image: str, free_bytes: int | None = None) -> list[Finding]:
    """Findings for running ``node_image`` on the daemon ``info`` describes.

    Args:
        info: the JSON object ``docker info`` printed.
        node_image: the kind node image the cluster will run.
        free_bytes: free space in Docker's root folder, when the bed could measure it
            (None: a daemon in a VM or on another host; not checked).
    """
    out: list[Finding] = []
    errors = info.get("ServerErrors") or []
    if errors:
        out.append(Finding(ERROR, f"the Docker daemon reports: {errors[0]}; fix the daemon first"))
        return out
    os_type = str(info.get("OSType") or "linux")
    if os_type != "linux":
        out.append(
            Finding(ERROR, f"the Docker engine runs {os_type} containers; kind needs Linux ones")
        )
    cgroup = str(info.get("CgroupVersion") or "")
    version = node_version(node_image)
    if cgroup == "1":
        if version is not None and version >= CGROUP_V2_FROM:
            out.append(
                Finding(
                    ERROR,
                    f"the Docker host uses cgroup v1, and node image {node_image.split('@')[0]} "
                    "(Kubernetes 1.35 or later) needs cgroup v2; switch the host to cgroup v2 "
                    "(systemd.unified_cgroup_hierarchy=1) or pass an older --node-image",
                )
            )
        else:
            out.append(
                Finding(WARNING, "the Docker host uses cgroup v1; newer node images need v2")
            )
    if is_rootless(info) and cgroup == "1":
        out.append(
            Finding(
                ERROR,
                "rootless Docker on a cgroup v1 host: kind's rootless mode needs cgroup v2; "
                "switch the host to cgroup v2 or use rootful Docker",
            )
        )
    elif is_rootless(info):
        out.append(
            Finding(
                WARNING,
                "rootless Docker: the ingress's hostPort mapping needs the iptables modules "
                "(ip_tables, ip6_tables, iptable_nat, ip6table_nat) loaded on the host and "
                "cgroup v2 delegation of cpu, memory and pids to your user",
            )
        )
    if free_bytes is not None:
        root = str(info.get("DockerRootDir") or "Docker's root folder")
        free = f"{free_bytes / GIB:.1f} GiB"
        if free_bytes < MIN_FREE_BYTES:
            out.append(
                Finding(
                    ERROR,
                    f"only {free} free in {root}; the node image and the bed's images need "
                    f"about {MIN_FREE_BYTES // GIB} GiB: free space (e.g. `docker system prune`)",
                )
            )
        elif free_bytes < 2 * MIN_FREE_BYTES:
            out.append(Finding(WARNING, f"only {free} free in {root}; pulls may fail"))
    return out


def errors(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings if f.level == ERROR]


def warnings(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings if f.level == WARNING]
