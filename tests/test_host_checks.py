"""host_checks over recorded `docker info --format '{{json .}}'` outputs (trimmed to the
fields the checks read, values as Docker prints them)."""

from __future__ import annotations

import pytest

from ingressbed import host_checks
from ingressbed.host_checks import ERROR, GIB, WARNING

NODE_135 = "kindest/node:v1.35.1@sha256:" + "0" * 64
NODE_130 = "kindest/node:v1.30.13@sha256:" + "0" * 64

#: Docker Engine 27 on Debian 12 (cgroup v2, root).
DEBIAN = {
    "ServerVersion": "27.5.1",
    "OSType": "linux",
    "CgroupDriver": "systemd",
    "CgroupVersion": "2",
    "DockerRootDir": "/var/lib/docker",
    "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"],
}
#: CentOS 7 era host (cgroup v1).
CGROUP_V1 = {**DEBIAN, "CgroupDriver": "cgroupfs", "CgroupVersion": "1",
             "SecurityOptions": ["name=seccomp,profile=default"]}  # fmt: skip
#: Rootless Docker behind a context (`dockerd-rootless-setuptool.sh`).
ROOTLESS = {
    **DEBIAN,
    "DockerRootDir": "/home/dev/.local/share/docker",
    "SecurityOptions": ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"],
}
#: What the CLI prints when the daemon does not answer.
DOWN = {
    "ServerErrors": [
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?"
    ]
}


def test_a_healthy_host_has_no_findings():
    assert host_checks.check(DEBIAN, NODE_135, 50 * GIB) == []


def test_cgroup_v1_blocks_node_images_from_1_35_and_warns_before():
    (finding,) = host_checks.check(CGROUP_V1, NODE_135)
    assert finding.level == ERROR and "cgroup v1" in finding.message
    assert "systemd.unified_cgroup_hierarchy=1" in finding.message
    (older,) = host_checks.check(CGROUP_V1, NODE_130)
    assert older.level == WARNING


def test_rootless_is_a_warning_naming_the_iptables_modules():
    (finding,) = host_checks.check(ROOTLESS, NODE_135)
    assert finding.level == WARNING and "iptable_nat" in finding.message
    assert host_checks.is_rootless(ROOTLESS) and not host_checks.is_rootless(DEBIAN)


@pytest.mark.parametrize(
    ("free", "level"), [(1 * GIB, ERROR), (5 * GIB, WARNING), (9 * GIB, None), (None, None)]
)
def test_free_disk(free, level):
    findings = host_checks.check(DEBIAN, NODE_135, free)
    assert [f.level for f in findings] == ([level] if level else [])
    if level == ERROR:
        assert (
            "/var/lib/docker" in findings[0].message
            and "docker system prune" in findings[0].message
        )


def test_a_daemon_reporting_errors_stops_there():
    (finding,) = host_checks.check(DOWN, NODE_135, 1)
    assert finding.level == ERROR and "Cannot connect" in finding.message


def test_windows_containers_are_refused():
    findings = host_checks.check({**DEBIAN, "OSType": "windows"}, NODE_135)
    assert host_checks.errors(findings) == [
        "the Docker engine runs windows containers; kind needs Linux ones"
    ]


def test_node_version_parsing():
    assert host_checks.node_version(NODE_135) == (1, 35)
    assert host_checks.node_version("kindest/node@sha256:" + "0" * 64) is None
