"""Issue 24 (kind, round 3): what the cluster backends wait for after a kill and after a
change the controller applies without a reload. Kubernetes answers are faked (a recorder
in place of the API client); nothing here claims a cluster ran.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from ingressbed import layouts
from ingressbed.backends import cluster_waits, converge
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.errors import SetupError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.vocabulary import Address, Endpoint, Pod, Setup

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


# --- item 2: past one worker tick, Host varied, the cookie's form -------------------------


def _served_bed(setup: Any) -> tuple[ClusterBackend, list[str]]:
    """A cluster backend whose /dbg matches ``setup`` on the second poll; events in order."""
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    events: list[str] = []
    polls = iter([None] + [{}] * 100)

    class Ctl:
        def live_config(self) -> dict[str, str]:
            return {}

    def backend(port: int | str, service: str = "hellogo") -> dict[str, Any] | None:
        got = next(polls)
        events.append("dbg " + ("none" if got is None else "match"))
        if got is None:
            return None
        return {
            "endpoints": [{"address": "10.0.0.1", "port": str(port)}],
            "sessionAffinityConfig": {"name": "cookie", "mode": "persistent"},
            "upstreamHashByConfig": {},
            "load-balance": "round_robin",
        }

    bed.controller = Ctl()  # type: ignore[assignment]
    bed.dbg_backend = backend  # type: ignore[method-assign]
    bed.pods = lambda: [Pod("p", "10.0.0.1")]  # type: ignore[method-assign]
    bed.pause = lambda s: events.append(f"pause {s:.2f}")  # type: ignore[method-assign]
    return bed, events


def test_after_dbg_matches_the_bed_waits_past_one_worker_tick():
    setup = layouts.setup("one-port", {"affinity": "cookie", "affinity-mode": "persistent"})
    bed, events = _served_bed(setup)
    bed._wait_served(setup)
    assert events[:2] == ["dbg none", "dbg match"]
    waited = float(events[-1].split()[1])
    assert events[-1].startswith("pause") and waited >= cluster_waits.WORKER_TICK_S - 0.05
    assert cluster_waits.WORKER_TICK_S == 1.0  # balancer.lua's BACKENDS_SYNC_INTERVAL


def test_past_worker_tick_waits_only_what_is_left():
    waits: list[float] = []
    done = cluster_waits.past_worker_tick(10.0, clock=lambda: 10.5, pause=waits.append)
    assert waits == [done] and abs(done - 0.7) < 1e-9
    assert cluster_waits.past_worker_tick(10.0, clock=lambda: 12.0, pause=waits.append) == 0
    assert len(waits) == 1


def _hostless(annotations: dict[str, str], host: str = "") -> Setup:
    base = layouts.setup("one-port", annotations)
    routes = tuple(dataclasses.replace(r, host=host) for r in base.ingress.routes)
    return dataclasses.replace(base, ingress=dataclasses.replace(base.ingress, routes=routes))


@pytest.mark.parametrize("host", ["", "*.example.test"])
def test_host_keyed_samples_vary_the_host(host):
    setup = _hostless({"upstream-hash-by": "$host"}, host)
    peers = [Endpoint(f"10.0.0.{i}", 8080) for i in range(6)]
    plan = converge.plan(setup, {8080: peers}, "ingress-nginx", controller_version="v1.15.1")
    first = [s.host for s in plan.samples if s.route.path == "/8080"]
    assert len(first) == converge.DEFAULT_KEYS and len(set(first)) == len(first)
    if host:
        assert all(h.endswith(".example.test") for h in first)
    other = converge.plan(
        _hostless({"upstream-hash-by": "$request_uri"}), {8080: peers}, "ingress-nginx"
    )
    assert len({s.host for s in other.samples}) == 1  # not host-keyed: one Host


@pytest.mark.parametrize(
    ("mode", "cookie", "ok"),
    [
        ("persistent", "0123456789abcdef0123456789abcdef|b", True),
        ("persistent", "1733400000.123.77.4242|b", False),  # the balanced balancer still in force
        ("balanced", "1733400000.123.77.4242|b", True),
        ("balanced", "0123456789abcdef0123456789abcdef|b", False),
        ("balanced", None, False),
    ],
)
def test_cookie_modes_are_told_apart_by_the_set_cookie_form(mode, cookie, ok):
    setup = _hostless({"affinity": "cookie", "affinity-mode": mode})
    peers = {8080: [Endpoint("10.0.0.1", 8080)]}
    headers = () if cookie is None else (f"INGRESSCOOKIE={cookie}; Path=/; HttpOnly",)

    def sender(address: Address, samples: Any) -> list[converge.Answer]:
        return [converge.Answer(200, "10.0.0.1", 8080, set_cookies=headers) for _ in samples]

    target = SimpleNamespace(
        data_plane="ingress-nginx",
        address=lambda: Address("127.0.0.1", 1),
        endpoints=lambda port: peers[8080],
    )
    clock = iter(range(0, 1000, 10))

    def run() -> object:
        return converge.converge(
            target,  # type: ignore[arg-type]
            setup,
            timeout=5,
            check_cookies=True,
            sender=sender,
            clock=lambda: float(next(clock)),
            pause=lambda s: None,
        )

    if ok:
        run()
    else:
        with pytest.raises(SetupError, match="cookie"):
            run()
    # Without the check (the local planes), only the port counts.
    converge.converge(
        target,  # type: ignore[arg-type]
        setup,
        sender=sender,
        clock=lambda: float(next(clock)),
        pause=lambda s: None,
    )


# --- item 6: renaming an Ingress races the admission webhook's overlap check ---------------


class _RenameKube:
    """Refuses the first two applies after a delete as the v1.15.1 webhook does."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.log: list[str] = []
        self.refusals = 0

    def scale(self, ns: str, name: str, replicas: int) -> None:
        pass

    def wait_deployment(self, ns: str, name: str, timeout: float) -> None:
        pass

    def ingresses(self) -> list[dict[str, object]]:
        return []

    def delete(self, obj: dict[str, Any]) -> None:
        self.log.append(f"delete {obj['metadata']['name']}")
        self.refusals = 2

    def apply(self, obj: dict[str, Any]) -> None:
        if self.refusals:
            self.refusals -= 1
            self.log.append("refused")
            raise SetupError(
                f"applying Ingress {obj['metadata']['name']}: 400 admission webhook "
                '"validate.nginx.ingress.kubernetes.io" denied the request: host '
                f'"hellogo.d.xiaomi.net" and path "/8080" is already defined in ingress '
                f"{self.ns}/first"
            )
        self.log.append(f"apply {obj['metadata']['name']}")


