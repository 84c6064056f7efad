"""A bug report's own objects on kind and cluster: manifests valid against the pinned schemas,
selectors that keep each Service on its own pods, and the dry-run plan of a report.

``ReportObjects`` is driven with recorders in place of the cluster (nothing here claims a
cluster ran): the order Ingresses are created in, what goes when a setup drops it, the
balancers made afresh for a new hash key, and the admission webhook's refusal as a note.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import kubernetes_validate
import pytest

from ingressbed import controller
from ingressbed import k8s_manifests as km
from ingressbed import k8s_objects as ko
from ingressbed.backends import cluster_objects
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.errors import SetupError
from ingressbed.options import BedOptions
from ingressbed.plan import build_plan
from ingressbed.progress import Steps
from ingressbed.scenario.load import load
from ingressbed.tools import UPSTREAM_MIRROR_ENV, Lock
from ingressbed.vocabulary import Pod

REPO = Path(__file__).resolve().parent.parent
LOCK = Lock.load()
CANARY = load(REPO / "e2e" / "scenarios" / "report-canary-cookie-affinity.yaml")
TWO = load(REPO / "e2e" / "scenarios" / "report-two-ingresses-hash-key.yaml")
MIRROR = REPO / ".." / "shared" / "upstream" / "ingress-nginx"


@pytest.fixture(autouse=True)
def _upstream_mirror(monkeypatch, tmp_path):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(UPSTREAM_MIRROR_ENV, str(MIRROR))


@pytest.mark.parametrize("version", LOCK.controller_versions)
@pytest.mark.parametrize("backend", ["kind", "cluster"])
def test_the_plan_of_a_report_holds_its_objects_and_every_one_is_valid(backend, version):
    options = BedOptions(
        backend=backend, controller_version=version, context="ctx", install_controller=True
    )
    plan = build_plan(options, CANARY.setup)
    services = plan.manifests["manifests/23-report-services.yaml"]
    first, second = (
        plan.manifests[f"manifests/30-ingress-{n}-{name}.yaml"]
        for n, name in ((1, "shop"), (2, "shop-canary"))
    )
    assert [o["metadata"]["name"] for o in (*first, *second)] == ["shop", "shop-canary"]
    step = plan.steps[-1]
    assert step.title == "Applying Ingresses shop, shop-canary"
    assert step.detail.index("30-ingress-1-shop.yaml") < step.detail.index("$ sleep 1")
    assert [(o["kind"], o["metadata"]["name"]) for o in services] == [
        ("Service", "app"),
        ("Deployment", "app"),
        ("Service", "app-v2"),
        ("Deployment", "app-v2"),
    ]
    assert [o["spec"]["replicas"] for o in services if o["kind"] == "Deployment"] == [3, 2]
    schema = LOCK.schema_version_for(version)
    for obj in plan.objects():
        kubernetes_validate.validate(obj, schema, strict=True)


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_each_service_selects_its_own_pods_and_the_beds_hellogo_keeps_its_selector():
    app = ko.service(CANARY.setup.services[0], "ns")
    deployments = [ko.deployment(s.name, "ns", "img", 1, "Never") for s in CANARY.setup.services]
    labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments]
    assert [_matches(app["spec"]["selector"], mine) for mine in labels] == [True, False]
    for deployment, mine in zip(deployments, labels, strict=True):
        assert _matches(deployment["spec"]["selector"]["matchLabels"], mine)
    bed = km.hellogo_deployment("ns", "img", 6, "Never")
    own = bed["spec"]["selector"]["matchLabels"]
    assert not any(_matches(own, mine) for mine in labels)  # no Deployment adopts another's
    mine = ko.deployment("hellogo", "ns", "img", 2, "Never")
    assert mine["metadata"]["name"] == "hellogo"
    assert mine["spec"]["selector"] == bed["spec"]["selector"]


def test_an_ingress_keeps_what_was_pasted_in_the_beds_namespace_and_class():
    web, api = (ko.ingress(i, "ns") for i in TWO.setup.ingresses)
    assert web["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/upstream-hash-by": "$binary_remote_addr"
    }
    assert web["spec"]["ingressClassName"] == "nginx" and web["metadata"]["namespace"] == "ns"
    path = api["spec"]["rules"][0]["http"]["paths"][0]
    assert path == {
        "path": "/api",
        "pathType": "Prefix",
        "backend": {"service": {"name": "app", "port": {"number": 80}}},
    }


# --- ReportObjects with recorders in place of the cluster -------------------------------------


class _Kube:
    def __init__(self, log: list[str], refuse: str = "") -> None:
        self.log = log
        self.refuse = refuse

    def apply(self, obj):
        name = f"{obj['kind']} {obj['metadata']['name']}"
        if obj["kind"] == "Ingress" and obj["metadata"]["name"] == self.refuse:
            raise SetupError(f"applying {name}: 400 admission webhook denied the request")
        self.log.append(f"apply {name}")

    def delete(self, obj):
        self.log.append(f"delete {obj['kind']} {obj['metadata']['name']}")

    def scale(self, ns, name, replicas):
        self.log.append(f"scale {name} {replicas}")

    def wait_deployment(self, ns, name, timeout):
        pass


class _Ctl:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def wait_backends_gone(self, names):
        self.log.append(f"gone {sorted(names)}")


def _bed(monkeypatch, log: list[str], refuse: str = "") -> ClusterBackend:
    monkeypatch.setenv("INGRESSBED_HELLOGO_IMAGE", "r/hellogo@sha256:" + "a" * 64)
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), Steps(quiet=True))
    bed.kube = _Kube(log, refuse)  # type: ignore[assignment]
    bed.controller = _Ctl(log)  # type: ignore[assignment]
    monkeypatch.setattr(bed.objects, "wait_served", lambda setup: None)
    monkeypatch.setattr(cluster_objects, "_after_second", lambda when: log.append("next second"))
    return bed


def test_report_objects_are_applied_services_first_then_ingresses_oldest_first(monkeypatch):
    log: list[str] = []
    bed = _bed(monkeypatch, log)
    bed.objects.apply(TWO.setup, fresh_balancers=True)
    assert log == [
        "scale hellogo 0",
        "apply Service app",
        "apply Deployment app",
        "apply Ingress web",
        "next second",
        "apply Ingress api",
    ]


def test_a_new_key_makes_the_ingresses_anew_unless_applied_as_kubectl_does(monkeypatch):
    from dataclasses import replace

    log: list[str] = []
    bed = _bed(monkeypatch, log)
    bed.objects.apply(TWO.setup, fresh_balancers=True)
    web, api = TWO.setup.ingresses
    rekeyed = replace(web, annotations={"nginx.ingress.kubernetes.io/upstream-hash-by": "$uri"})
    new = replace(TWO.setup, ingresses=(rekeyed, api))
    log.clear()
    bed.objects.apply(new, fresh_balancers=False)  # kubectl-like: the balancer keeps $binary_...
    assert [e for e in log if "Ingress" in e] == ["apply Ingress web", "apply Ingress api"]
    log.clear()
    bed.objects.apply(new, fresh_balancers=True)  # the bed's apply: made anew
    ns = bed.namespace
    assert [e for e in log if "Ingress" in e or "gone" in e] == [
        "delete Ingress web",
        "delete Ingress api",
        f"gone ['{ns}-app-80']",
        "apply Ingress web",
        "apply Ingress api",
    ]


def test_the_admission_webhooks_refusal_is_a_note_and_what_goes_is_deleted(monkeypatch):
    from dataclasses import replace

    log: list[str] = []
    bed = _bed(monkeypatch, log, refuse="api")
    bed.objects.apply(TWO.setup, fresh_balancers=True)
    assert bed.objects.notes == [
        "Ingress api refused: applying Ingress api: 400 admission webhook denied the request"
    ]
    log.clear()
    bed.objects.apply(replace(TWO.setup, ingresses=TWO.setup.ingresses[:1]), fresh_balancers=True)
    assert "delete Ingress api" in log


class _ForgetfulKube(_Kube):
    """Refuses two applies after a delete, naming the deleted Ingress, as the v1.15.1
    webhook does until the controller's cache has seen the deletion."""

    def __init__(self, log: list[str], ns: str) -> None:
        super().__init__(log)
        self.ns, self.refusals, self.deleted = ns, 0, ""

    def delete(self, obj):
        super().delete(obj)
        if obj["kind"] == "Ingress":
            self.refusals, self.deleted = 2, obj["metadata"]["name"]

    def apply(self, obj):
        if obj["kind"] == "Ingress" and self.refusals:
            self.refusals -= 1
            self.log.append(f"refused Ingress {obj['metadata']['name']}")
            raise SetupError(
                f"applying Ingress {obj['metadata']['name']}: 400 admission webhook denied the "
                f'request: host "h" and path "/" is already defined in ingress '
                f"{self.ns}/{self.deleted}"
            )
        super().apply(obj)


