"""Decisions of the kind and cluster backends that need no cluster (issue 11's points).

Each test feeds recorded or hand-made inputs to a pure function or to a backend whose
cluster calls are replaced by recorders; nothing here claims a cluster ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingressbed import ingress_keys
from ingressbed.backends import converge, docker_answers, ingress_nginx
from ingressbed.backends.bringup import BringUpStep
from ingressbed.backends.cluster import ClusterBackend
from ingressbed.backends.kind import (
    ABSENT,
    RUNNING,
    STOPPED,
    KindBackend,
    cluster_state,
    node_names,
    parse_docker_port,
)
from ingressbed.errors import SetupError, ToolError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.vocabulary import ANNOTATION_PREFIX, Address, IngressSpec, Route

QUIET = Steps(quiet=True)
P = ANNOTATION_PREFIX


def _spec(**annotations: str) -> IngressSpec:
    routes = (Route("/8080", 8080, "h"), Route("/9090", 9090, "h"))
    return IngressSpec("x", routes, {P + k.replace("_", "-"): v for k, v in annotations.items()})


# --- 1. the old hash key stays in force: when the bed makes balancers afresh --------------


def test_a_new_key_on_a_hashed_backend_needs_fresh_balancers():
    old = _spec(upstream_hash_by="$binary_remote_addr")
    new = _spec(upstream_hash_by="$request_uri")
    assert ingress_nginx.stale_balancer_ports(old, new) == [8080, 9090]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"upstream_hash_by": "$request_uri"}, {"upstream_hash_by": "$request_uri"}),
        ({}, {"upstream_hash_by": "$request_uri"}),  # round robin -> chash: new balancer
        ({"upstream_hash_by": "$request_uri"}, {}),  # chash -> round robin: new balancer
        ({"affinity": "cookie"}, {"upstream_hash_by": "$host"}),
    ],
)
def test_no_refresh_when_the_controller_replaces_the_balancer_itself(old, new):
    assert ingress_nginx.stale_balancer_ports(_spec(**old), _spec(**new)) == []


def test_subset_size_change_alone_needs_fresh_balancers_and_first_apply_never():
    base = {"upstream_hash_by": "$request_uri", "upstream_hash_by_subset": "true"}
    three = _spec(**base)
    two = _spec(**base, upstream_hash_by_subset_size="2")
    assert ingress_nginx.hash_config(three) == ("$request_uri", True, 3)
    assert ingress_nginx.stale_balancer_ports(three, two) == [8080, 9090]
    assert ingress_nginx.stale_balancer_ports(None, two) == []
    only_8080 = IngressSpec("x", (Route("/8080", 8080, "h"),), two.annotations)
    assert ingress_nginx.stale_balancer_ports(three, only_8080) == [8080]


def test_backend_names_of_dbg_list():
    text = "upstream-default-backend\nns-hellogo-8080\nns-hellogo-9090\n\n"
    assert ingress_nginx.parse_backend_names(text) == {
        "upstream-default-backend",
        "ns-hellogo-8080",
        "ns-hellogo-9090",
    }


# --- 2. backend_mismatches now covers affinity-mode and subset-size ------------------------


def _dbg(**fields: object) -> dict[str, object]:
    out: dict[str, object] = {
        "endpoints": [{"address": "10.0.0.1", "port": "8080"}],
        "sessionAffinityConfig": {"name": "", "mode": ""},
        "upstreamHashByConfig": {},
        "load-balance": "round_robin",
    }
    out.update(fields)
    return out


def test_affinity_mode_must_match():
    spec = _spec(affinity="cookie", affinity_mode="persistent")
    balanced = _dbg(sessionAffinityConfig={"name": "cookie", "mode": "balanced"})
    persistent = _dbg(sessionAffinityConfig={"name": "cookie", "mode": "persistent"})
    ips = {"10.0.0.1"}
    assert "affinity-mode 'balanced'" in ingress_nginx.backend_mismatches(
        balanced, spec, 8080, ips, "round_robin"
    )
    assert ingress_nginx.backend_mismatches(persistent, spec, 8080, ips, "round_robin") == []


def test_subset_size_must_match():
    spec = _spec(
        upstream_hash_by="$request_uri",
        upstream_hash_by_subset="true",
        upstream_hash_by_subset_size="2",
    )
    hashing = {
        "upstream-hash-by": "$request_uri",
        "upstream-hash-by-subset": True,
        "upstream-hash-by-subset-size": 3,
    }
    problems = ingress_nginx.backend_mismatches(
        _dbg(upstreamHashByConfig=hashing), spec, 8080, {"10.0.0.1"}, "round_robin"
    )
    assert problems == ["subset-size 3"]


# --- 8. the ConfigMap wait: only keys that change nginx.conf --------------------------------


def test_non_keys_are_gone_from_the_known_controller_keys():
    assert "real-ip-header" not in ingress_keys.KNOWN_CONTROLLER_KEYS
    assert "disable-access-log-for-health-checks" not in ingress_keys.KNOWN_CONTROLLER_KEYS


def test_config_changes_ignore_values_equal_to_the_default():
    live = {"use-forwarded-headers": "true", "worker-processes": "1"}
    same = {**live, "load-balance": "round_robin"}  # the default: nginx.conf unchanged
    assert ingress_keys.config_changes(live, same) == ([], [])
    ewma = {**live, "load-balance": "ewma"}
    assert ingress_keys.config_changes(live, ewma) == (["load-balance"], [])
    back = ingress_keys.config_changes(ewma, live)  # removing it goes back to the default
    assert back == (["load-balance"], [])
    workers = {**live, "worker-processes": "2"}
    assert ingress_keys.config_changes(live, workers) == (["worker-processes"], [])
    keepalive = {**live, "keep-alive": "75"}  # default not in the table
    assert ingress_keys.config_changes(live, keepalive) == ([], ["keep-alive"])


# --- 7. a failed bring-up keeps its diagnostics; kind logs once per session ---------------


def test_a_failed_bring_up_writes_diagnostics_even_with_keep_never(tmp_path, monkeypatch):
    opts = BedOptions(backend="cluster", context="c", keep="never", artifacts=tmp_path)
    bed = ClusterBackend(opts, QUIET)

    def boom() -> None:
        raise SetupError("the API server did not answer")

    written: list[Path] = []

    def diagnostics(dest: Path) -> list[Path]:
        dest.mkdir(parents=True)
        (dest / "x.txt").write_text("evidence")
        written.append(dest)
        return [dest / "x.txt"]

    monkeypatch.setattr(bed, "bring_up", lambda: [BringUpStep("Connecting", boom)])
    monkeypatch.setattr(bed, "diagnostics", diagnostics)
    with pytest.raises(SetupError, match="Connecting: the API server did not answer"):
        bed.start()
    assert bed.failed
    assert written == [tmp_path / f"bring-up-{bed.run_id}"]
    assert (written[0] / "x.txt").read_text() == "evidence"


def test_kind_logs_are_exported_once_per_session(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path / "cache"))
    bed = KindBackend(BedOptions(backend="kind"), QUIET)
    bed.kind = "kind"
    calls: list[tuple[str, ...]] = []

    def run_kind(*args: str, timeout: float = 600) -> str:
        calls.append(args)
        Path(args[2]).mkdir(parents=True)
        return ""

    monkeypatch.setattr(bed, "run_kind", run_kind)
    first = bed.diagnostics(tmp_path / "test-a")
    second = bed.diagnostics(tmp_path / "test-b")
    assert [c[:2] for c in calls] == [("export", "logs")]
    assert tmp_path / "test-a" / "kind-logs" in first
    assert (
        str(tmp_path / "test-a" / "kind-logs")
        in (tmp_path / "test-b" / "kind-logs.txt").read_text()
    )
    assert tmp_path / "test-b" / "kind-logs.txt" in second


# --- 11. a stopped cluster; the address from `docker port` ---------------------------------


@pytest.mark.parametrize(
    ("clusters", "nodes", "state"),
    [
        ("", "", ABSENT),
        ("other\n", "", ABSENT),
        ("ingressbed\n", "ingressbed-control-plane\trunning\n", RUNNING),
        ("ingressbed\n", "ingressbed-control-plane\texited\n", STOPPED),
        (
            "ingressbed\nx\n",
            "ingressbed-control-plane\trunning\ningressbed-worker\texited",
            STOPPED,
        ),
        ("ingressbed\n", "", ABSENT),  # kind lists it, but no node container is left
    ],
)
def test_cluster_state(clusters, nodes, state):
    assert cluster_state(clusters, "ingressbed", nodes) == state


def test_node_names_and_docker_port():
    assert node_names("a\trunning\nb\texited\n") == ["a", "b"]
    assert parse_docker_port("127.0.0.1:38117\n") == Address("127.0.0.1", 38117)
    assert parse_docker_port("[::1]:38117\n0.0.0.0:4000\n") == Address("127.0.0.1", 4000)
    assert parse_docker_port("") is None


def test_a_stopped_cluster_is_restarted_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    lines: list[str] = []

    class Recorder:
        def write(self, text: str, /) -> int:
            lines.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    bed = KindBackend(BedOptions(backend="kind"), Steps(Recorder()))
    done: list[str] = []
    monkeypatch.setattr(bed, "run_kind", lambda *a, **k: "ingressbed\n")

    class Docker:
        def run(self, args, **kwargs):
            return "ingressbed-control-plane\texited\n"

    bed.docker = Docker()  # type: ignore[assignment]
    monkeypatch.setattr(bed, "_restart", lambda names, paused: done.append(f"restart {names}"))
    monkeypatch.setattr(bed, "_reuse", lambda: done.append("reuse"))
    monkeypatch.setattr(bed, "_create", lambda: done.append("create"))
    bed._ensure_cluster()
    assert done == ["restart ['ingressbed-control-plane']", "reuse"]
    assert any("is stopped" in line and "starting them again" in line for line in lines)


# --- 9, 10. hellogo build and kind errors are one line; steps time out on their own --------


@pytest.mark.slow
def test_kind_failures_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    fake = tmp_path / "kind"
    fake.write_text(
        "#!/bin/sh\necho 'Creating cluster ...' >&2\n"
        "echo 'ERROR: failed to create cluster: node(s) already exist for a cluster with the "
        'name "ingressbed"\' >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    bed = KindBackend(BedOptions(backend="kind"), QUIET)
    bed.kind = str(fake)
    with pytest.raises(ToolError) as err:
        bed.run_kind("create", "cluster", "--name", "ingressbed")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("kind create cluster failed: ERROR: failed to create cluster")


def test_the_bring_up_times_the_pull_apart_from_the_create(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    bed = KindBackend(BedOptions(backend="kind"), QUIET)
    titles = [s.title for s in bed.bring_up()]
    pull = next(i for i, t in enumerate(titles) if t.startswith("Pulling node image"))
    create = titles.index('Ensuring cluster "ingressbed"')
    assert pull < create
    assert titles.index("Checking Docker") == 0 and titles.index("Ensuring kind") == 1


def test_the_bring_up_warns_when_the_node_image_is_newer_than_the_controller_supports(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    from ingressbed import tools

    newest = tools.Lock.load().node_image  # the default 1.36 image, newer than 1.11.8 supports
    old = KindBackend(
        BedOptions(backend="kind", controller_version="v1.11.8", node_image=newest), QUIET
    )
    pull = next(s for s in old.bring_up() if s.title.startswith("Pulling node image"))
    assert "supports Kubernetes up to 1.30" in pull.detail
    pinned = KindBackend(BedOptions(backend="kind", controller_version="v1.11.8"), QUIET)
    pull = next(s for s in pinned.bring_up() if s.title.startswith("Pulling node image"))
    assert "supports" not in pull.detail and "v1.30." in pull.title
    new = KindBackend(BedOptions(backend="kind"), QUIET)
    pull = next(s for s in new.bring_up() if s.title.startswith("Pulling node image"))
    assert "supports" not in pull.detail and "v1.35." in pull.title


# --- issue 9: `--backend auto` reports the Docker error in one short line -----------------


@pytest.mark.slow
def test_auto_reports_a_missing_daemon_in_one_short_line(tmp_path, monkeypatch):
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\necho 'Client:\n Version: 27.5.1\n' \necho 'Cannot connect to the Docker "
        "daemon at unix:///nowhere.sock. Is the docker daemon running?' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nowhere.sock")
    ok, why = docker_answers()
    assert not ok and "\n" not in why and len(why) <= 120
    assert why.startswith("no Docker daemon answers at unix:///nowhere.sock")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    ok, why = docker_answers()
    assert not ok and why == "the docker CLI is not installed (kind drives Docker through it)"


def test_converge_is_wired_to_every_cluster_operation():
    # The traffic check is the same module the local backend uses (tests/test_converge.py).
    import inspect

    from ingressbed.backends import cluster

    source = inspect.getsource(cluster.ClusterBackend)
    assert source.count("self._converge(") == 3  # apply, scale, kill
    assert "converge.converge(" in source and converge.DEFAULT_KEYS >= 8


class _FakeKube:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def scale(self, ns: str, name: str, replicas: int) -> None:
        self.log.append(f"scale {replicas}")

    def wait_deployment(self, ns: str, name: str, timeout: float) -> None:
        pass

    def ingresses(self) -> list[dict[str, object]]:
        return []

    def apply(self, obj: dict[str, object]) -> None:
        self.log.append(f"apply {obj['kind']}")

    def delete(self, obj: dict[str, object]) -> None:
        self.log.append(f"delete {obj['kind']}")


class _FakeController:
    version = "v1.15.1"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def apply_keys(self, keys: object, backend_name: str) -> None:
        pass

    def wait_backends_gone(self, names: set[str]) -> None:
        self.log.append(f"gone {sorted(names)}")


def test_the_bed_remakes_balancers_after_a_key_change_even_after_a_plain_apply(monkeypatch):
    from ingressbed import layouts

    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    log: list[str] = []
    bed.kube = _FakeKube(log)  # type: ignore[assignment]
    bed.controller = _FakeController(log)  # type: ignore[assignment]
    monkeypatch.setattr(bed, "_wait_served", lambda setup: None)
    monkeypatch.setattr(bed, "_replicas", lambda: 6)
    ns = bed.namespace
    first = layouts.setup("one-port", {"upstream-hash-by": "$binary_remote_addr"})
    second = layouts.setup("one-port", {"upstream-hash-by": "$request_uri"})

    bed._apply(first, fresh_balancers=True)
    assert log == ["scale 6", "apply Ingress"]
    log.clear()
    bed.apply_keeping_balancers(second)  # kubectl-like: the old balancer stays
    assert log == ["apply Ingress"]
    log.clear()
    bed._apply(second, fresh_balancers=True)  # same setup again, but the balancer is stale
    assert log == ["delete Ingress", f"gone ['{ns}-hellogo-8080']", "apply Ingress"]
    log.clear()
    bed._apply(second, fresh_balancers=True)  # now fresh: nothing to remake
    assert log == ["apply Ingress"]


@pytest.mark.slow
def test_a_hellogo_build_failure_is_one_line_from_buildkit_output(tmp_path, monkeypatch):
    from ingressbed.docker_env import DockerCLI, DockerEndpoint

    monkeypatch.setenv("INGRESSBED_CACHE", str(tmp_path))
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = image ]; then echo "Error: No such image: $3" >&2; exit 1; fi\n'
        'if [ "$1" = buildx ]; then echo "github.com/docker/buildx v0.19.3"; exit 0; fi\n'
        'if [ "$1" = build ] && [ "$DOCKER_BUILDKIT" = 1 ]; then\n'
        "  echo '#5 [2/6] RUN pip install --no-cache-dir websockets' >&2\n"
        "  echo '#5 ERROR: process \"/bin/sh -c pip install\" did not complete successfully' >&2\n"
        "  echo 'ERROR: failed to solve: process did not complete successfully: exit code: 1' >&2\n"
        "  exit 1\n"
        "fi\n"
        "exit 3\n"
    )
    fake.chmod(0o755)
    bed = KindBackend(BedOptions(backend="kind"), QUIET)
    bed.docker = DockerCLI(DockerEndpoint("unix:///d.sock", "DOCKER_HOST"), str(fake))
    with pytest.raises(ToolError) as err:
        bed._build_hellogo()
    message = str(err.value)
    assert "\n" not in message
    assert message == (
        "docker build of hellogo failed at unix:///d.sock (from DOCKER_HOST): ERROR: failed to "
        "solve: process did not complete successfully: exit code: 1"
    )


# --- slow pods (Setup.slow_pods): a second Deployment, only normal pods scale ------------


class _SlowKube:
    """Records what the cluster backend asks of Kubernetes for slow pods."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.slow_alive = True

    def apply(self, obj):
        self.calls.append(("apply", obj["metadata"]["name"], obj["spec"]["replicas"]))

    def delete(self, obj):
        self.calls.append(("delete", obj["metadata"]["name"], 0))
        self.slow_alive = False

    def wait_deployment(self, ns, name, timeout):
        self.calls.append(("wait", name, 0))

    def scale(self, ns, name, replicas):
        self.calls.append(("scale", name, replicas))

    def pods(self, ns, selector):
        assert selector.endswith("ingressbed.dev/variant=slow")
        return [object()] if self.slow_alive else []


