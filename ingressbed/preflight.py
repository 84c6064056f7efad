"""Start-up checks for the cluster backends, as small pure functions (text or outcomes in,
one line out), so every failure is one line at start-up rather than a traceback later.

Use, in order (the I/O stays with the caller)::

    (path,) = kubeconfig_paths(options.kubeconfig, os.environ, str(Path.home()))[:1]
    if not Path(path).exists(): raise missing_kubeconfig([path])
    config = parse_kubeconfig(Path(path).read_text(), path)     # the kubeconfig parses
    context = find_context(config, options.context, str(path))  # the context exists
    check_api_server(context.server, lambda: VersionApi(api).get_code())  # it answers

Each raises ``ConfigError`` (a file or a name to fix) or ``SetupError`` (a server that
does not answer) with one line that says what is wrong and what to do. The artifacts
folder check lives in ``ingressbed.artifacts.check_writable``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from ingressbed.errors import ConfigError, SetupError

_FIX_FILE = "fix it or name another file with --kubeconfig"


@dataclass(frozen=True)
class KubeContext:
    """One kubeconfig context, resolved to its cluster's server."""

    name: str
    cluster: str
    server: str
    user: str
    namespace: str | None = None


def kubeconfig_paths(explicit: str | None, environ: Mapping[str, str], home: str) -> list[str]:
    """The kubeconfig files to read, in kubectl's order of precedence.

    Args:
        explicit: ``--kubeconfig`` (wins when given).
        environ: the environment (``KUBECONFIG``: paths joined with ``:``, empty ones skipped).
        home: the user's home folder (``~/.kube/config`` is the default).

    Returns:
        One or more paths.
    """
    if explicit:
        return [explicit]
    listed = [part for part in environ.get("KUBECONFIG", "").split(":") if part]
    return listed or [f"{home.rstrip('/')}/.kube/config"]


def missing_kubeconfig(paths: list[str]) -> ConfigError:
    """The one-line error for kubeconfig files that do not exist."""
    return ConfigError(
        f"no kubeconfig at {', '.join(paths)}: pass --kubeconfig FILE or set KUBECONFIG"
    )


def parse_kubeconfig(text: str, source: str) -> Mapping[str, Any]:
    """Parse kubeconfig text.

    Args:
        text: the file's content.
        source: where it came from (a path), for messages.

    Returns:
        The kubeconfig as a mapping (``clusters``, ``contexts``, ``users`` lists).

    Raises:
        ConfigError: not YAML, not a mapping, not ``kind: Config``, or a section that is
            not a list of named entries.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "bad syntax"
        raise ConfigError(
            f"kubeconfig {source} is not valid YAML{where}: {problem}; {_FIX_FILE}"
        ) from None
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"kubeconfig {source} is not a kubeconfig (expected a mapping with clusters, "
            f"contexts and users); {_FIX_FILE}"
        )
    kind = data.get("kind", "Config")
    if kind != "Config":
        raise ConfigError(f"kubeconfig {source} has kind {kind!r}, not Config; {_FIX_FILE}")
    for section in ("clusters", "contexts", "users"):
        entries = data.get(section) or []
        if not isinstance(entries, list) or not all(
            isinstance(e, Mapping) and isinstance(e.get("name"), str) for e in entries
        ):
            raise ConfigError(
                f"kubeconfig {source}: {section} must be a list of entries with a name; {_FIX_FILE}"
            )
    return data


def _named(config: Mapping[str, Any], section: str) -> dict[str, Mapping[str, Any]]:
    return {e["name"]: e for e in config.get(section) or []}


def find_context(config: Mapping[str, Any], name: str | None, source: str) -> KubeContext:
    """The context ``name`` of a parsed kubeconfig, with its cluster's server.

    Args:
        config: what ``parse_kubeconfig`` returned.
        name: the context asked for (``--context``); None is an error: the bed never uses
            the current context by itself.
        source: the kubeconfig's path, for messages.

    Returns:
        The context.

    Raises:
        ConfigError: no name given, no such context (the ones there are listed), or a
            context whose cluster is missing or has no usable server URL.
    """
    contexts = _named(config, "contexts")
    listing = ", ".join(sorted(contexts)) or "none"
    if not name:
        raise ConfigError(
            f"no context named: pass --context NAME (contexts in {source}: {listing})"
        )
    if name not in contexts:
        raise ConfigError(
            f"context {name!r} is not in {source} (it has: {listing}); pass one of them "
            "with --context"
        )
    body = contexts[name].get("context") or {}
    cluster_name = body.get("cluster") if isinstance(body, Mapping) else None
    if not isinstance(cluster_name, str) or not cluster_name:
        raise ConfigError(f"context {name!r} in {source} names no cluster; {_FIX_FILE}")
    cluster = _named(config, "clusters").get(cluster_name)
    if cluster is None:
        raise ConfigError(
            f"context {name!r} names cluster {cluster_name!r}, which {source} does not define; "
            f"{_FIX_FILE}"
        )
    server = (cluster.get("cluster") or {}).get("server")
    parts = urlsplit(server) if isinstance(server, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"cluster {cluster_name!r} in {source} has no usable server URL "
            f"(got {server!r}; expected https://HOST:PORT); {_FIX_FILE}"
        )
    user = body.get("user") or ""
    namespace = body.get("namespace")
    return KubeContext(name, cluster_name, str(server), str(user), namespace)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every error behind it (causes, contexts, urllib3's ``reason``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def explain_api_failure(
    server: str, *, status: int | None = None, error: BaseException | None = None
) -> str | None:
    """One line for what a probe of the API server (``GET /version``) returned.

    Args:
        server: the server URL, for the message.
        status: the HTTP status it answered, if it answered.
        error: the exception the probe raised, if any (urllib3, kubernetes, socket).

    Returns:
        None when the server answered 2xx; else what is wrong and what to do.
    """
    if error is not None:
        status = status or getattr(error, "status", None)
    if status is not None and 200 <= status < 300:
        return None
    if status == 401:
        return (
            f"API server {server} refused the credentials (401): renew them or pick "
            "another --context"
        )
    if status == 403:
        return f"API server {server} answered 403 (forbidden) for /version: check the user's RBAC"
    if status is not None:
        return f"API server {server} answered HTTP {status} for /version"
    texts = []
    for item in _chain(error) if error is not None else []:
        texts.append(str(item))
        if isinstance(item, ConnectionRefusedError) or "Connection refused" in str(item):
            return (
                f"nothing listens at {server} (connection refused): is the cluster running? "
                "(kind: docker ps; else check the context's server)"
            )
        if isinstance(item, socket.gaierror) or "Name or service not known" in str(item):
            return f"cannot resolve the host of {server}: check the context's server name"
        if isinstance(item, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(item):
            return f"TLS with {server} failed ({_first_line(item)}): check the cluster's CA data"
        if isinstance(item, TimeoutError) or "timed out" in str(item):
            return f"API server {server} did not answer in time: is it reachable from here?"
    detail = _first_line(error) if error is not None else "no answer"
    return f"API server {server} did not answer: {detail}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def check_api_server(server: str, probe: Callable[[], object]) -> None:
    """Run ``probe`` (e.g. ``VersionApi(api).get_code``); raise one line if it fails.

    Args:
        server: the server URL, for the message.
        probe: a call that raises when the server does not answer properly.

    Raises:
        SetupError: what ``explain_api_failure`` says about the probe's error.
    """
    try:
        probe()
    except Exception as exc:  # any failure of the probe is explained, never a traceback
        message = explain_api_failure(server, error=exc)
        if message is not None:
            raise SetupError(message) from exc
