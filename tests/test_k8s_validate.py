"""Every manifest the bed applies, checked against the Kubernetes schemas of the node image.

kubernetes-validate's schemas for Kubernetes 1.36.0 (the lock's
``kubernetes_schema_version``; the pinned node image runs v1.36.1), strict mode (unknown
fields are errors). The upstream ingress-nginx manifest is included when it is in the user
cache (it is downloaded and sha256-verified on first use); otherwise that part is skipped
and says so.
"""

from __future__ import annotations

import os

import kubernetes_validate
import pytest

from ingressbed import k8s_manifests as km
from ingressbed.options import BedOptions
from ingressbed.plan import build_plan
from ingressbed.tools import Lock, cache_dir

LOCK = Lock.load()
VERSIONS = LOCK.controller_versions


def _plan(backend: str, version: str):
    opts = BedOptions(
        backend=backend, controller_version=version, context="ctx", install_controller=True
    )
    return build_plan(opts)


def _validate(obj):
    kubernetes_validate.validate(obj, LOCK.schema_version, strict=True)


def test_schema_version_is_supported_and_matches_the_node_image():
    assert LOCK.schema_version in kubernetes_validate.utils.all_versions()
    node_minor = LOCK.node_image.split(":v", 1)[1].rsplit(".", 1)[0].split("@")[0]
    assert LOCK.schema_version.startswith(node_minor.rsplit(".", 1)[0] + ".")


@pytest.mark.parametrize("backend", ["kind", "cluster"])
@pytest.mark.parametrize("version", VERSIONS)
def test_every_bed_object_is_valid(backend, version):
    plan = _plan(backend, version)
    objs = plan.objects()
    assert {o["kind"] for o in objs} >= {
        "Namespace",
        "Service",
        "Deployment",
        "Ingress",
        "ConfigMap",
    }
    for obj in objs:
        _validate(obj)


@pytest.mark.parametrize("backend", ["kind", "cluster"])
@pytest.mark.parametrize("version", VERSIONS)
def test_upstream_controller_manifest_is_valid_and_pinned(backend, version):
    plan = _plan(backend, version)
    docs = plan.manifests.get("manifests/10-ingress-nginx.yaml")
    if docs is None:
        pytest.skip(
            f"ingress-nginx {version} manifest not in {cache_dir() / 'manifests'} "
            f"({'; '.join(plan.notes)})"
        )
    for obj in docs:
        _validate(obj)
    release = LOCK.controller(version)
    assert set(km.images(docs)) == set(release.images.values())
    cm = next(
        o
        for o in docs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == km.CONTROLLER_CONFIGMAP
    )
    assert cm["data"]["use-forwarded-headers"] == "true"
    assert cm["data"]["worker-processes"] == "1"
    dep = next(o for o in docs if o["kind"] == "Deployment")
    selector = dep["spec"]["template"]["spec"]["nodeSelector"]
    assert (selector.get("ingress-ready") == "true") == (backend == "kind")


def test_every_image_is_pinned_by_digest():
    for backend in ("kind", "cluster"):
        for version in VERSIONS:
            for image in km.images(_plan(backend, version).objects()):
                if image.startswith("ingressbed/hellogo:") or image.startswith("$"):
                    continue  # built here and loaded into kind / the user's pushed image
                assert "@sha256:" in image, image
    assert "@sha256:" in LOCK.node_image
    for version in VERSIONS:
        for image in LOCK.controller(version).images.values():
            assert "@sha256:" in image


def test_the_dry_run_plan_needs_no_network_or_docker(monkeypatch, tmp_path):
    import docker

    def refuse(*args, **kwargs):
        raise AssertionError("the plan must not talk to Docker")

    monkeypatch.setattr(docker, "from_env", refuse)
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "empty-cache"))
    plan = _plan("kind", VERSIONS[0])
    assert any("not rendered" in n for n in plan.notes)
    assert not (tmp_path / "empty-cache").exists()
    assert "manifests/11-controller-configmap.yaml" in plan.manifests
    assert os.environ["INGRESSBED_CACHE"].endswith("empty-cache")