def test_a_renamed_ingress_is_applied_again_while_the_webhook_knows_the_old_one(monkeypatch):
    from ingressbed.backends import kube

    monkeypatch.setattr(kube.time, "sleep", lambda s: None)
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    fake = _RenameKube(bed.namespace)
    bed.kube = fake  # type: ignore[assignment]
    bed.controller = SimpleNamespace(apply_keys=lambda keys, name: None)  # type: ignore[assignment]
    monkeypatch.setattr(bed, "_wait_served", lambda setup: None)
    monkeypatch.setattr(bed, "_replicas", lambda: 6)
    first = layouts.setup("one-port")
    first = dataclasses.replace(first, ingress=dataclasses.replace(first.ingress, name="first"))
    second = dataclasses.replace(first, ingress=dataclasses.replace(first.ingress, name="second"))
    bed._apply(first, fresh_balancers=True)
    fake.log.clear()
    bed._apply(second, fresh_balancers=True)
    assert fake.log == ["delete first", "refused", "refused", "apply second"]


def test_only_the_overlap_with_the_deleted_ingress_is_waited_out():
    said = 'host "h" and path "/" is already defined in ingress ns/first'
    assert cluster_waits.overlaps_deleted(said, "ns", ["zero", "first"]) == "first"
    assert cluster_waits.overlaps_deleted(said, "ns", ["firs"]) is None
    assert cluster_waits.overlaps_deleted(said.replace("ns/", "other/"), "ns", ["first"]) is None


