"""A real Envoy serving any ``EnvoySetup`` the placement tests need (not a test module).

The envoy data plane renders setups as the bed serves candidates, and the local backend
runs it; the flavor's own tests need more (small prime tables, two policies on one route,
a listener trusting two X-Forwarded-For hops, several clusters side by side). This runs
Envoy as the plane's ``Program`` says, on the files ``envoy_config`` renders, in a folder
of the test's, and waits until every file is in force, as the plane's ``in_force`` reads
it. The process is a watched child (``processes.Child``): it gets SIGTERM if the test
runner dies.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
from pathlib import Path

from ingressbed import planes
from ingressbed.backends.processes import Child, find_program, signals_deferred
from ingressbed.envoy_config import EnvoySetup, render_bootstrap, render_resources
from ingressbed.planes import envoy_conf
from ingressbed.planes.base import Program


def _program() -> Program:
    program = planes.plane("envoy").program
    assert program is not None
    return program


class RealEnvoy:
    """One Envoy on loopback serving one ``EnvoySetup`` (version ``1``)."""

    def __init__(self, folder: Path, admin_address: str, admin_port: int) -> None:
        self.folder = folder
        self.admin_address = admin_address
        self.admin_port = admin_port
        self.child: Child | None = None

    def start(self, setup: EnvoySetup, timeout: float = 30.0) -> None:
        """Write the files, start Envoy, return once all of them are in force.

        Raises:
            AssertionError: Envoy exits, or the files are not in force in time.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        program = _program()
        files = {
            program.config: render_bootstrap(str(self.folder), self.admin_address, self.admin_port),
            **render_resources(setup, str(self.folder), "1"),
        }
        for name, text in files.items():
            (self.folder / name).write_text(text)
        conf = str(self.folder / program.config)
        argv = program.command(program.argv, find_program(program), str(self.folder), conf)
        with signals_deferred():
            self.child = Child("envoy", argv, self.folder / program.log, kill_group=True)
        deadline = time.monotonic() + timeout
        while not envoy_conf.in_force(self.admin(envoy_conf.STATS_PATH), 1):
            assert self.child.alive(), f"envoy exited: {self.child.last_error_line()}"
            assert time.monotonic() < deadline, f"envoy not ready: {self.child.last_error_line()}"
            self.child.wait_exit(0.02)  # a bounded wait that also notices an exit
        self.child.mark_ready()

    def admin(self, path: str) -> str | None:
        """GET an admin path: the body, or None when the admin does not answer 200."""
        connection = http.client.HTTPConnection(self.admin_address, self.admin_port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode(errors="replace")
            return body if response.status == 200 else None
        except OSError:
            return None
        finally:
            connection.close()

    def gauge(self, name: str) -> int:
        """One numeric stat (AssertionError: Envoy has none of that name)."""
        pattern = "^" + name.replace(".", r"\.") + "$"
        body = self.admin("/stats?filter=" + urllib.parse.quote(pattern, safe=""))
        value = envoy_conf.stats(body or "").get(name)
        assert value is not None, f"Envoy has no stat {name}"
        return int(value)

    def stop(self) -> None:
        """SIGTERM (then SIGKILL), reaped."""
        if self.child is not None:
            with signals_deferred():
                self.child.stop()
