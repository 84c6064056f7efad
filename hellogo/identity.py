"""Who this pod is: name, IP and node, from the environment."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


@dataclass(frozen=True)
class Identity:
    """The pod's identity as every answer reports it.

    Attributes:
        pod: the pod name (``POD_NAME``).
        pod_ip: the pod IP (``POD_IP``).
        node: the node name (``NODE_NAME``).
    """

    pod: str
    pod_ip: str
    node: str


def identity_from_env(env: Mapping[str, str], address: str) -> Identity:
    """Read the identity from the environment, with the documented defaults.

    Args:
        env: the environment; reads ``POD_NAME``, ``POD_IP`` and ``NODE_NAME``.
        address: the listen address; it is the default pod IP unless it is a wildcard.

    Returns:
        The identity. ``POD_NAME`` and ``NODE_NAME`` default to the host name;
        ``POD_IP`` defaults to ``address``, or ``127.0.0.1`` for ``0.0.0.0`` and ``::``.
    """
    hostname = socket.gethostname()
    default_ip = "127.0.0.1" if address in _WILDCARDS else address
    return Identity(
        pod=env.get("POD_NAME") or hostname,
        pod_ip=env.get("POD_IP") or default_ip,
        node=env.get("NODE_NAME") or hostname,
    )
