"""The two path layouts of incident 1, as Ingress routes.

``three-ports``: /8080 -> 8080, /9090 -> 9090, /ws -> 8081 (the incident's Ingress).
``one-port``:    the same three paths, all to 8080 (the incident's suggested fix).
"""

from __future__ import annotations

from collections.abc import Mapping

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import (
    ANNOTATION_PREFIX,
    HTTP2_PORT,
    HTTP_PORT,
    WS_PORT,
    IngressSpec,
    Route,
    Setup,
)

DEFAULT_HOST = "hellogo.d.xiaomi.net"
PATHS: dict[str, tuple[tuple[str, int], ...]] = {
    "three-ports": (("/8080", HTTP_PORT), ("/9090", HTTP2_PORT), ("/ws", WS_PORT)),
    "one-port": (("/8080", HTTP_PORT), ("/9090", HTTP_PORT), ("/ws", HTTP_PORT)),
}
#: ConfigMap keys every setup gets: one runner acts as many clients; exact counts.
BASE_CONTROLLER: Mapping[str, str] = {"use-forwarded-headers": "true"}


def routes(layout: str, host: str | None = DEFAULT_HOST) -> tuple[Route, ...]:
    try:
        paths = PATHS[layout]
    except KeyError:
        raise ConfigError(f"layout {layout!r} is not one of {', '.join(PATHS)}") from None
    return tuple(Route(path, port, host) for path, port in paths)


def setup(
    layout: str = "three-ports",
    annotations: Mapping[str, str] | None = None,
    *,
    controller: Mapping[str, str] | None = None,
    replicas: int = 6,
    host: str | None = DEFAULT_HOST,
    name: str = "hellogo",
) -> Setup:
    """A Setup for ``layout``; annotation names may be given without the prefix."""
    full = {
        (k if "/" in k else ANNOTATION_PREFIX + k): str(v) for k, v in (annotations or {}).items()
    }
    return Setup(
        IngressSpec(name, routes(layout, host), full),
        {**BASE_CONTROLLER, **(controller or {})},
        replicas,
    )
