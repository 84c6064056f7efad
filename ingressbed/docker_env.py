"""Which Docker daemon to talk to, decided as the ``docker`` CLI decides it, and the CLI itself.

kind drives Docker through the ``docker`` CLI, which honours Docker contexts; the docker
Python SDK does not. Docker Desktop without the default-socket link, Colima, Rancher
Desktop and rootless Docker are often reachable only through a context. So the bed
resolves the endpoint the way the CLI does and uses the CLI for everything (ping, info,
build, inspect), giving kind and ``docker`` the same ``DOCKER_HOST``: the image is built
in the daemon ``kind load`` reads.

Resolution order (the CLI's, without its command-line flags):

1. ``DOCKER_HOST`` (with ``DOCKER_TLS_VERIFY`` / ``DOCKER_CERT_PATH``);
2. ``DOCKER_CONTEXT``;
3. ``currentContext`` in ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``);
4. the ``default`` context: the platform's default socket.

A named context is read from ``contexts/meta/<sha256 of the name>/meta.json`` under the
config folder (``Endpoints.docker.Host``, ``SkipTLSVerify``); its TLS files, if any, are in
``contexts/tls/<same hash>/docker/``. ``resolve`` is pure over the environment mapping and
the files; ``DockerCLI`` runs the CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingressbed.errors import ToolError

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_CONTEXT = "default"


@dataclass(frozen=True)
class DockerEndpoint:
    """Where the daemon is and how the bed found out.

    host        ``unix://...``, ``tcp://...``, ``ssh://...``, ``npipe://...``
    source      where it came from, for messages (``DOCKER_HOST``, ``context colima``, ...)
    context     the context name (None when DOCKER_HOST decided)
    tls_dir     folder with ca.pem/cert.pem/key.pem when TLS is used, else None
    tls_verify  verify the daemon's certificate
    """

    host: str
    source: str
    context: str | None = None
    tls_dir: str | None = None
    tls_verify: bool = False

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with this endpoint as ``DOCKER_HOST`` (for kind and the docker CLI)."""
        out = {k: v for k, v in base.items() if k not in ("DOCKER_CONTEXT", "DOCKER_HOST")}
        out["DOCKER_HOST"] = self.host
        out.pop("DOCKER_TLS_VERIFY", None)
        out.pop("DOCKER_CERT_PATH", None)
        if self.tls_dir:
            out["DOCKER_CERT_PATH"] = self.tls_dir
            if self.tls_verify:
                out["DOCKER_TLS_VERIFY"] = "1"
        return out

    def describe(self) -> str:
        return f"{self.host} (from {self.source})"


def config_dir(env: Mapping[str, str], home: Path) -> Path:
    """The Docker CLI's config folder: ``$DOCKER_CONFIG`` or ``~/.docker``."""
    explicit = env.get("DOCKER_CONFIG")
    return Path(explicit) if explicit else home / ".docker"


def context_hash(name: str) -> str:
    """The folder name the CLI stores context ``name`` under."""
    return hashlib.sha256(name.encode()).hexdigest()


def resolve(env: Mapping[str, str], home: Path) -> DockerEndpoint:
    """The endpoint the docker CLI would use with environment ``env`` and home ``home``.

    Raises:
        ToolError: a named context that does not exist or cannot be read.
    """
    host = env.get("DOCKER_HOST", "").strip()
    if host:
        cert = env.get("DOCKER_CERT_PATH") or None
        verify = env.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
        tls_dir = cert or (str(config_dir(env, home)) if verify else None)
        return DockerEndpoint(host, "DOCKER_HOST", None, tls_dir, verify)
    cfg = config_dir(env, home)
    name = env.get("DOCKER_CONTEXT", "").strip()
    source = "DOCKER_CONTEXT"
    if not name:
        name = _current_context(cfg / "config.json")
        source = f"currentContext in {cfg / 'config.json'}"
    if not name or name == DEFAULT_CONTEXT:
        return DockerEndpoint(DEFAULT_HOST, "the default context", DEFAULT_CONTEXT)
    return _read_context(cfg, name, source)


