"""What the configuration renderers of every local data plane share (pure).

A setting comes from the candidate's annotation, else the controller ConfigMap key of the
same name, else its default, as ingress-nginx resolves it; timeouts are written the way
nginx and HAProxy both read them; upstreams are named per hellogo Service port; the status
server of every data plane answers ``GENERATION_PATH`` with the configuration generation, so
a reload is known to be served once a new connection sees the new number.
"""

from __future__ import annotations

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import SERVICE_NAME, Setup

GENERATION_PATH = "/generation"


def seconds(value: str, what: str) -> str:
    """A timeout in seconds (``60``, ``60s`` or ``5m``) as ``60s``; ConfigError if not one."""
    text = value.strip()
    number = text[:-1] if text[-1:] in "sm" else text
    if not number.isdigit():
        raise ConfigError(f"{what} {value!r} is not a number of seconds")
    return text if text[-1:] in "sm" else f"{text}s"


def setting(setup: Setup, key: str, default: str) -> str:
    """An annotation wins over the ConfigMap key of the same name, which wins over default."""
    value = setup.ingress.annotation(key)
    if value is None:
        value = setup.controller.get(key)
    return default if value is None else str(value)


def positive(setup: Setup, key: str, default: str) -> int:
    """A setting that must be a positive whole number (``worker-processes``).

    Raises:
        ConfigError: it is not one.
    """
    value = setting(setup, key, default)
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{key} {value!r} is not a positive number")
    return int(value)


def upstream_name(port: int) -> str:
    """Name of the upstream (backend) for hellogo ``port``."""
    return f"{SERVICE_NAME}-{port}"
