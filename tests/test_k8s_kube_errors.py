"""Kube's error conversion, against a real kubeconfig and a closed local port.

No API server runs here; these tests only check that client errors enter the bed's error
tree with one line naming the problem. The success paths need a cluster (e2e on kind).
"""

from __future__ import annotations

import pytest
import yaml

from ingressbed.backends.kube import Kube, poll, settle
from ingressbed.errors import ConfigError, SetupError


def _kubeconfig(tmp_path, server="http://127.0.0.1:9"):
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "other",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "bed", "context": {"cluster": "c", "user": "u"}},
                    {"name": "other", "context": {"cluster": "c", "user": "u"}},
                ],
            }
        )
    )
    return str(path)


def test_an_unknown_context_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"context 'nope' is not in .*bed, other.*--context"):
        Kube.connect(_kubeconfig(tmp_path), "nope")


def test_a_missing_kubeconfig_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Kube.connect(str(tmp_path / "absent"), "bed")


def test_the_named_context_is_used_not_the_current_one(tmp_path):
    kube = Kube.connect(_kubeconfig(tmp_path), "bed")
    assert kube.context == "bed"
    kube.close()


def test_an_unreachable_api_server_is_one_setup_error_line(tmp_path):
    kube = Kube.connect(_kubeconfig(tmp_path), "bed")
    kube.api_client.configuration.retries = 0
    try:
        with pytest.raises(SetupError, match="listing namespaces: the API server did not answer"):
            kube.namespaces("x=y")
    finally:
        kube.close()


def test_poll_and_settle_name_what_they_waited_for():
    with pytest.raises(SetupError, match=r"waiting for the thing; last seen: nope"):
        poll(lambda: None, timeout=0.05, what="the thing", interval=0.01, detail=lambda: "nope")
    with pytest.raises(SetupError, match=r"waiting for peers; last seen: a; b"):
        settle(lambda: ["a", "b"], timeout=0.05, what="peers", interval=0.01)
    assert poll(lambda: 3, timeout=1, what="x") == 3
