"""Every manifest the bed applies, checked against the Kubernetes schemas of the node image.

kubernetes-validate's schemas for the Kubernetes version of each release's node image (the
lock's ``kubernetes_schema_version`` per release), strict mode (unknown fields are errors).
The upstream ingress-nginx manifests come from the pinned copies under
``../shared/upstream/ingress-nginx`` next to the repository (``INGRESSBED_UPSTREAM_MIRROR``),
verified against the lock's sha256 like a download; the tests fail, never skip, without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import kubernetes_validate
import pytest

from ingressbed import k8s_manifests as km
from ingressbed.options import BedOptions
from ingressbed.plan import build_plan
from ingressbed.tools import UPSTREAM_MIRROR_ENV, Lock

LOCK = Lock.load()
VERSIONS = LOCK.controller_versions
#: The pinned upstream trees beside the repository (relative to the repository root).
MIRROR = Path(__file__).resolve().parents[1] / ".." / "shared" / "upstream" / "ingress-nginx"


@pytest.fixture(autouse=True)
def _upstream_mirror(monkeypatch, tmp_path):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(UPSTREAM_MIRROR_ENV, str(MIRROR))


def _plan(backend: str, version: str):
    opts = BedOptions(
        backend=backend, controller_version=version, context="ctx", install_controller=True
    )
    return build_plan(opts)


def _validate(obj, version: str = ""):
    schema = LOCK.schema_version_for(version) if version else LOCK.schema_version
    kubernetes_validate.validate(obj, schema, strict=True)


def test_the_upstream_mirror_is_there():
    for version in VERSIONS:
        for flavor in ("kind", "cloud"):
            path = MIRROR / f"controller-{version}/deploy/static/provider/{flavor}/deploy.yaml"
            assert path.is_file(), f"{path} is missing: the schema tests need it"


@pytest.mark.parametrize("version", VERSIONS)
def test_schema_version_is_supported_and_matches_the_node_image(version):
    schema = LOCK.schema_version_for(version)
    assert schema in kubernetes_validate.utils.all_versions()
    image = LOCK.node_image_for(version)
    node_minor = image.split(":v", 1)[1].split("@")[0].rsplit(".", 1)[0]
    assert schema.startswith(node_minor + "."), (image, schema)


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
        _validate(obj, version)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_slow_pods_deployment_is_valid(version):
    _validate(km.hellogo_deployment("ns", "ingressbed/hellogo:abc", 1, delay_ms=200), version)


@pytest.mark.parametrize("backend", ["kind", "cluster"])
@pytest.mark.parametrize("version", VERSIONS)
def test_upstream_controller_manifest_is_valid_and_pinned(backend, version):
    plan = _plan(backend, version)
    docs = plan.manifests["manifests/10-ingress-nginx.yaml"]
    assert not [n for n in plan.notes if "not written" in n]
    for obj in docs:
        _validate(obj, version)
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
    import subprocess
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("the plan must not run tools or use the network")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv(UPSTREAM_MIRROR_ENV)
    plan = _plan("kind", VERSIONS[0])
    assert any("not written" in n and UPSTREAM_MIRROR_ENV in n for n in plan.notes)
    assert "manifests/10-ingress-nginx.yaml" not in plan.manifests
    assert not (Path(os.environ["INGRESSBED_CACHE"]) / "manifests").exists()
