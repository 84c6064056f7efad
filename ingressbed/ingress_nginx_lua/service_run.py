"""Running the Service proxy of ``service-upstream`` (HAProxy in TCP mode; I/O).

``ServiceProxy.configure(services)`` renders ``service_conf``, checks it with
``haproxy -c`` and starts HAProxy in master-worker mode (``-W -db``, a watched child killed
with the bed) or reloads it (SIGUSR2); it returns once a new connection to the status
frontend sees the new generation and no worker of the old configuration is left.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ingressbed.backends.processes import Child, child_pids, find_program, signals_deferred
from ingressbed.errors import ConfigError, SetupError
from ingressbed.ingress_nginx_lua.service_conf import render
from ingressbed.planes.base import Listen, ServicePort
from ingressbed.planes.haproxy import PROGRAM as HAPROXY
from ingressbed.planes.settings import GENERATION_PATH

_POLL = 0.01


class ServiceProxy:
    """HAProxy giving each Service port an address that balances per connection.

    Args:
        run_dir: an existing folder for haproxy.cfg, its log and pid file.
        status: the status frontend's address and ``status_port``.
        haproxy: the binary (default: HAProxy as the local backend finds it).
        on_exit: called (watcher thread) when HAProxy dies without being asked to.
        timeout: seconds a start or reload may take.
    """

    def __init__(
        self,
        run_dir: Path,
        status: Listen,
        *,
        haproxy: str | None = None,
        on_exit: Callable[[Child], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.run_dir = run_dir
        self.status = status
        self.haproxy = haproxy or find_program(HAPROXY)
        self.timeout = timeout
        self.generation = 0
        self._on_exit = on_exit
        self._child: Child | None = None

    def configure(self, services: Sequence[ServicePort]) -> None:
        """Start HAProxy with ``services``, or reload it with them.

        Raises:
            ConfigError: HAProxy rejected the configuration; the running one stays.
            SetupError: HAProxy exited or did not serve the new generation in time.
        """
        text = render(services, self.status, self.generation + 1)
        # Checked as a candidate first: a rejected change leaves services.cfg as it runs.
        candidate = self.run_dir / "services-candidate.cfg"
        candidate.write_text(text)
        with signals_deferred():
            check = subprocess.run(
                [self.haproxy, "-c", "-f", str(candidate)],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        if check.returncode != 0:
            said = check.stderr + check.stdout
            lines = [ln for ln in said.splitlines() if "[ALERT]" in ln] or [said.strip()]
            raise ConfigError(f"haproxy rejected the Service proxy config: {lines[0].strip()}")
        path = self.run_dir / "services.cfg"
        os.replace(candidate, path)
        self.generation += 1
        if self._child is None:
            argv = [
                self.haproxy,
                "-W",
                "-db",
                "-f",
                str(path),
                "-p",
                str(self.run_dir / "services.pid"),
            ]
            with signals_deferred():
                self._child = Child(
                    f"haproxy (the Service addresses on {self.status.address})",
                    argv,
                    self.run_dir / "services.log",
                    kill_group=True,
                    on_exit=self._on_exit,
                )
        else:
            self._child.signal(signal.SIGUSR2)
        self._wait_serving()
        self._child.mark_ready()

    def stop(self) -> None:
        """Stop HAProxy; safe to call twice."""
        with signals_deferred():
            if self._child is not None:
                self._child.stop()
                self._child = None

    def _generation(self) -> str | None:
        conn = http.client.HTTPConnection(self.status.address, self.status.status_port, timeout=1)
        try:
            conn.request("GET", GENERATION_PATH)
            response = conn.getresponse()
            return response.read().decode() if response.status == 200 else None
        except OSError:
            return None
        finally:
            conn.close()

    def _wait_serving(self) -> None:
        assert self._child is not None
        deadline = time.monotonic() + self.timeout
        want = str(self.generation)
        while time.monotonic() < deadline:
            if not self._child.alive():
                self._child.expect_exit()
                raise SetupError(f"haproxy exited: {self._child.last_error_line()}")
            if self._generation() == want and len(child_pids(self._child.pid)) <= 1:
                return
            time.sleep(_POLL)
        raise SetupError(
            f"haproxy did not serve Service generation {want} within {self.timeout:.0f}s: "
            f"{self._child.last_error_line()}"
        )
