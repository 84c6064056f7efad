"""The ``local`` backend: a data plane program from the OS in front of hellogo processes.

No Docker, no cluster: each pod is a hellogo process on its own loopback address of the
run's block, and the data plane (``--data-plane``) is the program its plane module names
(``ingressbed.planes``: nginx, HAProxy ...), configured from the plane's translation of
the setup (``Plane.translate``, ``Plane.render``). What a plane cannot do like
ingress-nginx is left out of its ``local_capabilities``.

Every change is applied by rewriting the configuration (each file replaced in one step),
checking it with the program's own check and reloading it with its reload signal; the call
returns once a new connection sees the new config generation and no old worker remains.

Start-up is ``bring_up()``: an ordered list of steps (artifacts check, finding the data
plane, address block and run folder, data plane started). Clean-up holds at every moment:
children are recorded in the same breath as they start, ``close()`` finishes even through
Ctrl-C, the kernel stops every child if the runner dies, and the next run reclaims what a
killed run left (``local_addresses.reclaim``). Every child is watched: a pod or the data
plane that dies on its own is named once and stops the session (docs/bad-input.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from ingressbed import artifacts, ingress_keys, planes
from ingressbed.backends import base, converge
from ingressbed.backends.bringup import BringUpStep, run_all
from ingressbed.backends.local_addresses import LOCK_DIR, AddressBlock
from ingressbed.backends.local_pods import PodSet
from ingressbed.backends.processes import Child, find_program, run_tool, signals_deferred
from ingressbed.controller import MODEL_VERSION
from ingressbed.errors import ConfigError, SetupError, ToolError
from ingressbed.ingress_nginx_lua.modules import find_lua_modules
from ingressbed.ingress_nginx_lua.service_run import ServiceProxy
from ingressbed.objects import HELLOGO_PORT_NAMES
from ingressbed.options import BedOptions
from ingressbed.planes import Listen, Plane, Program
from ingressbed.planes.base import LuaModules, Post, RunContext, ServicePort
from ingressbed.progress import Steps
from ingressbed.vocabulary import (
    HELLOGO_PORTS,
    HTTP_PORT,
    SERVICE_NAME,
    Address,
    DataPlane,
    Endpoint,
    IngressSpec,
    Pod,
    Route,
    Setup,
)

#: Seconds a change may take to be in force and served: a deadline for failing, never a
#: wait (the bed polls and goes on at once); generous, so a loaded machine is not a failure.
SERVE_TIMEOUT = 30.0
#: The Service proxy's files diagnostics copy.
SERVICE_FILES = ("services.cfg", "services.log")
_IDLE = Setup(IngressSpec("idle", (Route("/healthz-idle", HTTP_PORT),)), replicas=0)


_HAPROXY_PREFIX = re.compile(r"^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\) : (?:config : )?")
_NGINX_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ")


def program_of(plane: Plane) -> Program:
    """The program that runs ``plane`` on the local backend.

    Raises:
        ConfigError: a plane the local backend does not run (named, with what runs it).
    """
    if plane.program is None:
        runs = ", ".join(p.name.value for p in planes.local_planes())
        raise ConfigError(
            f"the local backend does not run data plane {plane.name} (it runs {runs}); use "
            "--backend kind or cluster"
        )
    return plane.program


def _ip_key(pod: Pod) -> tuple[int, ...]:
    return tuple(int(part) for part in pod.ip.split("."))


class LocalBackend:
    """hellogo processes on 127.A.B.x behind plain nginx or HAProxy on 127.A.B.1.

    ``data_plane`` comes from the options (``--data-plane``). A pod or the data plane that
    dies on its own is noticed at once (the process watcher); from then on the backend
    refuses every call with one line naming what died and how, and the pytest plugin fails
    the test that met it with that line and stops the session (docs/bad-input.md, "When a
    pod or nginx dies"). The bed does not replace the pod as
    a Deployment would: a replacement would hide the crash being reported, and every
    later result would rest on a bed that just broke. ``kill()`` is different: a kill
    asked for is followed by a replacement with a new name and address, as in a cluster.
    """

    name = "local"
    #: Seconds the program may take to say its version (a config check: three times that).
    tool_timeout = 10.0

    def __init__(self, options: BedOptions | None = None, steps: Steps | None = None) -> None:
        self.options = options or BedOptions(backend="local")
        self.steps = steps or Steps(quiet=self.options.quiet)
        self.plane = planes.plane(self.options.data_plane)
        self.data_plane: DataPlane = self.plane.name
        self.program = program_of(self.plane)
        self.capabilities = self.plane.local_capabilities
        self._bin = ""
        self._lua: LuaModules | None = None
        self._last_post = 0
        self._posted: bytes | None = None
        self._running: bytes | None = None  # posted by the last fresh apply
        self._services: ServiceProxy | None = None
        self._block: AddressBlock | None = None
        self._pods: PodSet | None = None
        self._proxy: Child | None = None
        self._listen: Listen | None = None
        self._setup = _IDLE
        self._generation = 0
        # A program that reads its files by itself (Envoy) may refuse one: what it took
        # last, to put back, and where its log stood when the files were written.
        self._taken: tuple[int, dict[str, str]] = (0, {})
        self._written: dict[str, str] = {}
        self._log_mark = 0
        self._failed = False
        self._deaths: list[str] = []
        self._death_seen = threading.Event()
        #: What ``close()`` did, in words (``stopped nginx``, ``stopped 6 pods``, ...).
        self.cleaned: list[str] = []

    @property
    def _run_dir(self) -> Path | None:
        return self._block.run_dir if self._block is not None else None

    # ----------------------------------------------------------------- lifecycle
    def versions(self) -> dict[str, str]:
        binary = self._bin or find_program(self.program)
        out = run_tool([binary, self.program.version_flag], timeout=self.tool_timeout)
        match = re.search(self.program.version_pattern, out.stderr + out.stdout)
        found = {
            self.program.name: match.group(1) if match else "unknown",
            "data plane": str(self.data_plane),
            "python": sys.version.split()[0],
            "hellogo": "source",
        }
        if self.plane.versioned:  # the bed's own implementation of the controller's rules
            found["data plane"] = f"{self.data_plane} (local)"
            found["controller rules"] = f"controller-v{MODEL_VERSION} (the bed's model)"
        return found

    def bring_up(self) -> list[BringUpStep]:
        """The start, step by step: what ``start()`` runs and ``--dry-run`` prints."""
        return [
            BringUpStep(
                "Checking the artifacts folder",
                self._check_artifacts,
                f"check that {self.options.artifacts} can take run folders (a probe, then removed)",
            ),
            BringUpStep(
                f"Finding {self.program.name}",
                self._find_program,
                f"use ${self.program.variable}, else {self.program.name} on PATH, /usr/sbin "
                "or /usr/local/sbin",
            ),
            BringUpStep(
                "Reserving a loopback block",
                self._reserve,
                f"reclaim what dead runs left in {LOCK_DIR} (lock not held, owner gone)\n"
                f"lock a free 127.A.B.0/24 ({LOCK_DIR}/127.A.B.lock holds this pid)\n"
                "make the run folder <tmp>/ingressbed-127.A.B-XXXX (config, logs, pods/)",
            ),
            BringUpStep(
                f"Starting {self.program.name}",
                self._start_proxy,
                self._start_description(),
            ),
        ]

    def _start_description(self) -> str:
        run_dir, conf = "<run folder>", f"<run folder>/{self.program.config}"
        check = " ".join(self.program.command(self.program.check, self.program.name, run_dir, conf))
        argv = self.program.command(self.program.argv, self.program.name, run_dir, conf)
        run = " ".join(f"'{a}'" if " " in a else a for a in argv)
        return (
            f"render {self.program.config} ({self.data_plane}) with no pods yet and check it "
            f"with {check}\n"
            f"run {run} on 127.A.B.1 (own session, killed with the bed, workers killed with it)\n"
            "wait until a new connection sees config generation 1"
        )

    def start(self) -> None:
        if self._proxy is not None:
            return
        try:
            run_all(self.bring_up(), self.steps)
        except BaseException:
            self.close()
            raise

    def _check_artifacts(self) -> None:
        artifacts.check_writable(self.options.artifacts)

    def _find_program(self) -> None:
        binary = find_program(self.program)
        # A binary that hangs stops here.
        run_tool([binary, self.program.version_flag], timeout=self.tool_timeout)
        self._bin = binary
        if self.program.needs_lua:
            try:
                self._lua = find_lua_modules()
            except ToolError as exc:
                runs = [
                    p.name.value
                    for p in planes.local_planes()
                    if p.program is not None and not p.program.needs_lua
                ]
                raise ToolError(
                    f"{exc} (data plane {self.data_plane} needs it; the other local data planes "
                    f"do not: --data-plane {' | '.join(runs)})"
                ) from None

    def _reserve(self) -> None:
        with signals_deferred():  # a lock or folder taken is a lock or folder recorded
            self._block = AddressBlock()
            run_dir = self._block.make_run_dir()
        (run_dir / "pods").mkdir()
        (run_dir / "tmp").mkdir()
        port, status_port = self._block.free_ports(2)
        self._listen = Listen(self._block.ingress, port, status_port)
        self._pods = PodSet(self._block, run_dir / "pods", on_death=self._died)
        self.steps.note(
            f"local backend: block {self._block.prefix}.0/24, ingress "
            f"{self._listen.address}:{self._listen.port}, run folder {run_dir}"
        )

    def _start_proxy(self) -> None:
        self._configure(_IDLE)

    def close(self) -> None:
        """Stop everything; Ctrl-C (once or twice) during this waits until it is done.

        Raises:
            SetupError: something could not be removed (named); nothing is claimed done
                that was not.
        """
        with signals_deferred():
            if self._block is not None:
                self.steps.note(
                    f"local backend: stopping {self.program.name} and pods, removing its folder"
                )
            self._close()

    def _close(self) -> None:
        keep = self.options.keep == "always" or (self.options.keep == "on-failure" and self._failed)
        if self._proxy is not None:
            ours = self._proxy.death is None  # not one that died on its own
            self._proxy.stop()
            self._proxy = None
            if ours:
                self.cleaned.append(f"stopped {self.program.name}")
        if self._services is not None:
            self._services.stop()
            self._services = None
        if self._pods is not None:
            count = self._pods.not_dead()
            self._pods.close()
            self._pods = None
            self.cleaned.append(f"stopped {count} pod{'' if count == 1 else 's'}")
        if self._block is not None:
            block, self._block = self._block, None
            try:
                if keep and block.run_dir is not None:
                    self.steps.note(
                        f"local backend: kept its folder (config, logs) at {block.run_dir}"
                    )
                    self.cleaned.append(f"kept its folder {block.run_dir}")
                    block.run_dir = None
                elif block.run_dir is not None:
                    folder = block.run_dir
                    block.remove_run_dir()
                    self.cleaned.append(f"removed its folder {folder}")
            finally:
                block.release()
            self.cleaned.append(f"released block {block.prefix}.0/24")

    def mark_failed(self) -> None:
        """Tell the backend a test failed (``--keep on-failure`` keeps its folder)."""
        self._failed = True

    def unexpected_exit(self) -> str | None:
        """What died on its own (pod name and address, or the data plane, and how), or None."""
        return self._deaths[0] if self._deaths else None

    def _died(self, child: Child) -> None:  # the watcher thread
        what = child.death or f"{child.name} exited"
        if child.kill_group and self.program.worker_processes:
            what += "; its workers were killed with it"
        self._deaths.append(what)
        self._death_seen.set()
        _stop_traffic(self._proxy, child)

    def wait_death(self, timeout: float) -> str | None:
        """Wait up to ``timeout`` seconds for something to die on its own; what died."""
        self._death_seen.wait(timeout)
        return self.unexpected_exit()

    # ------------------------------------------------------------------- serving
    def apply(self, setup: Setup) -> None:
        ingress_keys.check(setup)
        lacking = base.missing(self, ingress_keys.required_capabilities(setup))
        if lacking:
            raise ConfigError(
                f"the local backend ({self.data_plane}) cannot serve {', '.join(lacking)}; "
                "run on --backend kind or cluster"
            )
        self._require_started()
        self._configure(setup)
        self._converge(setup)

    def controller_version(self) -> str | None:
        """The ingress-nginx release the local plane models its rules on (``(local)``: the
        bed's own implementation, not the controller), else None."""
        return MODEL_VERSION if self.plane.versioned else None

    def pods(self) -> list[Pod]:
        return sorted(self._require_started().pods, key=_ip_key)

    def endpoints(self, port: int, service: str = SERVICE_NAME) -> list[Endpoint]:
        """The balancer's peers for ``service``'s ``port``: the pods (by address), or the
        Service address where the plane sends to one (``service-upstream``, hellogo's).

        A setup with its own objects (``Setup.ingresses``): the pods of ``service`` on the
        pod port its Service port (by number, else by name) targets."""
        if self._setup.ingresses:
            return list(_service_endpoints(self._setup, self.pods()).get((service, port), ()))
        pods = self._pod_endpoints(port)
        if self._run_dir is None or self._listen is None or self._block is None:
            return pods
        run = RunContext(self._listen, str(self._run_dir), self._generation, self._lua,
                         service_address=self._block.service)  # fmt: skip
        return self.plane.peers(self._setup, {port: pods}, run).get(port, pods)

    def _pod_endpoints(self, port: int, service: str | None = None) -> list[Endpoint]:
        """The pods of ``service`` (the setup's first: the one-Ingress view's) on ``port``."""
        if port not in HELLOGO_PORTS:
            raise ConfigError(f"hellogo has no port {port}; its ports are {HELLOGO_PORTS}")
        service = service or self._setup.service_names[0]
        return [Endpoint(pod.ip, port) for pod in self.pods() if pod.service == service]

    def _converge(self, setup: Setup) -> None:
        """Traffic proves the one Ingress on hellogo is served (``converge``). A setup with
        its own objects is proven by the plane's in-force check alone (every worker holds
        the posted backends), as on a cluster by the controller's own backends."""
        if not setup.ingresses:
            converge.converge(self, setup, timeout=SERVE_TIMEOUT)

    def apply_keeping_balancers(self, setup: Setup) -> None:
        """Apply ``setup`` as the plane's controller applies a change to a running data plane
        (ingress-nginx: its running balancers keep their hash key; the other planes
        re-render, as their controllers do); no traffic check, as after ``kubectl apply``."""
        ingress_keys.check(setup)
        lacking = base.missing(self, ingress_keys.required_capabilities(setup))
        if lacking:
            raise ConfigError(
                f"the local backend ({self.data_plane}) cannot serve {', '.join(lacking)}; "
                "run on --backend kind or cluster"
            )
        self._require_started()
        self._configure(setup, fresh=False)

    def scale(self, replicas: int, service: str = SERVICE_NAME) -> None:
        self._require_started()
        setup = self._setup
        if setup.services:
            if service not in setup.service_names:
                raise ConfigError(
                    f"no Service named {service!r}; the setup has {', '.join(setup.service_names)}"
                )
            counts = {**setup.service_replicas, service: replicas}
            setup = dataclasses.replace(setup, service_replicas=counts)
        else:
            setup = dataclasses.replace(setup, replicas=replicas)
        self._configure(setup)
        self._converge(self._setup)

    def kill(self, pod: str) -> None:
        self._require_started().kill(pod)
        self._configure(self._setup)
        self._converge(self._setup)

    def address(self) -> Address:
        if self._listen is None:
            raise SetupError("the local backend is not started; call start() first")
        return Address(self._listen.address, self._listen.port)

    def diagnostics(self, dest: Path) -> list[Path]:
        """Copy config, logs (their ends) and the balancer's state to ``dest``.

        Logs are cut to their last ``artifacts.LOG_TAIL_BYTES``, the whole to
        ``artifacts.TEST_BUDGET_BYTES``; ``TRIMMED.txt`` says what was cut.
        """
        dest.mkdir(parents=True, exist_ok=True)
        notes: list[str] = []
        run_dir = self._run_dir
        if run_dir is None:
            return []
        sources = [(run_dir / name, f"{self.program.name}-{name}") for name in self.program.files]
        sources += [(run_dir / "services" / n, f"services-{n}") for n in SERVICE_FILES]
        sources += [(log, f"pod-{log.name}") for log in (self._pods.logs() if self._pods else [])]
        for src, name in sources:
            with contextlib.suppress(FileNotFoundError):
                note = artifacts.copy_tail(src, dest / name)
                if note:
                    notes.append(note)
        pods = sorted(self._pods.pods if self._pods is not None else [], key=_ip_key)
        if self._setup.ingresses:
            backends = {
                f"{name}-{port}": [str(e) for e in found]
                for (name, port), found in _service_endpoints(self._setup, pods).items()
            }
        else:
            backends = {
                f"hellogo-{port}": [str(Endpoint(pod.ip, port)) for pod in pods]
                for port in self._setup.ingress.ports
            }
        state = dest / "backends.json"
        state.write_text(
            json.dumps(
                {
                    "data_plane": str(self.data_plane),
                    "generation": self._generation,
                    "backends": backends,
                    "died": self._deaths,
                },
                indent=2,
            )
        )
        notes += artifacts.bound(dest)
        artifacts.write_trim_note(dest, notes)
        return sorted(p for p in dest.iterdir() if p.is_file())

    # ------------------------------------------------------------------ internals
    def _require_started(self) -> PodSet:
        if self._deaths:
            raise SetupError(
                f"{self._deaths[0]}; the local backend stops here (it does not replace "
                "what died: later results would rest on a broken bed)"
            )
        if self._pods is None or self._run_dir is None:
            raise SetupError("the local backend is not started; call start() first")
        return self._pods

    def _evidence(self, line: str, *names: str) -> str:
        """``line`` pointing at copies of run-folder files kept in this run's artifacts
        (the run folder goes away at close; a message must name files that stay)."""
        run_dir = self._run_dir
        if run_dir is None:
            return line
        line = _NGINX_PREFIX.sub(r"\1 ", line)
        line = _HAPROXY_PREFIX.sub(r"[\1] ", line)
        try:
            folder = artifacts.evidence_folder(
                self.options.artifacts, f"local-{self.program.name}", self.options.keep_runs
            )
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    artifacts.copy_tail(run_dir / name, folder / name)
        except OSError as exc:
            return f"{line.replace(str(run_dir) + '/', '')} (could not keep it: {exc.strerror})"
        return f"{line.replace(str(run_dir), str(folder))} (kept in {folder})"

    def _configure(self, setup: Setup, *, fresh: bool = True) -> None:
        """Serve ``setup``: pods, the program's files (reloaded only when they change), the
        plane's posts; return once the plane says it is all in force.

        ``fresh``: the bed's own apply (balancers whose key changed are remade); False: as
        the plane's controller applies a change to a running data plane.
        """
        pods = self._require_started()
        assert self._listen is not None and self._run_dir is not None
        # The translation first: a candidate the data plane cannot take starts no pod.
        balance = self.plane.translate(setup)
        self._ensure_pods(pods, setup)
        first = setup.service_names[0]
        endpoints = {port: self._pod_endpoints(port, first) for port in setup.ingress.ports}
        run = RunContext(
            self._listen,
            str(self._run_dir),
            self._generation,
            self._lua,
            service_address=self._block.service if self._block is not None else "",
            service_endpoints=_service_endpoints(setup, self.pods()),
        )
        files = self.plane.render(setup, balance, endpoints, run)
        workers = self.plane.workers(setup)
        if self._proxy is None or not _unchanged(self._run_dir, files):
            self._generation += 1
            run = dataclasses.replace(run, generation=self._generation)
            self._load(self.plane.render(setup, balance, endpoints, run))
            self._wait_in_force(workers)
        self._setup = setup
        self._configure_services(self.plane.service_ports(setup, endpoints, run))
        posts = self.plane.posts(
            setup, balance, endpoints, run, previous=self._posted, running=self._running,
            fresh=fresh,
        )  # fmt: skip
        for post in posts:
            self._post(post)
            if post.reload:  # new workers start every balancer from this post
                self._generation += 1
                run = dataclasses.replace(run, generation=self._generation)
                self._load(self.plane.render(setup, balance, endpoints, run))
            self._wait_in_force(workers)
        if fresh or self._running is None:
            self._running = self._posted
        assert self._proxy is not None
        self._proxy.mark_ready()

    def _ensure_pods(self, pods: PodSet, setup: Setup) -> None:
        """Run ``setup``'s pods: each Service's replicas (the slow ones in the first)."""
        names = setup.service_names
        gone = [p for p in pods.pods if p.service not in names]
        if gone:
            with self.steps.step(f"Stopping {len(gone)} pods of Services the setup dropped"):
                pods.keep_only(names)
        for index, service in enumerate(names):
            want = setup.replicas_of(service)
            have = [p for p in pods.pods if p.service == service]
            slow_pods = setup.slow_pods if index == 0 else 0
            slow_ms = setup.slow_ms if slow_pods else 0
            slow_now = [p.slow_ms for p in have if p.slow_ms]
            if want == len(have) and slow_now == [slow_ms] * slow_pods:
                continue
            verb = "Starting" if want > len(have) else "Stopping"
            slow = f", {slow_pods} slow by {slow_ms} ms" if slow_pods else ""
            with self.steps.step(f"{verb} {service} pods ({len(have)} -> {want}{slow})"):
                pods.ensure(want, slow_pods, slow_ms, service=service)

    def _load(self, files: dict[str, str]) -> None:
        """Write ``files``, check the program's configuration, start or reload it."""
        assert self._listen is not None and self._run_dir is not None
        self._log_mark = _size(self._run_dir / self.program.log)
        self._written = dict(files)
        for name, text in files.items():
            _write_atomically(self._run_dir / name, text)
        conf = self._run_dir / next(iter(files))
        self._check_config(conf)
        if self._proxy is None:
            with signals_deferred():
                self._proxy = Child(
                    f"{self.program.name} (the data plane on {self._listen.address})",
                    self._command(self.program.argv, conf),
                    self._run_dir / self.program.log,
                    kill_group=True,
                    on_exit=self._died,
                )
        elif self.program.reload_signal:  # else the program watches its files itself
            self._proxy.signal(signal.Signals[self.program.reload_signal])

    def _configure_services(self, services: list[ServicePort]) -> None:
        """Run the Service proxy (kube-proxy's stand-in) with ``services``, from the first
        setup that needs one on; it keeps running (without listeners) after."""
        assert self._block is not None and self._run_dir is not None
        if not services and self._services is None:
            return
        if self._services is None:
            status = Listen(self._block.service, 0, *self._block.free_ports(1, self._block.service))
            folder = self._run_dir / "services"
            folder.mkdir(exist_ok=True)
            self._services = ServiceProxy(folder, status, on_exit=self._died)
            self.steps.note(f"local backend: Service addresses on {self._block.service}")
        self._services.configure(services)

    def _post(self, post: Post, timeout: float = 5.0) -> None:
        """POST ``post`` to the status server (in a later whole second than the last post,
        where the program applies no more than one post a second)."""
        assert self._listen is not None
        if self.program.posts_per_second:
            deadline = time.monotonic() + 2.0
            while int(time.time()) <= self._last_post and time.monotonic() < deadline:
                time.sleep(0.01)  # until the clock's second turns, not an assumed delay
        conn = http.client.HTTPConnection(
            self._listen.address, self._listen.status_port, timeout=timeout
        )
        try:
            conn.request(
                "POST", post.path, body=post.body, headers={"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            said = response.read().decode(errors="replace").strip()
        except OSError as exc:
            raise SetupError(f"{self.program.name} did not take {post.path}: {exc}") from exc
        finally:
            conn.close()
        self._last_post = int(time.time())
        if not 200 <= response.status < 300:
            first = said.splitlines()[0] if said else f"HTTP {response.status}"
            raise ConfigError(f"{self.program.name} refused {post.path}: {first}")
        self._posted = post.body

    def _command(self, template: tuple[str, ...], conf: Path) -> list[str]:
        assert self._run_dir is not None
        return self.program.command(template, self._bin, str(self._run_dir), str(conf))

    def _check_config(self, conf: Path) -> None:
        assert self._run_dir is not None
        argv = self._command(self.program.check, conf)
        result = run_tool(argv, timeout=3 * self.tool_timeout)  # Ctrl-C held, bounded
        if result.returncode != 0:
            said = result.stderr + result.stdout
            mark = self.program.error_mark
            lines = [ln for ln in said.splitlines() if mark in ln] or [said.strip() or "no output"]
            (self._run_dir / self.program.check_log).write_text(said)
            line = self._evidence(lines[0].strip(), self.program.config, self.program.check_log)
            raise ConfigError(f"{self.program.name} rejected the generated config: {line}")

    def _wait_in_force(self, workers: int, timeout: float = SERVE_TIMEOUT) -> None:
        """Poll the status server on new connections until the plane says the current
        generation (and every post) is in force and only the new workers are left."""
        assert self._proxy is not None and self._listen is not None
        deadline = time.monotonic() + timeout
        name = self.program.name
        while time.monotonic() < deadline:
            if not self._proxy.alive():
                self._proxy.expect_exit()
                self._require_started()  # stopped after a pod's death: that is what to say
                raise SetupError(f"{name} exited: {self._error_line()}")
            in_force = self.plane.in_force(self._fetch, self._generation)
            if in_force and _child_count(self._proxy.pid) <= workers:
                if not self.program.reload_signal:
                    self._taken = (self._generation, self._written)
                return
            if not in_force and not self.program.reload_signal:
                self._refused()
            time.sleep(0.005)  # polling interval, not a wait for an assumed duration
        raise SetupError(
            f"{name} did not serve config generation {self._generation} within "
            f"{timeout:.0f}s: {self._error_line()}"
        )

    def _refused(self) -> None:
        """A program that reads its files by itself (Envoy): if it refused one of those just
        written, put back the files it had taken, wait until they are in force again, and
        say why in one line.

        Raises:
            ConfigError: it refused a file (what and why, from its log).
        """
        assert self._run_dir is not None
        said = self._log_since()
        why = self.plane.refused(said)
        if why is None:
            return
        generation, files = self._taken
        kept = " (the previous one stays in force)" if files else ""
        (self._run_dir / self.program.check_log).write_text(said)
        line = self._evidence(why, self.program.check_log, *self.program.files)
        if files:
            self._generation = generation
            self._log_mark = _size(self._run_dir / self.program.log)
            for name, text in files.items():
                _write_atomically(self._run_dir / name, text)
            deadline = time.monotonic() + 10.0
            while not self.plane.in_force(self._fetch, generation):
                if time.monotonic() > deadline or self.plane.refused(self._log_since()):
                    raise SetupError(
                        f"{self.program.name} refused the generated config and did not take "
                        f"back the previous one: {line}"
                    )
                time.sleep(0.005)  # polling interval, not a wait for an assumed duration
        raise ConfigError(f"{self.program.name} rejected the generated config{kept}: {line}")

    def _log_since(self) -> str:
        """What the program logged since ``_log_mark``."""
        assert self._run_dir is not None
        try:
            with open(self._run_dir / self.program.log, "rb") as log:
                log.seek(self._log_mark)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _fetch(self, path: str) -> str | None:
        """GET ``path`` of the status server on a new connection: the body, or None."""
        assert self._listen is not None
        conn = http.client.HTTPConnection(self._listen.address, self._listen.status_port, timeout=1)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.read().decode() if response.status == 200 else None
        except OSError:
            return None
        finally:
            conn.close()

    def _error_line(self) -> str:
        assert self._run_dir is not None
        mark = self.program.error_mark
        found = f"no {mark} line in its logs"
        for name in self.program.error_logs or (self.program.log,):
            with contextlib.suppress(OSError):
                lines = [ln for ln in (self._run_dir / name).read_text().splitlines() if mark in ln]
                if lines:
                    found = lines[-1].strip()
                    break
        return self._evidence(found, *self.program.files)


def _service_endpoints(
    setup: Setup, pods: list[Pod]
) -> dict[tuple[str, int], tuple[Endpoint, ...]]:
    """A setup with its own objects: the pods' endpoints behind each (Service, Service
    port), on the pod port it targets (a number, or hellogo's port of that name); empty
    for the one Ingress on hellogo."""
    if not setup.ingresses:
        return {}
    named = {name: port for port, name in HELLOGO_PORT_NAMES.items()}
    out: dict[tuple[str, int], tuple[Endpoint, ...]] = {}
    for service in setup.services:
        mine = sorted((p for p in pods if p.service == service.name), key=_ip_key)
        for port in service.ports:
            target = port.target
            pod_port = target if isinstance(target, int) else named.get(target, 0)
            if pod_port in HELLOGO_PORTS:
                out[(service.name, port.port)] = tuple(Endpoint(p.ip, pod_port) for p in mine)
    return out


def _unchanged(folder: Path, files: dict[str, str]) -> bool:
    """Whether every file in ``files`` already holds that text."""
    for name, text in files.items():
        try:
            if (folder / name).read_text() != text:
                return False
        except OSError:
            return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a watcher never sees half a file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _size(path: Path) -> int:
    """Size of ``path`` in bytes (0 when it does not exist yet)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _child_count(pid: int) -> int:
    """Number of live child processes of ``pid`` (nginx or HAProxy workers)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return len(path.read_text().split())
    except OSError:
        return 0


def _stop_traffic(proxy: Child | None, dead: Child) -> None:
    """After a death, stop the data plane at once: the session stops anyway, and traffic
    still under way ends now instead of waiting on the data plane (HAProxy has no health
    checks here: it retries a refused connection 3 times, a second apart, per request)."""
    if proxy is not None and proxy is not dead:
        proxy.kill_now()