def _slow_bed(monkeypatch):
    from ingressbed import layouts

    monkeypatch.setenv("INGRESSBED_HELLOGO_IMAGE", "r/hellogo@sha256:" + "a" * 64)
    bed = ClusterBackend(BedOptions(backend="cluster", context="c"), QUIET)
    bed.kube = _SlowKube()  # type: ignore[assignment]
    return bed, layouts.setup("one-port", replicas=6)


def test_slow_pods_run_as_their_own_deployment_and_go_when_the_setup_drops_them(monkeypatch):
    import dataclasses

    bed, plain = _slow_bed(monkeypatch)
    slow = dataclasses.replace(plain, slow_pods=1, slow_ms=200)
    bed._slow_pods(slow)
    assert bed.kube.calls == [("apply", "hellogo-slow", 1), ("wait", "hellogo-slow", 0)]
    bed.setup = slow
    bed.kube.calls.clear()
    bed._slow_pods(slow)  # unchanged: nothing to do
    assert bed.kube.calls == []
    bed._slow_pods(plain)
    assert bed.kube.calls == [("delete", "hellogo-slow", 0)]


def test_scaling_adds_or_removes_normal_pods_only(monkeypatch):
    import dataclasses

    bed, plain = _slow_bed(monkeypatch)
    bed.setup = dataclasses.replace(plain, slow_pods=2, slow_ms=200)
    with pytest.raises(Exception, match="cannot scale to 1: 2 slow pod"):
        bed.scale(1)


