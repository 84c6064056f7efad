"""The version lock and pinned downloads (ingressbed/tools.py): no network needed.

Downloads are exercised with file:// URLs (urllib's real code path) and with a refused
local port; the wrong-checksum and missing-checksum cases must be hard errors.
"""

from __future__ import annotations

import hashlib
import re
import stat

import pytest

from ingressbed import tools
from ingressbed.errors import ConfigError, ToolError

HEX64 = re.compile(r"^[0-9a-f]{64}$")
PLATFORMS = ("linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64")


@pytest.fixture
def lock():
    return tools.Lock.load()


def test_tools_are_pinned_for_every_platform(lock):
    assert lock.tool_version("kind") == "v0.32.0"
    for name in ("kind", "kubectl"):
        for key in PLATFORMS:
            pinned = lock.tool(name, key)
            assert HEX64.match(pinned.sha256), (name, key)
            assert pinned.url.startswith("https://")
            assert lock.tool_version(name) in pinned.url
            assert "published" in pinned.source
    assert lock.tool("kind", "linux/amd64").url.endswith("/v0.32.0/kind-linux-amd64")


def test_controller_releases_are_pinned(lock):
    assert lock.matrix[0] == "v1.15.1"
    assert set(lock.matrix) <= set(lock.controller_versions)
    assert any(tools.version_tuple(v) < (1, 13) for v in lock.matrix)  # the older line
    for version in lock.controller_versions:
        rel = lock.controller(version)
        for flavor in ("kind", "cloud"):
            m = rel.manifests[flavor]
            assert HEX64.match(m.sha256)
            assert f"controller-{version}/deploy/static/provider/{flavor}/deploy.yaml" in m.url
        for image in rel.images.values():
            assert re.search(r"@sha256:[0-9a-f]{64}$", image)
    facts = lock.controller("1.15.1").images["controller"]
    assert facts.endswith("594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1")
    assert lock.node_image.endswith(
        "3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
    )


def test_versions_normalize_and_unknown_ones_are_refused(lock):
    assert tools.normalize_version("controller-v1.15.1") == "v1.15.1"
    assert tools.normalize_version("1.11.8") == "v1.11.8"
    assert tools.version_tuple("v0.25.0") < (0, 33)
    assert lock.controller("controller-v1.15.1").version == "v1.15.1"
    with pytest.raises(ConfigError, match=r"v1\.99\.0 is not in lock.yaml.*v1\.15\.1"):
        lock.controller("1.99.0")


def test_platform_key():
    assert tools.platform_key("Linux", "x86_64") == "linux/amd64"
    assert tools.platform_key("Darwin", "arm64") == "darwin/arm64"
    assert tools.platform_key("Linux", "aarch64") == "linux/arm64"


def _pinned(tmp_path, content: bytes, sha: str | None = None):
    src = tmp_path / "upstream.bin"
    src.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest() if sha is None else sha
    return tools.Pinned("thing-v1", src.as_uri(), digest)


def test_download_verifies_and_reuses(tmp_path):
    pinned = _pinned(tmp_path, b"#!/bin/sh\necho hi\n")
    dest = tmp_path / "cache" / "bin" / "thing-v1"
    assert tools.download(pinned, dest, executable=True) == dest
    assert dest.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert dest.stat().st_mode & stat.S_IXUSR
    (tmp_path / "upstream.bin").unlink()
    assert tools.download(pinned, dest) == dest  # cached: verified, not fetched


def test_a_wrong_checksum_is_an_error_and_leaves_nothing(tmp_path):
    pinned = _pinned(tmp_path, b"evil", sha="0" * 64)
    dest = tmp_path / "cache" / "thing-v1"
    with pytest.raises(ToolError, match=r"pins 0{64} for thing-v1"):
        tools.download(pinned, dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_a_tampered_cached_file_is_an_error(tmp_path):
    pinned = _pinned(tmp_path, b"good")
    dest = tmp_path / "thing-v1"
    dest.write_bytes(b"bad")
    with pytest.raises(ToolError, match="delete the file and retry"):
        tools.download(pinned, dest)


def test_an_empty_checksum_is_an_error_before_any_download(tmp_path):
    pinned = tools.Pinned("thing-v1", "http://127.0.0.1:9/never", "")
    with pytest.raises(ToolError, match="the lock needs a checksum"):
        tools.download(pinned, tmp_path / "thing-v1")


def test_a_failed_download_says_what_where_and_what_to_do(tmp_path):
    pinned = tools.Pinned("kind-v0.32.0", "http://127.0.0.1:9/kind", "a" * 64)
    with pytest.raises(ToolError) as err:
        tools.download(pinned, tmp_path / "kind-v0.32.0")
    msg = str(err.value)
    assert "\n" not in msg
    assert "could not download kind-v0.32.0 from http://127.0.0.1:9/kind" in msg
    assert "put the file at" in msg


def test_find_tool_prefers_path(tmp_path, monkeypatch):
    exe = tmp_path / "kind"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tools.find_tool("kind") == exe


def test_pinned_tools_skip_path(tmp_path, monkeypatch):
    exe = tmp_path / "kind"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("INGRESSBED_PINNED_TOOLS", "1")
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ToolError, match="kind is not on PATH"):
        tools.find_tool("kind", fetch=False)


