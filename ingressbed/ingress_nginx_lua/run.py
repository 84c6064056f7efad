"""Running the local ingress-nginx plane: nginx with the bed's Lua balancer (I/O).

``LuaPlane`` owns one nginx in a run folder:

- ``start(servers)`` renders nginx.conf (generation 1), checks it with ``nginx -t`` and
  runs ``nginx -p RUN -c nginx.conf -g 'daemon off;'`` as a watched child (own session,
  killed with the bed, workers killed with the master); it returns once a new connection
  sees generation 1, every worker has registered and no other worker is left;
- ``configure(servers)`` does the same for a changed configuration by SIGHUP (a reload);
  posted backends survive it, and the new workers apply them as they start;
- ``post(backends)`` checks a backends document (``backends_read``) and POSTs it, as the
  controller does; ``wait_synced(n)`` waits until every worker applied post ``n``;
  ``apply(backends)`` is both, after making sure the post does not land in the same whole
  second as the post before (which the workers would not apply until a later post);
- ``stop()`` ends nginx and its workers.

Every wait polls a condition with a deadline (``/generation``, ``/sync``, the master's
children); nothing waits for an assumed duration.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ingressbed.backends.processes import Child, child_pids, find_program, signals_deferred
from ingressbed.errors import ConfigError, SetupError
from ingressbed.ingress_nginx_lua.backends import Backend, document
from ingressbed.ingress_nginx_lua.backends_read import read_document
from ingressbed.ingress_nginx_lua.conf import LUA_DIR, LuaConf, Server, Tls, render
from ingressbed.ingress_nginx_lua.modules import find_lua_modules
from ingressbed.ingress_nginx_lua.status import StatusClient, SyncState
from ingressbed.planes.base import Listen, LuaModules
from ingressbed.planes.nginx import PROGRAM as NGINX

#: Seconds between two looks at a condition (a polling interval, not a wait for an event).
_POLL = 0.01
#: nginx's log line prefix (time, pid#tid) before the level, dropped from messages.
_LOG_PREFIX = re.compile(r"^(?:nginx: )?\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ")

Backends = str | bytes | Sequence[Backend] | list[Any]


class LuaPlane:
    """nginx + the bed's Lua balancer on ``listen``, files in ``run_dir``.

    Args:
        run_dir: an existing folder for nginx.conf, logs and temp files.
        listen: the ingress address and port and the status port.
        nginx: the nginx binary (default: nginx as the local backend finds it).
        modules: the Lua module files (default: ``find_lua_modules()``).
        tls: serve HTTPS too (port, certificate, key).
        on_exit: called (from a watcher thread) when nginx dies without being asked to.
        timeout: seconds a start or reload may take.

    Raises:
        ToolError: nginx or its Lua module is not installed (one line with the fix).
    """

    def __init__(
        self,
        run_dir: Path,
        listen: Listen,
        *,
        nginx: str | None = None,
        modules: LuaModules | None = None,
        tls: Tls | None = None,
        on_exit: Callable[[Child], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.run_dir = run_dir
        self.listen = listen
        self.nginx = nginx or find_program(NGINX)
        self.modules = modules or find_lua_modules()
        self.tls = tls
        self.timeout = timeout
        self.status = StatusClient(listen.address, listen.status_port)
        self.conf: LuaConf | None = None
        self._on_exit = on_exit
        self._child: Child | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def pid(self) -> int | None:
        """The nginx master's pid while it runs."""
        return self._child.pid if self._child is not None else None

    def start(self, servers: Sequence[Server], workers: int = 1) -> None:
        """Render, check and start nginx; return once generation 1 serves.

        Raises:
            ConfigError: nginx rejected the configuration (its error line).
            SetupError: nginx exited or did not serve in time.
        """
        if self._child is not None:
            raise SetupError("the plane is already started: use configure() for changes")
        self.configure(servers, workers)

    def configure(self, servers: Sequence[Server], workers: int | None = None) -> None:
        """Apply a configuration: start nginx, or reload it (SIGHUP) when it runs.

        Args:
            servers: the servers and their locations.
            workers: worker processes (default: as before, else 1).

        Raises:
            ConfigError: nginx rejected the configuration; the running one (and its
                nginx.conf) stays.
            SetupError: nginx exited or did not serve the new generation in time.
        """
        previous = self.conf
        count = workers or (previous.workers if previous else 1)
        conf = LuaConf(
            servers=tuple(servers),
            listen=self.listen,
            run_dir=str(self.run_dir),
            modules=self.modules,
            lua_dir=str(LUA_DIR),
            workers=count,
            generation=previous.generation + 1 if previous else 1,
            tls=self.tls,
        )
        (self.run_dir / "tmp").mkdir(exist_ok=True)
        # Checked as a candidate first: a rejected change leaves nginx.conf as it runs.
        candidate = self.run_dir / "nginx-candidate.conf"
        candidate.write_text(render(conf))
        self._check(candidate)
        path = self.run_dir / "nginx.conf"
        os.replace(candidate, path)
        if self._child is None:
            with signals_deferred():
                self._child = Child(
                    f"nginx (the local ingress-nginx plane on {self.listen.address})",
                    [self.nginx, "-p", str(self.run_dir), "-c", str(path), "-g", "daemon off;"],
                    self.run_dir / "nginx.out",
                    kill_group=True,
                    on_exit=self._on_exit,
                )
        else:
            self._child.signal(signal.SIGHUP)
        self.conf = conf
        self._wait_serving(conf)
        self._child.mark_ready()

    def stop(self) -> None:
        """Stop nginx and its workers (SIGTERM, then SIGKILL); safe to call twice."""
        with signals_deferred():
            if self._child is not None:
                self._child.stop()
                self._child = None

    def __enter__(self) -> LuaPlane:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ backends
    def post(self, backends: Backends, *, check: bool = True) -> int:
        """POST a backends document as the controller does; return the post's number.

        Args:
            backends: JSON text (a real controller's ``/dbg backends all`` output works
                unchanged), a decoded list, or ``Backend`` values.
            check: refuse what the local plane cannot do first (``read_document``).

        Raises:
            ConfigError: the document is refused (one line naming backend and field).
            SetupError: the plane did not take it.
        """
        if isinstance(backends, str | bytes):
            body = backends.encode() if isinstance(backends, str) else backends
            if check:
                read_document(body)
        elif all(isinstance(item, Backend) for item in backends):
            body = document([b for b in backends if isinstance(b, Backend)]).encode()
        else:
            decoded = list(backends)
            if check:
                read_document(decoded)
            body = json.dumps(decoded).encode()
        self._require_running()
        return self.status.post_backends(body)

    def state(self) -> SyncState:
        """The sync state: the last post and what each worker applied."""
        self._require_running()
        return self.status.state()

    def held(self) -> str | None:
        """The backends document the plane holds (None: nothing posted yet)."""
        self._require_running()
        return self.status.held()

    def wait_synced(self, post: int, timeout: float = 5.0) -> SyncState:
        """Wait until every worker of the current configuration applied post ``post``.

        Raises:
            SetupError: not within ``timeout`` seconds (which worker is behind, and why
                when the post came in the same whole second as the one applied before).
        """
        conf = self._require_running()
        deadline = time.monotonic() + timeout
        while True:
            state = self.status.state()
            if state.in_force(post, conf.generation):
                return state
            if time.monotonic() >= deadline:
                raise SetupError(_not_in_force(post, state, timeout))
            self._require_running()
            time.sleep(_POLL)

    def apply(self, backends: Backends, timeout: float = 5.0) -> int:
        """Post ``backends`` in a later whole second than the last post, and wait until
        every worker applied it; return the post's number.

        Raises:
            ConfigError: the document is refused.
            SetupError: the post was not applied within ``timeout`` seconds.
        """
        last = self.state().posted_at
        deadline = time.monotonic() + 2.0
        while int(time.time()) <= last and time.monotonic() < deadline:
            time.sleep(_POLL)  # the post's second must be later than the last post's
        post = self.post(backends)
        self.wait_synced(post, timeout)
        return post

    # ------------------------------------------------------------------ internals
    def _require_running(self) -> LuaConf:
        if self._child is None or self.conf is None:
            raise SetupError("the local ingress-nginx plane is not started")
        if not self._child.alive():
            self._child.expect_exit()
            raise SetupError(f"nginx exited: {self._error_line()}")
        return self.conf

    def _check(self, path: Path) -> None:
        argv = [self.nginx, "-t", "-q", "-p", str(self.run_dir), "-c", str(path)]
        with signals_deferred():  # a killed check would leave files in a folder going away
            result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0:
            said = result.stderr + result.stdout
            (self.run_dir / "nginx-t.out").write_text(said)
            lines = [ln for ln in said.splitlines() if "[emerg]" in ln] or [said.strip()]
            first = _LOG_PREFIX.sub(r"\1 ", lines[0].strip())
            raise ConfigError(
                f"nginx rejected the generated config: {first} (see {self.run_dir}/nginx-t.out)"
            )

    def _wait_serving(self, conf: LuaConf) -> None:
        assert self._child is not None
        deadline = time.monotonic() + self.timeout
        want = str(conf.generation)
        while time.monotonic() < deadline:
            self._require_running()
            if self.status.generation() == want and len(child_pids(self._child.pid)) <= (
                conf.workers
            ):
                with contextlib.suppress(SetupError):
                    state = self.status.state()
                    if state.config_generation == conf.generation and all(
                        w.pid is not None for w in state.workers
                    ):
                        return
            time.sleep(_POLL)
        raise SetupError(
            f"nginx did not serve config generation {want} within {self.timeout:.0f}s: "
            f"{self._error_line()}"
        )

    def _error_line(self) -> str:
        for name in ("error.log", "nginx.out"):
            with contextlib.suppress(OSError):
                text = (self.run_dir / name).read_text(errors="replace")
                marked = [ln for ln in text.splitlines() if "[emerg]" in ln or "[alert]" in ln]
                if marked:
                    return _LOG_PREFIX.sub(r"\1 ", marked[-1].strip())
        return f"no [emerg] line in {self.run_dir}/error.log"


def _not_in_force(post: int, state: SyncState, timeout: float) -> str:
    behind = state.behind(post)
    if state.posted > post:
        return f"post {post} was replaced by post {state.posted} before every worker applied it"
    if not behind:
        return (
            f"post {post} is not served by the current configuration "
            f"(generation {state.config_generation} answered)"
        )
    worker = behind[0]
    line = (
        f"post {post} is not in force after {timeout:.0f}s: worker {worker.id} "
        f"(pid {worker.pid}) applied post {worker.synced}"
    )
    if worker.synced_at and worker.synced_at >= state.posted_at:
        line += (
            " (the post came in the same whole second as the one it applied, and a worker "
            "applies such a post only with a later one)"
        )
    return line
