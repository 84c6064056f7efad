"""What can be predicted of ingress-nginx cookie affinity (``affinity: cookie``).

The cookie (default name ``INGRESSCOOKIE``) holds ``<key>|<backend key>``. The backend
key is ``md5hex(md5hex(name) + name)`` of the backend name, which is
``<namespace>-<service>-<port>``: it names the Service port, so each port is its own
backend. Only ``<key>`` decides the pod:

* ``balanced`` (default): ``<key>`` is random at the first visit and then placed on the
  same ``address:port`` ring as ``upstream-hash-by`` uses. A cookie therefore follows the
  ring: it stays while the ring maps it to the same endpoint; when that pod goes, or a
  new pod takes over its arc, the session moves. A cookie made on another port's backend
  is still hashed on this backend's ring, to an unrelated pod.
* ``persistent``: ``<key>`` is ``md5hex(backend name + "address:port")`` of the endpoint
  first chosen (uniformly at random). A session stays exactly as long as that endpoint
  exists in this backend; otherwise a new random endpoint and a new cookie are chosen.
  Scaling up moves no session.

First visits (no cookie) are random in both modes and so cannot be predicted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ingressbed.errors import ConfigError
from ingressbed.placement.ring import Ring, RingKind, node_id
from ingressbed.vocabulary import Endpoint

#: Cookie name ingress-nginx uses without ``session-cookie-name``.
DEFAULT_COOKIE_NAME = "INGRESSCOOKIE"
#: The two ``affinity-mode`` values.
BALANCED = "balanced"
PERSISTENT = "persistent"
AFFINITY_MODES: tuple[str, ...] = (BALANCED, PERSISTENT)


def _md5hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def backend_name(namespace: str, service: str, port: int | str) -> str:
    """The controller's backend name for a Service port.

    Args:
        namespace: the Service's namespace.
        service: the Service name.
        port: the Service port (number or name, as the Ingress gives it).

    Returns:
        ``<namespace>-<service>-<port>``.
    """
    return f"{namespace}-{service}-{port}"


def backend_key(backend: str) -> str:
    """The second half of the cookie value for a backend.

    Args:
        backend: the backend name (see ``backend_name``).

    Returns:
        ``md5hex(md5hex(backend) + backend)``.
    """
    return _md5hex(_md5hex(backend) + backend)


def split_cookie(value: str) -> tuple[str | None, str | None]:
    """Split a cookie value into ``(key, backend key)`` as the balancer reads it.

    Empty pieces between ``|`` are skipped, as the Lua splitter does.

    Args:
        value: the cookie value.

    Returns:
        The key and the backend key; ``None`` where a piece is missing.
    """
    pieces = [piece for piece in value.split("|") if piece]
    return (pieces[0] if pieces else None, pieces[1] if len(pieces) > 1 else None)


def persistent_cookie(backend: str, endpoint: Endpoint) -> str:
    """The cookie value persistent mode sets when it sends a session to ``endpoint``.

    Args:
        backend: the backend name.
        endpoint: the chosen endpoint.

    Returns:
        ``<md5hex(backend + address:port)>|<backend key>``.
    """
    node = node_id(RingKind.LUA, endpoint).decode()
    return f"{_md5hex(backend + node)}|{backend_key(backend)}"


def balanced_cookie(key: str, backend: str) -> str:
    """The cookie value balanced mode sets for a session key.

    Args:
        key: the session key (the controller draws it at random on the first visit).
        backend: the backend name.

    Returns:
        ``<key>|<backend key>``.
    """
    return f"{key}|{backend_key(backend)}"


def predict_cookie(
    mode: str,
    endpoints: Sequence[Endpoint],
    cookie_value: str | None,
    *,
    backend: str = "",
) -> Endpoint | None:
    """The endpoint a request carrying ``cookie_value`` goes to.

    Args:
        mode: ``"balanced"`` or ``"persistent"``.
        endpoints: the backend's current endpoints.
        cookie_value: the affinity cookie's value, or ``None`` without one.
        backend: the backend name (needed by persistent mode; see ``backend_name``).

    Returns:
        The endpoint, or ``None`` when the balancer makes a new random choice (no cookie,
        or in persistent mode a cookie whose endpoint is not in this backend).

    Raises:
        ConfigError: an unknown mode, no endpoints, or persistent mode without a backend.
    """
    if mode not in AFFINITY_MODES:
        raise ConfigError(f"affinity-mode {mode!r}: use one of {', '.join(AFFINITY_MODES)}")
    if not endpoints:
        raise ConfigError("no endpoints: give at least one ADDRESS:PORT")
    key = split_cookie(cookie_value)[0] if cookie_value is not None else None
    if key is None:
        return None
    if mode == BALANCED:
        return Ring.build(RingKind.LUA, endpoints).lookup(key.encode())
    if not backend:
        raise ConfigError("persistent affinity needs the backend name (namespace-service-port)")
    for endpoint in endpoints:
        if persistent_cookie(backend, endpoint).split("|", 1)[0] == key:
            return endpoint
    return None


def session_kept(
    mode: str,
    before: Sequence[Endpoint],
    after: Sequence[Endpoint],
    cookie_value: str,
    *,
    backend: str = "",
) -> bool:
    """Whether a session with ``cookie_value`` keeps its pod when ``before`` becomes ``after``.

    Args:
        mode: ``"balanced"`` or ``"persistent"``.
        before: endpoints when the cookie was set.
        after: endpoints now.
        cookie_value: the cookie value.
        backend: the backend name (persistent mode).

    Returns:
        True when the request still goes to the same endpoint.

    Raises:
        ConfigError: as ``predict_cookie``; also when the cookie does not pin a pod in
            ``before``.
    """
    first = predict_cookie(mode, before, cookie_value, backend=backend)
    if first is None:
        raise ConfigError("the cookie does not pin any endpoint of the first list")
    return predict_cookie(mode, after, cookie_value, backend=backend) == first
