"""Real curl, routed to the ingress whatever host the URL names.

``--connect-to ::ADDR:PORT`` sends every connection to the bed's ingress while the URL
(and so the Host header and the request target) stays as the user wrote it. curl runs
as a subprocess with an argument list, never through a shell.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ingressbed.clients import answer
from ingressbed.errors import ToolError
from ingressbed.vocabulary import Address, Observation


@dataclass(frozen=True)
class CurlResult:
    """What curl printed and what it means."""

    argv: tuple[str, ...]
    status: int
    headers: Mapping[str, str]
    body: str
    observation: Observation


def find_curl() -> str:
    found = shutil.which("curl")
    if not found:
        raise ToolError("curl not found on PATH: install it (Debian/Ubuntu: apt-get install curl)")
    return found


def _header_lines(raw: str) -> list[tuple[str, str]]:
    """Header lines of the last response in a ``-D`` dump (after redirects or
    100-continue), lower-case names, in order."""
    blocks = [b for b in raw.replace("\r\n", "\n").split("\n\n") if b.strip()]
    lines: list[tuple[str, str]] = []
    for line in (blocks[-1] if blocks else "").splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep:
            lines.append((name.strip().lower(), value.strip()))
    return lines


def _parse_headers(raw: str) -> dict[str, str]:
    """Headers of the last response in a ``-D`` dump (the last of a repeated name)."""
    return dict(_header_lines(raw))


def curl(
    url: str,
    address: Address,
    *,
    client: str = "",
    method: str | None = None,
    headers: Sequence[str] = (),
    data: str | None = None,
    options: Sequence[str] = (),
    step: str = "",
    route: str = "",
    timeout: float = 10.0,
    cookie: str = "",
    keep: frozenset[str] = frozenset(),
) -> CurlResult:
    """Run curl for ``url`` against the ingress at ``address``.

    Args:
        headers: ``Name: value`` strings, as given to ``-H``.
        options: further curl flags, already checked by the caller (``--http1.1``, ``-k``...).
        client: simulated client address, sent as X-Forwarded-For.
        cookie: the ``Cookie`` header to send ("" sends none).
        keep: response headers to keep on the observation (lower-case names).
    Raises:
        ToolError: curl is missing.
    """
    parts = urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="ingressbed-curl-") as tmp:
        body_file, head_file = Path(tmp, "body"), Path(tmp, "headers")
        argv = [
            find_curl(),
            "-sS",
            "--max-time",
            str(timeout),
            "--connect-to",
            f"::{address.host}:{address.port}",
            "-o",
            str(body_file),
            "-D",
            str(head_file),
            "-w",
            "%{http_code}",
        ]
        if method:
            argv += ["-X", method]
        for header in headers:
            argv += ["-H", header]
        if client:
            argv += ["-H", f"X-Forwarded-For: {client}"]
        if cookie:
            argv += ["-H", f"Cookie: {cookie}"]
        if data is not None:
            argv += ["--data", data]
        argv += [*options, url]
        start = time.perf_counter()
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout + 5, check=False
        )
        elapsed = time.perf_counter() - start
        body = body_file.read_text(errors="replace") if body_file.exists() else ""
        lines = _header_lines(head_file.read_text(errors="replace")) if head_file.exists() else []
    head = dict(lines)
    code = done.stdout.strip()[-3:]
    status = int(code) if code.isdigit() else 0
    who = answer.merge(answer.from_headers(head), answer.from_text(body))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    error = "" if done.returncode == 0 else (done.stderr.strip() or f"curl exit {done.returncode}")
    observation = Observation(
        protocol="curl",
        client=client,
        host=parts.hostname or "",
        key=target,
        pod=who.pod,
        pod_ip=who.pod_ip,
        port=who.port,
        status=status,
        cache_status=who.cache_status,
        elapsed=elapsed,
        route=route,
        step=step,
        error=error,
        headers=answer.kept(lines, keep),
        cookie=cookie,
    )
    return CurlResult(tuple(argv), status, head, body, observation)
