"""Issue 24 (kind, round 3): what the cluster backends wait for after a kill and after a
change the controller applies without a reload. Kubernetes answers are faked (a recorder
in place of the API client); nothing here claims a cluster ran.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ingressbed.backends import cluster_waits
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.options import BedOptions
from ingressbed.progress import Steps

QUIET = Steps(quiet=True)


def _pod(name: str, ip: str) -> Any:
    labels = {"app": "hellogo"}
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name, labels=labels),
        status=SimpleNamespace(pod_ip=ip),
        spec=SimpleNamespace(node_name="n"),
    )


class _KillKube:
    """Six Ready pods; after a delete the API shows, call by call: the victim still listed,
    five pods, then six with a new name. The Deployment's status stays "6 ready" all along
    (a pod deletion does not change its generation)."""

    def __init__(self) -> None:
        self.pods = [_pod(f"hellogo-{i}", f"10.0.0.{i}") for i in range(6)]
        self.after: list[list[Any]] = []

    def ready_pods(self, ns: str, selector: str) -> list[Any]:
        if self.after:
            self.pods = self.after.pop(0)
        return list(self.pods)

    def delete_pod(self, ns: str, name: str, *, grace: int = 0) -> None:
        rest = [p for p in self.pods if p.metadata.name != name]
        self.after = [list(self.pods), rest, rest, [*rest, _pod("hellogo-new", "10.0.0.9")]]

    def deployment(self, ns: str, name: str) -> Any:
        return SimpleNamespace(spec=SimpleNamespace(replicas=6))

    def wait_deployment(self, ns: str, name: str, timeout: float) -> None:
        pass  # the stale status: ready at once


def test_kill_waits_for_a_new_ready_pod_before_the_balancer():
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    bed.kube = _KillKube()  # type: ignore[assignment]
    seen: list[set[str]] = []
    bed._wait_balancer = lambda what: seen.append({p.name for p in bed.pods()})  # type: ignore[method-assign]
    bed.kill("hellogo-3")
    assert len(seen) == 1
    assert "hellogo-3" not in seen[0] and "hellogo-new" in seen[0] and len(seen[0]) == 6


def test_replacement_problems_name_each_unmet_condition():
    before = [f"p{i}" for i in range(3)]
    assert cluster_waits.replacement_problems(before, "p1", ["p0", "p1", "p2"], 3) == [
        "p1 is still Ready",
        "no new pod is Ready yet",
    ]
    assert cluster_waits.replacement_problems(before, "p1", ["p0", "p2"], 3) == [
        "no new pod is Ready yet",
        "2 Ready pods, the Deployment wants 3",
    ]
    assert cluster_waits.replacement_problems(before, "p1", ["p0", "p2", "p9"], 3) == []