def test_an_api_server_that_does_not_answer_is_one_line_at_start_up(tmp_path):
    """A real refused connection: the kubeconfig parses, the context exists, nobody listens."""
    import socket

    from ingressbed.backends.kube import Kube

    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: ctx, context: {cluster: c, user: u}}]\n"
    )
    kube = Kube.connect(str(kubeconfig), "ctx")
    try:
        with pytest.raises(SetupError) as info:
            ClusterBackend._check_api_server(kube)
    finally:
        kube.close()
    message = str(info.value)
    assert "\n" not in message and f"127.0.0.1:{port}" in message, message


def test_a_bring_up_that_fails_before_there_is_anything_to_collect_leaves_no_folder(tmp_path):
    artifacts = tmp_path / "reports"
    opts = BedOptions(backend="cluster", context="c", keep="never", artifacts=artifacts)
    bed = ClusterBackend(opts, QUIET)

    def boom() -> None:
        raise SetupError("kubeconfig has no context c")

    bed.bring_up = lambda: [BringUpStep("Connecting", boom)]  # fails before any cluster call
    with pytest.raises(SetupError, match="Connecting: kubeconfig has no context c"):
        bed.start()
    assert bed.failed
    assert not artifacts.exists(), sorted(str(p) for p in artifacts.rglob("*"))