# --- item 12: a new delay for the slow pods ---------------------------------------------


class _SlowKube:
    """The slow pods outlive their Deployment's deletion by two looks (garbage collection)."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.lingering = 0

    def delete(self, obj: dict[str, Any]) -> None:
        self.log.append("delete")
        self.lingering = 2

    def pods(self, ns: str, selector: str) -> list[Any]:
        self.log.append("look")
        if self.lingering:
            self.lingering -= 1
            return [SimpleNamespace(metadata=SimpleNamespace(name="hellogo-slow-old"))]
        return []

    def apply(self, obj: dict[str, Any]) -> None:
        self.log.append(f"apply {obj['spec']['template']['metadata']['labels']}")

    def wait_deployment(self, ns: str, name: str, timeout: float) -> None:
        self.log.append("wait")


def test_a_new_slow_delay_starts_after_the_old_slow_pods_are_gone(monkeypatch):
    from ingressbed.backends import kube

    monkeypatch.setattr(kube.time, "sleep", lambda s: None)
    monkeypatch.setenv("INGRESSBED_HELLOGO_IMAGE", "r/hellogo@sha256:" + "a" * 64)
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    fake = _SlowKube()
    bed.kube = fake  # type: ignore[assignment]
    plain = layouts.setup("one-port", replicas=6)
    bed.setup = dataclasses.replace(plain, slow_pods=1, slow_ms=200)
    bed._slow_pods(dataclasses.replace(plain, slow_pods=1, slow_ms=500))
    assert fake.log[:4] == ["delete", "look", "look", "look"]
    assert fake.log[4].startswith("apply") and fake.log[5] == "wait"


def test_killing_a_slow_pod_waits_for_a_new_slow_pod():
    from ingressbed import k8s_manifests as km

    fake = _KillKube()
    fake.pods = [_pod(f"hellogo-{i}", f"10.0.0.{i}") for i in range(5)]
    slow = _pod("hellogo-slow-a", "10.0.0.7")
    slow.metadata.labels = {"app": "hellogo", km.DELAY_LABEL: "200"}
    fake.pods.append(slow)
    asked: list[str] = []
    fresh = _pod("hellogo-slow-b", "10.0.0.8")
    fresh.metadata.labels = slow.metadata.labels

    def deployment(ns: str, name: str) -> Any:
        asked.append(name)
        return SimpleNamespace(spec=SimpleNamespace(replicas=1))

    def delete_pod(ns: str, name: str, *, grace: int = 0) -> None:
        rest = [p for p in fake.pods if p.metadata.name != name]
        fake.after = [rest, rest, [*rest, fresh]]

    fake.deployment = deployment  # type: ignore[method-assign]
    fake.delete_pod = delete_pod  # type: ignore[method-assign]
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    bed.kube = fake  # type: ignore[assignment]
    seen: list[set[str]] = []
    bed._wait_balancer = lambda what: seen.append({p.name for p in bed.pods()})  # type: ignore[method-assign]
    bed.kill("hellogo-slow-a")
    assert asked == [km.SLOW_DEPLOYMENT]
    assert "hellogo-slow-b" in seen[0] and "hellogo-slow-a" not in seen[0]


def test_a_reports_objects_are_applied_then_one_worker_tick_waited():
    from ingressbed.vocabulary import IngressSpec, Route

    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    events: list[str] = []
    bed.controller = SimpleNamespace(apply_keys=lambda keys, name: None)  # type: ignore[assignment]
    bed.objects = SimpleNamespace(  # type: ignore[assignment]
        apply=lambda setup, fresh_balancers: events.append("objects served")
    )
    bed.pause = lambda s: events.append("pause")  # type: ignore[method-assign]
    base = layouts.setup("one-port")
    extra = IngressSpec("second", (Route("/x", 8080, "other.test"),))
    setup = dataclasses.replace(base, ingresses=(base.ingress, extra))
    bed._apply(setup, fresh_balancers=True)
    assert events == ["objects served", "pause"]
