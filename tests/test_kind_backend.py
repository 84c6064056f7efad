"""The kind and cluster backends' own logic that runs without a cluster.

Nothing here pretends to be a cluster: these tests cover option handling, naming, the
image tag, and the keep/cleanup bookkeeping of close(). The backends' cluster operations
are only exercised by the e2e suite on a real kind cluster (see docs/kind.md).
"""

from __future__ import annotations

import shutil
import tempfile

import pytest
import yaml

from ingressbed.backends import base
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.backends.controller import Controller
from ingressbed.backends.kind import KindBackend, hellogo_tag, source_hash
from ingressbed.backends.kube import Kube
from ingressbed.errors import ConfigError, SetupError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.vocabulary import ALL_CAPABILITIES, Capability, Flavor

QUIET = Steps(quiet=True)


def test_cluster_backend_never_uses_the_current_context_by_itself(monkeypatch):
    with pytest.raises(ConfigError, match="--context NAME"):
        ClusterBackend(BedOptions(backend="cluster"), QUIET)


def test_cluster_backend_names_its_namespace_from_prefix_and_run_id():
    a = ClusterBackend(BedOptions(backend="cluster", context="c", namespace_prefix="bed"), QUIET)
    b = ClusterBackend(BedOptions(backend="cluster", context="c", namespace_prefix="bed"), QUIET)
    assert a.namespace.startswith("bed-") and a.namespace != b.namespace
    assert len(a.namespace) <= 63
    assert a.data_plane == Flavor.INGRESS_NGINX
    assert isinstance(a, base.Backend)


def test_cluster_backend_wants_a_digest_pinned_hellogo_image(monkeypatch):
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    monkeypatch.setenv("INGRESSBED_HELLOGO_IMAGE", "registry.example/hellogo:latest")
    with pytest.raises(ConfigError, match="INGRESSBED_HELLOGO_IMAGE"):
        bed.hellogo_image()
    ref = "registry.example/hellogo@sha256:" + "c" * 64
    monkeypatch.setenv("INGRESSBED_HELLOGO_IMAGE", ref)
    assert bed.hellogo_image() == (ref, "IfNotPresent")


def test_kind_backend_names_and_capabilities(monkeypatch, tmp_path):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    bed = KindBackend(BedOptions(backend="kind", cluster_name="t1"), QUIET)
    assert bed.context == "kind-t1"
    assert bed.kubeconfig == str(tmp_path / "kind" / "t1.kubeconfig")
    assert bed.config["name"] == "t1"
    assert bed.capabilities == ALL_CAPABILITIES - {Capability.LEGACY_HASH}
    assert bed.hellogo_image()[1] == "Never"
    with pytest.raises(SetupError, match="call start"):
        bed.address()


def test_kind_backend_refuses_an_unpinned_node_image():
    with pytest.raises(ConfigError, match="not pinned by digest"):
        KindBackend(BedOptions(backend="kind", node_image="kindest/node:v1.36.1"), QUIET)


def test_hellogo_tag_hashes_sources_not_caches(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    first = source_hash(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert source_hash(tmp_path) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert source_hash(tmp_path) != first
    assert hellogo_tag(tmp_path).startswith("ingressbed/hellogo:")


def _bed(keep: str, *, failed: bool = False):
    bed = ClusterBackend(BedOptions(backend="cluster", context="c", keep=keep), QUIET)
    done: list[str] = []
    bed.on_cleanup("Deleting namespace x", lambda: done.append("ns"), kept="namespace x")
    bed.on_cleanup("Stopping kubectl port-forward", lambda: done.append("pf"))
    if failed:
        bed.mark_failed()
    return bed, done


@pytest.mark.parametrize(
    ("keep", "failed", "expected"),
    [
        ("never", False, ["pf", "ns"]),
        ("never", True, ["pf", "ns"]),
        ("on-failure", False, ["pf", "ns"]),
        ("on-failure", True, ["pf"]),
        ("always", False, ["pf"]),
    ],
)
def test_close_undoes_in_reverse_and_keeps_as_told(keep, failed, expected):
    bed, done = _bed(keep, failed=failed)
    bed.close()
    assert done == expected
    bed.close()  # idempotent
    assert done == expected


def test_close_reports_what_it_could_not_remove():
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)

    def boom():
        raise SetupError("namespace stuck")

    bed.on_cleanup("Deleting namespace x", boom)
    with pytest.raises(SetupError, match=r"cleanup incomplete.*namespace stuck"):
        bed.close()


def test_kind_close_skips_the_namespace_when_the_cluster_goes(monkeypatch, tmp_path):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    bed = KindBackend(BedOptions(backend="kind"), QUIET)
    done: list[str] = []
    bed.created_cluster = True
    bed.on_cleanup('Deleting cluster "ingressbed"', lambda: done.append("cluster"))
    bed.on_cleanup("Deleting namespace x", lambda: done.append("ns"))
    bed.close()
    assert done == ["cluster"]


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not on PATH")
def test_port_forward_failure_is_reported_and_cleaned_up(tmp_path, monkeypatch):
    """The real kubectl against a closed local port: the error names kubectl's own message,
    and close() stops the process and removes its log folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "bed", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    opts = BedOptions(backend="cluster", context="bed", kubeconfig=str(kubeconfig))
    bed = ClusterBackend(opts, QUIET)
    bed.kube = Kube.connect(str(kubeconfig), "bed")
    bed.controller = Controller(bed.kube, QUIET)
    with pytest.raises(SetupError, match=r"kubectl port-forward to the controller failed: .+"):
        bed._port_forward()
    assert list(tmp_path.glob("ingressbed-port-forward-*"))
    bed.close()
    assert not list(tmp_path.glob("ingressbed-port-forward-*"))