def _current_context(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as exc:
        raise ToolError(
            f"cannot read the Docker CLI config {path}: {exc}; fix or remove it"
        ) from exc
    return str(data.get("currentContext") or "") if isinstance(data, dict) else ""


def _read_context(cfg: Path, name: str, source: str) -> DockerEndpoint:
    digest = context_hash(name)
    meta = cfg / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except FileNotFoundError:
        raise ToolError(
            f"Docker context {name!r} (named by {source}) does not exist ({meta} is missing); "
            "list them with `docker context ls` and pick one with `docker context use NAME`"
        ) from None
    except (OSError, ValueError) as exc:
        raise ToolError(f"cannot read Docker context {name!r} from {meta}: {exc}") from exc
    endpoint = ((data.get("Endpoints") or {}).get("docker") or {}) if isinstance(data, dict) else {}
    host = str(endpoint.get("Host") or "")
    if not host:
        raise ToolError(f"Docker context {name!r} ({meta}) has no docker endpoint Host")
    tls = cfg / "contexts" / "tls" / digest / "docker"
    tls_dir = str(tls) if (tls / "ca.pem").is_file() or (tls / "cert.pem").is_file() else None
    verify = tls_dir is not None and not endpoint.get("SkipTLSVerify", False)
    return DockerEndpoint(host, f"context {name} ({source})", name, tls_dir, verify)


_HELP_HINT = re.compile(r"See '[^']*--help'\.|Run '[^']*--help' for more information\.?")


def one_line(text: str, limit: int = 200) -> str:
    """The most telling line of a tool's error output, shortened."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    # The CLI ends a usage error with "See 'docker save --help'.": the line before tells.
    lines = [ln for ln in lines if not _HELP_HINT.fullmatch(ln)] or lines
    if not lines:
        return "no output"
    errors = [ln for ln in lines if "error" in ln.lower()]
    line = (errors or lines)[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."


class DockerCLI:
    """The ``docker`` CLI on one endpoint. Every method raises ``ToolError`` with one line."""

    def __init__(self, endpoint: DockerEndpoint, binary: str | None = None) -> None:
        self.endpoint = endpoint
        self.binary = binary or shutil.which("docker") or ""
        self.env = endpoint.env(os.environ)

    @classmethod
    def from_environment(cls) -> DockerCLI:
        return cls(resolve(os.environ, Path.home()))

    def require_binary(self) -> None:
        if not self.binary:
            raise ToolError(
                "the docker CLI is not installed (kind drives Docker through it); install it "
                "(Debian/Ubuntu: apt-get install docker-ce-cli or docker.io) or use "
                "--backend local"
            )

    def run(self, args: Sequence[str], *, timeout: float = 60.0, what: str = "") -> str:
        """``docker ARGS`` on this endpoint; its stdout."""
        if not self.binary:
            raise ToolError(
                "the docker CLI is not installed (kind drives Docker through it); install it "
                "(Debian/Ubuntu: apt-get install docker-ce-cli or docker.io) or use "
                "--backend local"
            )
        label = what or f"docker {' '.join(args[:2])}"
        try:
            done = subprocess.run(
                [self.binary, *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolError(
                f"{label} took longer than {timeout:.0f}s at {self.endpoint.describe()}"
            ) from exc
        except OSError as exc:
            raise ToolError(f"{label}: {exc}") from exc
        if done.returncode != 0:
            raise ToolError(
                f"{label} failed at {self.endpoint.describe()}: "
                f"{one_line(done.stderr or done.stdout)}"
            )
        return done.stdout

    def info(self, timeout: float = 20.0) -> dict[str, Any]:
        """``docker info`` as JSON; ``ToolError`` naming the endpoint when no daemon answers."""
        self.require_binary()
        try:
            text = self.run(["info", "--format", "{{json .}}"], timeout=timeout)
        except ToolError as exc:
            raise ToolError(
                f"no Docker daemon answers at {self.endpoint.describe()}: "
                f"{str(exc).rsplit(': ', 1)[-1]}; start Docker, or pick another context "
                "(`docker context use NAME`), or use --backend local"
            ) from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ToolError(f"docker info printed no JSON: {one_line(text)}") from exc
        if not isinstance(data, dict):
            raise ToolError("docker info printed no JSON object")
        return data


def remote_problem(endpoint: DockerEndpoint) -> str:
    """Why ``endpoint`` cannot serve kind ("" = it can): kind publishes the cluster's ports
    on 127.0.0.1 of the Docker host, so the daemon must run on this machine (a unix
    socket or named pipe, or TCP to this machine's loopback)."""
    scheme, _, rest = endpoint.host.partition("://")
    if scheme in ("unix", "npipe"):
        return ""
    where = rest.split("/")[0].rsplit(":", 1)[0].strip("[]")
    if scheme == "tcp" and where in ("127.0.0.1", "localhost", "::1"):
        return ""
    return (
        f"the Docker endpoint {endpoint.describe()} is on another host, where kind would "
        "publish the cluster on that host's 127.0.0.1: use a local daemon (unset DOCKER_HOST "
        "or `docker context use default`), or --backend cluster"
    )


def local_free_bytes(endpoint: DockerEndpoint, root: str) -> int | None:
    """Free space in Docker's root folder when the daemon is local (a unix socket here)."""
    if not endpoint.host.startswith("unix://") or not root or not Path(root).is_dir():
        return None
    try:
        return shutil.disk_usage(root).free
    except OSError:
        return None
