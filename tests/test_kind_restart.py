"""Issue 24 item 10: restarting a stopped kind cluster. Docker and Kubernetes are
recorders of answers (nothing here claims a cluster ran)."""

from __future__ import annotations

from typing import Any

import pytest

from ingressbed.backends import kind, kube
from ingressbed.backends.kind import KindBackend, paused_nodes
from ingressbed.errors import SetupError, ToolError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps

NODES = "ingressbed-control-plane\tpaused\ningressbed-worker\texited\n"


class _Docker:
    def __init__(self, fail: str = "") -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def run(self, args: list[str], **kwargs: Any) -> str:
        self.calls.append(args)
        if self.fail and args[0] == "start":
            raise ToolError(self.fail)
        return ""


class _Kube:
    """The API answers at once; the kubelet reports Ready on the third look."""

    looks = 0

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str) -> _Kube:
        return cls()

    def server_version(self) -> str:
        return "v1.35.5"

    def unready_nodes(self) -> list[str]:
        _Kube.looks += 1
        return [] if _Kube.looks >= 3 else ["ingressbed-control-plane"]

    def close(self) -> None:
        pass


def _bed(tmp_path, monkeypatch, docker: _Docker) -> KindBackend:
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    monkeypatch.setattr(kube.time, "sleep", lambda s: None)
    bed = KindBackend(BedOptions(backend="kind"), Steps(quiet=True))
    bed.docker = docker  # type: ignore[assignment]
    monkeypatch.setattr(bed, "_write_kubeconfig", lambda: None)
    return bed


def test_paused_nodes_are_unpaused_and_the_kubelet_waited_for(tmp_path, monkeypatch):
    docker = _Docker()
    bed = _bed(tmp_path, monkeypatch, docker)
    monkeypatch.setattr(kind, "Kube", _Kube)
    _Kube.looks = 0
    bed._restart(kind.node_names(NODES), paused_nodes(NODES))
    assert docker.calls == [
        ["unpause", "ingressbed-control-plane"],
        ["start", "ingressbed-worker"],
    ]
    assert _Kube.looks == 3  # not done while a node was not Ready


def test_a_host_port_taken_since_creation_says_recreate(tmp_path, monkeypatch):
    taken = (
        "docker start failed: Error response from daemon: driver failed programming external "
        "connectivity: Bind for 127.0.0.1:38117 failed: port is already allocated"
    )
    bed = _bed(tmp_path, monkeypatch, _Docker(fail=taken))
    with pytest.raises(SetupError) as info:
        bed._restart(["ingressbed-control-plane"], [])
    message = str(info.value)
    assert "\n" not in message and "port is already allocated" in message
    assert message.endswith("recreate the cluster: kind delete cluster --name ingressbed")
