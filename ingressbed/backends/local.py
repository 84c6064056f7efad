"""The ``local`` backend: plain nginx from the OS in front of hellogo processes.

No Docker, no cluster: each pod is a hellogo process on its own loopback address of the
run's block, and nginx (from PATH) is the data plane, configured from the setup by
``local_nginx.render``. What plain nginx cannot do like ingress-nginx (subset hashing,
cookie affinity, service-upstream, ewma) is left out of ``capabilities``.

Every change is applied by rewriting nginx.conf, checking it with ``nginx -t`` and
reloading; the call returns once a new connection sees the new config generation and
no old worker remains.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingressbed import ingress_keys
from ingressbed.backends import base, converge
from ingressbed.backends.local_addresses import AddressBlock
from ingressbed.backends.local_nginx import GENERATION_PATH, Listen, render
from ingressbed.backends.local_pods import PodSet
from ingressbed.backends.processes import Child, signals_deferred
from ingressbed.errors import ConfigError, SetupError, ToolError
from ingressbed.options import BedOptions
from ingressbed.progress import Steps
from ingressbed.vocabulary import (
    HELLOGO_PORTS,
    HTTP_PORT,
    Address,
    Capability,
    Endpoint,
    Flavor,
    IngressSpec,
    Pod,
    Route,
    Setup,
)

_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
_IDLE = Setup(IngressSpec("idle", (Route("/healthz-idle", HTTP_PORT),)), replicas=0)


def find_nginx() -> str:
    """Path of the nginx binary, or a ToolError saying how to install it."""
    override = os.environ.get("INGRESSBED_NGINX")
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise ToolError(f"INGRESSBED_NGINX={override} is not an executable file")
        return override
    found = shutil.which("nginx", path=_SEARCH_PATH)
    if not found:
        raise ToolError(
            "nginx not found on PATH (nor /usr/sbin): install it "
            "(Debian/Ubuntu: apt-get install nginx-light) or set INGRESSBED_NGINX"
        )
    return found


def _ip_key(pod: Pod) -> tuple[int, ...]:
    return tuple(int(part) for part in pod.ip.split("."))


class LocalBackend:
    """hellogo processes on 127.A.B.x behind plain nginx on 127.A.B.1."""

    name = "local"
    data_plane = Flavor.NGINX
    capabilities = frozenset(
        {Capability.HASH, Capability.WEBSOCKET, Capability.SCALE, Capability.KILL, Capability.CORS}
    )

    def __init__(self, options: BedOptions | None = None, steps: Steps | None = None) -> None:
        self.options = options or BedOptions(backend="local")
        self.steps = steps or Steps(quiet=self.options.quiet)
        self._nginx_bin = ""
        self._run_dir: Path | None = None
        self._block: AddressBlock | None = None
        self._pods: PodSet | None = None
        self._nginx: Child | None = None
        self._listen: Listen | None = None
        self._setup = _IDLE
        self._generation = 0
        self._failed = False

    # ----------------------------------------------------------------- lifecycle
    def versions(self) -> dict[str, str]:
        out = subprocess.run(
            [self._nginx_bin or find_nginx(), "-v"], capture_output=True, text=True, check=False
        )
        match = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
        return {
            "nginx": match.group(1) if match else "unknown",
            "python": sys.version.split()[0],
            "hellogo": "source",
        }

    def start(self) -> None:
        if self._nginx is not None:
            return
        try:
            with self.steps.step("Finding nginx"):
                self._nginx_bin = find_nginx()
            with self.steps.step("Reserving a loopback block"):
                self._block = AddressBlock()
                self._run_dir = Path(tempfile.mkdtemp(prefix=f"ingressbed-{self._block.prefix}-"))
                # nginx workers drop to an unprivileged user when started as root.
                self._run_dir.chmod(0o755)
                (self._run_dir / "pods").mkdir()
                (self._run_dir / "tmp").mkdir()
                self._listen = Listen(
                    self._block.ingress, self._block.free_port(), self._block.free_port()
                )
                self._pods = PodSet(self._block, self._run_dir / "pods")
            with self.steps.step(f"Starting nginx on {self._block.ingress}:{self._listen.port}"):
                self._configure(_IDLE)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        keep = self.options.keep == "always" or (self.options.keep == "on-failure" and self._failed)
        if self._nginx is not None:
            self._nginx.stop()
            self._nginx = None
        if self._pods is not None:
            self._pods.close()
            self._pods = None
        if self._block is not None:
            self._block.release()
            self._block = None
        if self._run_dir is not None:
            if keep:
                self.steps.note(f"local backend: kept its folder (config, logs) at {self._run_dir}")
            else:
                shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    def mark_failed(self) -> None:
        """Tell the backend a test failed (``--keep on-failure`` keeps its folder)."""
        self._failed = True

    # ------------------------------------------------------------------- serving
    def apply(self, setup: Setup) -> None:
        ingress_keys.check(setup)
        lacking = base.missing(self, ingress_keys.required_capabilities(setup))
        if lacking:
            raise ConfigError(
                f"the local backend (plain nginx) cannot serve {', '.join(lacking)}; "
                "run on --backend kind or cluster"
            )
        self._require_started()
        self._configure(setup)
        converge.converge(self, setup, timeout=10.0)

    def pods(self) -> list[Pod]:
        return sorted(self._require_started().pods, key=_ip_key)

    def endpoints(self, port: int) -> list[Endpoint]:
        if port not in HELLOGO_PORTS:
            raise ConfigError(f"hellogo has no port {port}; its ports are {HELLOGO_PORTS}")
        return [Endpoint(pod.ip, port) for pod in self.pods()]

    def scale(self, replicas: int) -> None:
        self._configure(Setup(self._setup.ingress, self._setup.controller, replicas))
        converge.converge(self, self._setup, timeout=10.0)

    def kill(self, pod: str) -> None:
        self._require_started().kill(pod)
        self._configure(self._setup)
        converge.converge(self, self._setup, timeout=10.0)

    def address(self) -> Address:
        if self._listen is None:
            raise SetupError("the local backend is not started; call start() first")
        return Address(self._listen.address, self._listen.port)

    def diagnostics(self, dest: Path) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        if self._run_dir is None:
            return written
        for name in ("nginx.conf", "error.log", "access.log"):
            src = self._run_dir / name
            if src.exists():
                written.append(Path(shutil.copy(src, dest / f"nginx-{name}")))
        for log in self._pods.logs() if self._pods else []:
            written.append(Path(shutil.copy(log, dest / f"pod-{log.name}")))
        backends = {
            f"hellogo-{port}": [str(ep) for ep in self.endpoints(port)]
            for port in self._setup.ingress.ports
        }
        state = dest / "backends.json"
        state.write_text(
            json.dumps({"generation": self._generation, "backends": backends}, indent=2)
        )
        written.append(state)
        return written

    # ------------------------------------------------------------------ internals
    def _require_started(self) -> PodSet:
        if self._pods is None or self._run_dir is None:
            raise SetupError("the local backend is not started; call start() first")
        return self._pods

    def _configure(self, setup: Setup) -> None:
        pods = self._require_started()
        assert self._listen is not None and self._run_dir is not None
        have = len(pods.pods)
        if setup.replicas != have:
            verb = "Starting" if setup.replicas > have else "Stopping"
            with self.steps.step(f"{verb} hellogo pods ({have} -> {setup.replicas})"):
                pods.ensure(setup.replicas)
        self._generation += 1
        endpoints = {port: self.endpoints(port) for port in setup.ingress.ports}
        text = render(setup, endpoints, self._listen, str(self._run_dir), self._generation)
        conf = self._run_dir / "nginx.conf"
        conf.write_text(text)
        self._check_config(conf)
        self._setup = setup
        if self._nginx is None:
            with signals_deferred():
                self._nginx = Child(
                    "nginx",
                    [
                        self._nginx_bin,
                        "-p",
                        str(self._run_dir),
                        "-c",
                        str(conf),
                        "-g",
                        "daemon off;",
                    ],
                    self._run_dir / "nginx.out",
                )
        else:
            self._nginx.signal(signal.SIGHUP)
        self._wait_generation(int(setup.controller.get("worker-processes", "1")))

    def _check_config(self, conf: Path) -> None:
        assert self._run_dir is not None
        result = subprocess.run(
            [self._nginx_bin, "-t", "-q", "-p", str(self._run_dir), "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            lines = [ln for ln in result.stderr.splitlines() if "[emerg]" in ln] or [result.stderr]
            raise ConfigError(f"nginx rejected the generated config: {lines[0].strip()} ({conf})")

    def _wait_generation(self, workers: int, timeout: float = 10.0) -> None:
        """Poll the status server on new connections until the new generation answers
        and only the new workers are left."""
        assert self._nginx is not None and self._listen is not None
        deadline = time.monotonic() + timeout
        want = str(self._generation)
        while time.monotonic() < deadline:
            if not self._nginx.alive():
                raise SetupError(f"nginx exited: {self._error_line()}")
            if self._status() == want and _child_count(self._nginx.pid) <= workers:
                return
            time.sleep(0.005)  # polling interval, not a wait for an assumed duration
        raise SetupError(
            f"nginx did not serve config generation {want} within {timeout:.0f}s: "
            f"{self._error_line()}"
        )

    def _status(self) -> str | None:
        assert self._listen is not None
        conn = http.client.HTTPConnection(self._listen.address, self._listen.status_port, timeout=1)
        try:
            conn.request("GET", GENERATION_PATH)
            response = conn.getresponse()
            return response.read().decode() if response.status == 200 else None
        except OSError:
            return None
        finally:
            conn.close()

    def _error_line(self) -> str:
        assert self._run_dir is not None
        for name in ("error.log", "nginx.out"):
            with contextlib.suppress(OSError):
                lines = [
                    ln for ln in (self._run_dir / name).read_text().splitlines() if "[emerg]" in ln
                ]
                if lines:
                    return lines[-1].strip()
        return f"see {self._run_dir / 'error.log'}"


def _child_count(pid: int) -> int:
    """Number of live child processes of ``pid`` (nginx workers)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return len(path.read_text().split())
    except OSError:
        return 0