def test_find_tool_without_fetch_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ToolError, match=r"kind is not on PATH.*install kind v0\.32\.0"):
        tools.find_tool("kind", fetch=False)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("kind v0.32.0 go1.24.4 linux/amd64\n", (0, 32, 0)),
        ("kind version v0.31.0 (default image kindest/node:v1.35.0@sha256:4)", (0, 31, 0)),
        ("kind v0.33.0-alpha+abc go1.25 darwin/arm64", (0, 33, 0)),
        ("command not found", None),
    ],
)
def test_kind_version_parsing(text, want):
    assert tools.parse_kind_version(text) == want


def test_an_older_kind_on_path_is_passed_over_for_the_pinned_one():
    assert tools.kind_on_path_usable("kind v0.32.0 go1.24 linux/amd64", "v0.32.0")[0]
    assert tools.kind_on_path_usable("kind v0.33.1 go1.25 linux/amd64", "v0.32.0")[0]
    usable, why = tools.kind_on_path_usable("kind v0.29.0 go1.24 linux/amd64", "v0.32.0")
    assert not usable and why == "kind v0.29.0 on PATH is older than the pinned v0.32.0"
    usable, why = tools.kind_on_path_usable("", "v0.32.0")
    assert not usable and "printed no version" in why


@pytest.mark.slow
def test_find_kind_falls_back_to_the_pinned_download_and_says_so(tmp_path, monkeypatch):
    old = tmp_path / "bin" / "kind"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'kind v0.27.0 go1.23 linux/amd64'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", str(old.parent))
    monkeypatch.delenv("INGRESSBED_PINNED_TOOLS", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("INGRESSBED_CACHE", str(cache))
    payload = b"pretend kind binary"
    lock = tools.Lock.load()
    entry = lock.data["tools"]["kind"]
    entry["url"] = "file://" + str(tmp_path) + "/kind-{os}-{arch}"
    (tmp_path / f"kind-{tools.platform_key().replace('/', '-')}").write_bytes(payload)
    entry["sha256"] = {tools.platform_key(): hashlib.sha256(payload).hexdigest()}
    notes: list[str] = []
    got = tools.find_kind(lock, notes.append)
    assert got == cache / "bin" / "kind-v0.32.0" and got.read_bytes() == payload
    assert notes == [
        "  kind v0.27.0 on PATH is older than the pinned v0.32.0; using the pinned, "
        "checksummed kind v0.32.0"
    ]


def test_node_image_per_controller_release_and_support_warning():
    lock = tools.Lock.load()
    assert lock.node_image_for("v1.15.1").startswith("kindest/node:v1.35.")
    assert "@sha256:" in lock.node_image_for("v1.15.1")
    assert lock.node_image_for("v1.11.8").startswith("kindest/node:v1.30.")
    assert lock.node_image_note("v1.15.1", lock.node_image_for("v1.15.1")) == ""
    assert lock.node_image_note("v1.11.8", lock.node_image_for("v1.11.8")) == ""
    assert "up to 1.35" in lock.node_image_note("v1.15.1", lock.node_image)
    assert "up to 1.30" in lock.node_image_note("v1.11.8", lock.node_image)


def test_controller_manifest_from_a_local_mirror_is_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    release = tools.Lock.load().controller("v1.15.1")
    mirror = tmp_path / "mirror"
    path = tools.mirror_path(release, "kind", mirror)
    path.parent.mkdir(parents=True)
    path.write_text("not the pinned file\n")
    with pytest.raises(ToolError, match="sha256"):
        tools.controller_manifest(release, "kind", fetch=False, mirror=mirror)
    with pytest.raises(ToolError, match=tools.UPSTREAM_MIRROR_ENV):
        tools.controller_manifest(release, "cloud", fetch=False, mirror=mirror)
