"""Start-up checks: kubeconfig, context, API server (pure functions over recorded inputs)
and the artifacts folder."""

from __future__ import annotations

import os
import re
import socket
import ssl
from pathlib import Path

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ingressbed import artifacts
from ingressbed.errors import ConfigError, SetupError
from ingressbed.preflight import (
    check_api_server,
    explain_api_failure,
    find_context,
    kubeconfig_paths,
    missing_kubeconfig,
    parse_kubeconfig,
)

KIND = """
apiVersion: v1
kind: Config
current-context: kind-ingressbed
clusters:
- name: kind-ingressbed
  cluster: {server: "https://127.0.0.1:40123", certificate-authority-data: AAAA}
- name: broken
  cluster: {server: "127.0.0.1:6443"}
contexts:
- name: kind-ingressbed
  context: {cluster: kind-ingressbed, user: kind-ingressbed, namespace: web}
- name: dangling
  context: {cluster: gone, user: u}
- name: bad-server
  context: {cluster: broken, user: u}
users:
- name: kind-ingressbed
  user: {token: x}
"""


def test_a_good_context_resolves_to_its_server():
    config = parse_kubeconfig(KIND, "kc.yaml")
    ctx = find_context(config, "kind-ingressbed", "kc.yaml")
    assert (ctx.server, ctx.user, ctx.namespace) == (
        "https://127.0.0.1:40123",
        "kind-ingressbed",
        "web",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clusters: [\n", r"^kubeconfig kc.yaml is not valid YAML at line 2: .*--kubeconfig$"),
        ("- a\n- b\n", r"^kubeconfig kc.yaml is not a kubeconfig \(expected a mapping"),
        ("kind: Pod\n", r"^kubeconfig kc.yaml has kind 'Pod', not Config"),
        ("contexts: {a: b}\n", r"^kubeconfig kc.yaml: contexts must be a list of entries"),
        ("users:\n- {user: {}}\n", r"users must be a list of entries with a name"),
    ],
    ids=["unbalanced", "list", "kind", "contexts-map", "nameless-user"],
)
def test_a_malformed_kubeconfig_is_one_line(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_kubeconfig(text, "kc.yaml")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (None, r"^no context named: pass --context NAME \(contexts in kc.yaml: bad-server, "),
        ("prod", r"^context 'prod' is not in kc.yaml \(it has: bad-server, dangling, kind-"),
        ("dangling", r"^context 'dangling' names cluster 'gone', which kc.yaml does not define"),
        ("bad-server", r"^cluster 'broken' in kc.yaml has no usable server URL \(got '127"),
    ],
)
def test_a_missing_or_broken_context_is_one_line(name, message):
    with pytest.raises(ConfigError, match=message):
        find_context(parse_kubeconfig(KIND, "kc.yaml"), name, "kc.yaml")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_real_refused_connection_is_explained():
    """Recorded live: the kubernetes client's error against a port nobody listens on."""
    server = f"https://127.0.0.1:{closed_port()}"
    configuration = client.Configuration()
    configuration.host = server
    configuration.retries = 0
    api = client.ApiClient(configuration)
    with pytest.raises(SetupError, match=r"^nothing listens at https://127.0.0.1:\d+ \(conn"):
        check_api_server(server, lambda: client.VersionApi(api).get_code(_request_timeout=5))


def pool_error(reason: Exception) -> urllib3.exceptions.MaxRetryError:
    return urllib3.exceptions.MaxRetryError(None, "/version/", reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ({"status": 200}, None),
        ({"error": ApiException(status=401, reason="Unauthorized")}, r"credentials \(401\)"),
        ({"error": ApiException(status=403, reason="Forbidden")}, r"403 \(forbidden\)"),
        ({"status": 503}, r"answered HTTP 503"),
        ({"error": pool_error(socket.gaierror(-2, "Name or service not known"))}, "resolve"),
        ({"error": pool_error(ssl.SSLError(1, "CERTIFICATE_VERIFY_FAILED"))}, r"^TLS with"),
        ({"error": pool_error(TimeoutError("timed out"))}, "did not answer in time"),
        ({"error": RuntimeError("odd\nsecond line")}, r"did not answer: odd$"),
    ],
    ids=["ok", "401", "403", "503", "dns", "tls", "timeout", "other"],
)
def test_api_outcomes_are_one_line_each(outcome, message):
    said = explain_api_failure("https://api:6443", **outcome)
    if message is None:
        assert said is None
    else:
        assert said is not None and "\n" not in said
        assert re.search(message, said), said


def test_artifacts_check_names_the_folder_and_leaves_nothing(tmp_path):
    target = tmp_path / "new" / "reports"
    artifacts.check_writable(target)
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    artifacts.check_writable(tmp_path / "kept")
    assert list((tmp_path / "kept").iterdir()) == []  # the probe is gone, the folder stays
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"is a file, not a folder"):
        artifacts.check_writable(tmp_path / "file" / "reports")
    # /proc passes the permission bits for root, yet nothing can be created there
    with pytest.raises(ConfigError) as caught:
        artifacts.check_writable(Path("/proc/nope"))
    assert str(caught.value) == (
        "--artifacts /proc/nope: cannot create folders in it (No such file or directory); "
        "choose another artifacts folder"
    )
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.geteuid() != 0:  # root writes anywhere; /proc above stands in for it
            with pytest.raises(ConfigError, match=r"cannot create folders in it"):
                artifacts.check_writable(locked / "reports")
    finally:
        locked.chmod(0o700)


def test_kubeconfig_paths_follow_kubectls_precedence():
    assert kubeconfig_paths("/x/kc", {"KUBECONFIG": "/a:/b"}, "/home/u") == ["/x/kc"]
    assert kubeconfig_paths(None, {"KUBECONFIG": ":/a::/b"}, "/home/u") == ["/a", "/b"]
    assert kubeconfig_paths(None, {}, "/home/u/") == ["/home/u/.kube/config"]
    assert str(missing_kubeconfig(["/a"])) == (
        "no kubeconfig at /a: pass --kubeconfig FILE or set KUBECONFIG"
    )