def test_an_ingress_replacing_a_deleted_one_is_asked_again_until_the_webhook_forgets(
    monkeypatch,
):
    from dataclasses import replace

    from ingressbed.backends import kube

    monkeypatch.setattr(kube.time, "sleep", lambda s: None)
    log: list[str] = []
    bed = _bed(monkeypatch, log)
    forgetful = _ForgetfulKube(log, bed.namespace)
    bed.kube = forgetful  # type: ignore[assignment]
    bed.objects.apply(TWO.setup, fresh_balancers=False)
    web, api = TWO.setup.ingresses
    log.clear()
    renamed = replace(TWO.setup, ingresses=(replace(web, name="web-v2"), api))
    bed.objects.apply(renamed, fresh_balancers=False)
    assert [e for e in log if "Ingress" in e] == [
        "delete Ingress web",
        "refused Ingress web-v2",
        "refused Ingress web-v2",
        "apply Ingress web-v2",
        "apply Ingress api",
    ]
    assert bed.objects.notes == []  # not refused: the webhook had not seen the delete yet


def test_the_controllers_backends_are_compared_with_the_model_of_the_same_pods():
    pods = [Pod(f"app-{i}", f"10.244.0.{i}", service="app") for i in range(1, 4)]
    model = cluster_objects.model(TWO.setup, "ns", pods)
    document = json.dumps(controller.to_backends_json(model))
    live = cluster_objects.live_backends(document, "ns")
    ours = [b for b in model.backends if b.name != controller.DEFAULT_BACKEND]
    assert controller.compare(ours, live) == ()
    fewer = cluster_objects.model(TWO.setup, "ns", pods[:2])
    theirs = [b for b in fewer.backends if b.name != controller.DEFAULT_BACKEND]
    assert controller.compare(ours, theirs) == (
        "backend ns-app-80: endpoint count: model 3, controller 2",
    )
    with pytest.raises(SetupError, match="printed no backends document"):
        cluster_objects.live_backends("not json", "ns")


def test_pods_of_a_report_carry_their_service(monkeypatch):
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), Steps(quiet=True))
    pod = SimpleNamespace(
        metadata=SimpleNamespace(name="app-1", labels={ko.SERVICE_LABEL: "app"}),
        status=SimpleNamespace(pod_ip="10.244.0.9"),
        spec=SimpleNamespace(node_name="n"),
    )
    bed.kube = SimpleNamespace(ready_pods=lambda ns, selector: [pod])  # type: ignore[assignment]
    assert [(p.name, p.service) for p in bed.pods()] == [("app-1", "app")]
