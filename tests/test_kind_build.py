"""Issue 24 items 3 and 4: hellogo is built without BuildKit where the docker CLI has no
buildx plugin (a fake docker CLI recording its calls; no daemon), and the node images are
the ones kind published, shown by ``ingressbed up --backend kind --dry-run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingressbed.backends import kind_build
from ingressbed.backends.kind import KindBackend
from ingressbed.cli import main
from ingressbed.docker_env import DockerCLI, DockerEndpoint
from ingressbed.errors import ToolError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.tools import Lock

NODE_135 = (
    "kindest/node:v1.35.5@sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95"
)
NODE_130 = (
    "kindest/node:v1.30.13@sha256:397209b3d947d154f6641f2d0ce8d473732bd91c87d9575ade99049aa33cd648"
)


def test_the_node_images_are_the_published_builds():
    lock = Lock.load()
    assert lock.node_image_for("v1.15.1") == NODE_135  # kind v0.32.0's own 1.35 build
    assert lock.node_image_for("v1.11.8") == NODE_130  # kind v0.29.0's, the newest 1.30


@pytest.mark.slow
@pytest.mark.parametrize("buildx", [False, True])
def test_hellogo_builds_without_buildkit_when_buildx_is_missing(tmp_path, buildx):
    calls = tmp_path / "calls"
    answer = (
        'echo "github.com/docker/buildx v0.19.3"; exit 0'
        if buildx
        else ("echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1")
    )
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "BUILDKIT=$DOCKER_BUILDKIT $*" >> {calls}\n'
        'if [ "$1" = image ]; then echo "Error: No such image: $3" >&2; exit 1; fi\n'
        f'if [ "$1" = buildx ]; then {answer}; fi\n'
        "exit 0\n"
    )
    fake.chmod(0o755)
    said: list[str] = []
    steps = Steps(quiet=True)
    steps.note = said.append  # type: ignore[method-assign]
    bed = KindBackend(BedOptions(backend="kind"), steps)
    bed.docker = DockerCLI(DockerEndpoint("unix:///d.sock", "DOCKER_HOST"), str(fake))
    bed._build_hellogo()
    build = calls.read_text().splitlines()[-1]
    if buildx:
        assert build.startswith("BUILDKIT=1 build --provenance=false --tag ingressbed/hellogo:")
        assert said == []
    else:
        assert build.startswith("BUILDKIT=0 build --tag ingressbed/hellogo:")
        assert said == [f"  {kind_build.NO_BUILDX}"]


def test_the_dry_run_shows_the_node_image_and_the_build_without_buildx(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "plan"
    assert main(["up", "--backend", "kind", "--dry-run", "--output", str(out), "-q"]) == 0
    capsys.readouterr()
    script = (out / "commands.sh").read_text()
    plan = (out / "plan.txt").read_text()
    assert f"docker pull {NODE_135}" in script
    assert "if docker buildx version >/dev/null 2>&1; then DOCKER_BUILDKIT=1 docker build" in script
    assert "DOCKER_BUILDKIT=0 docker build --tag ingressbed/hellogo:" in script
    assert "without buildx (the legacy builder, said in one line): DOCKER_BUILDKIT=0" in plan
    old = ["up", "--backend", "kind", "--dry-run", "--output", str(tmp_path / "old"), "-q"]
    assert main([*old, "--controller-version", "v1.11.8"]) == 0
    assert f"docker pull {NODE_130}" in (tmp_path / "old" / "commands.sh").read_text()


class _Docker:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def info(self) -> dict[str, str]:
        return {"Architecture": "aarch64"}

    def run(self, args: list[str], **kwargs: object) -> str:
        self.calls.append(args)
        return ""


def test_a_failed_kind_load_falls_back_to_a_native_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    bed = KindBackend(BedOptions(backend="kind"), Steps(quiet=True))
    docker = _Docker()
    bed.docker = docker  # type: ignore[assignment]
    loads: list[tuple[str, ...]] = []

    def run_kind(*args: str, timeout: float = 600) -> str:
        loads.append(args)
        if args[1] == "docker-image":  # kind's answer on Docker's containerd image store
            raise ToolError(
                'kind load failed: ERROR: failed to load image: command "docker exec '
                "--privileged -i ingressbed-control-plane ctr --namespace=k8s.io images import "
                '--all-platforms --digests --snapshotter=overlayfs -" failed with error: exit '
                "status 1"
            )
        return ""

    monkeypatch.setattr(bed, "run_kind", run_kind)
    bed._load_hellogo()
    (save,) = docker.calls
    assert save[:3] == ["save", "--platform", "linux/arm64"]
    archive = save[save.index("--output") + 1]
    assert [a[:3] for a in loads] == [
        ("load", "docker-image", loads[0][2]),
        ("load", "image-archive", archive),
    ]
    assert not Path(archive).parent.exists()  # the archive's folder went with it


#: What dockerd 20.10.24 (Debian 12's docker.io, API 1.41) answered to ``docker save
#: --platform``, behind its own CLI and behind CLI 28.2.2 (stderr, exit status).
OLD_DAEMON_SAYS = {
    "cli-20.10": ("unknown flag: --platform\nSee 'docker save --help'.\n", 125),
    "cli-28.2": (
        '"--platform" requires API version 1.48, but the Docker daemon API version is 1.41\n',
        1,
    ),
}


def _docker_cli(tmp_path: Path, said: str, status: int) -> DockerCLI:
    """The real ``DockerCLI`` on a script answering as a daemon before API 1.48 does."""
    (tmp_path / "said").write_text(said)
    script = tmp_path / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {tmp_path}/calls\n'
        'case "$1" in info) echo \'{"Architecture": "x86_64"}\'; exit 0;; esac\n'
        f'case "$*" in *--platform*) cat {tmp_path}/said >&2; exit {status};; esac\n'
        'while [ "$1" != "--output" ]; do shift; done; echo archive > "$2"\n'
    )
    script.chmod(0o755)
    return DockerCLI(
        DockerEndpoint("unix:///var/run/docker.sock", "the default context"), str(script)
    )


@pytest.mark.slow  # runs a script as the docker CLI
@pytest.mark.parametrize("cli", sorted(OLD_DAEMON_SAYS))
def test_a_daemon_that_cannot_save_one_platform_saves_the_image_as_it_is(
    tmp_path, monkeypatch, cli
):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    notes: list[str] = []
    steps = Steps(quiet=True)
    monkeypatch.setattr(steps, "note", notes.append)
    bed = KindBackend(BedOptions(backend="kind"), steps)
    bed.docker = _docker_cli(tmp_path, *OLD_DAEMON_SAYS[cli])
    archives: list[str] = []

    def run_kind(*args: str, timeout: float = 600) -> str:
        if args[1] == "docker-image":
            raise ToolError("kind load failed: ERROR: failed to load image")
        archives.append(Path(args[2]).read_text())
        return ""

    monkeypatch.setattr(bed, "run_kind", run_kind)
    bed._load_hellogo()
    calls = (tmp_path / "calls").read_text().splitlines()
    saves = [c.split()[:2] for c in calls if c.startswith("save")]
    assert saves == [["save", "--platform"], ["save", "--output"]]
    assert archives == ["archive\n"]  # what the plain save wrote, loaded by kind
    assert any("cannot save one platform" in n for n in notes), notes


@pytest.mark.slow  # runs a script as the docker CLI
def test_any_other_failed_save_ends_the_load_with_the_tools_own_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    bed = KindBackend(BedOptions(backend="kind"), Steps(quiet=True))
    bed.docker = _docker_cli(tmp_path, "Error response from daemon: no space left on device\n", 1)

    def run_kind(*args: str, timeout: float = 600) -> str:
        raise ToolError("kind load failed")

    monkeypatch.setattr(bed, "run_kind", run_kind)
    with pytest.raises(ToolError, match=r"docker save of hellogo failed .*: Error .*device$"):
        bed._load_hellogo()
    saves = [c for c in (tmp_path / "calls").read_text().splitlines() if c.startswith("save")]
    assert len(saves) == 1 and "--platform" in saves[0]  # not asked again without it


def test_a_usage_error_is_told_by_its_own_line_not_by_the_help_hint():
    from ingressbed.docker_env import one_line

    assert one_line("unknown flag: --platform\nSee 'docker save --help'.\n") == (
        "unknown flag: --platform"
    )
    assert one_line("See 'docker --help'.") == "See 'docker --help'."  # nothing else to say
