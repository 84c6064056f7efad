"""Issue 24 item 11: a failed ``kind create`` leaves its nodes for the logs, then goes.
``kind`` is a recorder of calls (nothing here claims kind ran)."""

from __future__ import annotations

import pytest

from ingressbed.backends.kind import KindBackend
from ingressbed.errors import ToolError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps


def test_a_failed_create_is_retained_for_its_logs_then_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    bed = KindBackend(BedOptions(backend="kind", artifacts=tmp_path / "reports"), Steps(quiet=True))
    bed.kind = "kind"
    calls: list[tuple[str, ...]] = []

    def run_kind(*args: str, timeout: float = 600) -> str:
        calls.append(args)
        if args[0] == "create":
            raise ToolError("kind create cluster failed: failed to init node with kubeadm")
        if args[:2] == ("export", "logs"):
            (tmp_path / "exported").mkdir()
        return ""

    monkeypatch.setattr(bed, "run_kind", run_kind)
    monkeypatch.setattr(bed, "bring_up", lambda: [_step("Ensuring cluster", bed._create)])
    with pytest.raises(ToolError, match="kubeadm"):
        bed.start()
    bed.close()
    verbs = [c[:2] for c in calls]
    assert verbs == [("create", "cluster"), ("export", "logs"), ("delete", "cluster")]
    assert "--retain" in calls[0]


def _step(title, action):
    from ingressbed.backends.bringup import BringUpStep

    return BringUpStep(title, action)
