"""Issue 24 item 14: reusing a cluster keeps the namespaces an earlier run kept on purpose
(``--keep``, ``ingressbed up``) and says so; only accidental leftovers go. Kubernetes is a
recorder of calls (nothing here claims a cluster ran)."""

from __future__ import annotations

from typing import Any, ClassVar

from ingressbed import k8s_manifests as km
from ingressbed.backends import kind
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.backends.kind import KindBackend
from ingressbed.options import BedOptions
from ingressbed.progress import Steps

KEPT = "ingressbed-kept1"
CRASHED = "ingressbed-crash2"


class _Namespaces:
    """Two bed namespaces: one labelled kept, one a crashed run left."""

    deleted: ClassVar[list[str]] = []

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str) -> _Namespaces:
        return cls()

    def namespaces(self, selector: str) -> list[str]:
        assert selector.startswith(f"{km.BED_LABEL}=true")
        if selector.endswith(f",!{km.KEPT_LABEL}"):
            return [CRASHED]
        if selector.endswith(f",{km.KEPT_LABEL}"):
            return [KEPT]
        return [KEPT, CRASHED]

    def delete_namespace(self, name: str, *, wait: float = 0.0) -> None:
        _Namespaces.deleted.append(name)

    def close(self) -> None:
        pass


def test_reuse_keeps_kept_namespaces_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    monkeypatch.setattr(kind, "Kube", _Namespaces)
    _Namespaces.deleted.clear()
    said: list[str] = []
    steps = Steps(quiet=True)
    steps.note = said.append  # type: ignore[method-assign]
    KindBackend(BedOptions(backend="kind"), steps)._remove_stale_namespaces()
    assert _Namespaces.deleted == [CRASHED]
    assert any(f"keeping namespace {KEPT}" in line for line in said)
    assert any(f"kubectl delete namespace {KEPT}" in line for line in said)


class _Recorder:
    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []
        self.deleted: list[str] = []

    def apply(self, obj: dict[str, Any]) -> None:
        self.applied.append(obj)

    def delete_namespace(self, name: str, *, wait: float = 0.0) -> None:
        self.deleted.append(name)

    def close(self) -> None:
        pass


def test_a_kept_namespace_is_labelled_as_kept_on_close():
    for keep, failed, kept in (("on-failure", True, True), ("on-failure", False, False)):
        bed = ClusterBackend(
            BedOptions(backend="cluster", context="c", keep=keep), Steps(quiet=True)
        )
        fake = _Recorder()
        bed.kube = fake  # type: ignore[assignment]
        bed._create_namespace()
        bed.failed = failed
        bed.close()
        labels = [obj["metadata"]["labels"] for obj in fake.applied]
        if kept:
            assert labels[-1][km.KEPT_LABEL] == "on-failure" and fake.deleted == []
        else:
            assert all(km.KEPT_LABEL not in one for one in labels)
            assert fake.deleted == [bed.namespace]
