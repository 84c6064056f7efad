"""Command-line options and environment variables, turned into one ``Config``.

Options beat environment variables. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from hellogo.errors import UsageError

DEFAULT_ADDRESS = "0.0.0.0"
DEFAULT_HTTP_PORTS = (8080, 9090)
DEFAULT_WS_PORT = 8081
DEFAULT_CACHE_TTL = 100.0
MAX_DELAY_MS = 60_000


@dataclass(frozen=True)
class Config:
    """What one hellogo process listens on and how long it caches pages.

    Attributes:
        address: the address every listener binds (``0.0.0.0``, ``::``, ``127.0.0.5``...).
        http_ports: the HTTP listeners, in the order given.
        ws_port: the WebSocket listener (it answers plain HTTP too).
        cache_ttl: seconds a cached page stays fresh.
        delay_ms: extra latency of every HTTP answer, in milliseconds (0: none); a
            slow pod for latency-aware balancing (ewma).
    """

    address: str = DEFAULT_ADDRESS
    http_ports: tuple[int, ...] = DEFAULT_HTTP_PORTS
    ws_port: int = DEFAULT_WS_PORT
    cache_ttl: float = DEFAULT_CACHE_TTL
    delay_ms: int = 0

    @property
    def ports(self) -> tuple[int, ...]:
        """All listener ports: the HTTP ports, then the WebSocket port."""
        return (*self.http_ports, self.ws_port)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are a ``UsageError`` instead of usage text."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _port(text: str) -> int:
    """Parse one TCP port (0 asks the kernel for a free one)."""
    try:
        port = int(text.strip())
    except ValueError:
        raise UsageError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"port out of range 0-65535: {port}")
    return port


def _ttl(text: str, source: str) -> float:
    """Parse a cache TTL in seconds (a non-negative number)."""
    try:
        ttl = float(text)
    except ValueError:
        raise UsageError(f"{source} is not a number of seconds: {text!r}") from None
    if not ttl >= 0 or ttl == float("inf"):
        raise UsageError(f"{source} must be a finite number of seconds >= 0: {text!r}")
    return ttl


def _delay(text: str, source: str) -> int:
    """Parse a delay in whole milliseconds, 0..MAX_DELAY_MS."""
    try:
        delay = int(text.strip())
    except ValueError:
        raise UsageError(f"{source} is not a whole number of milliseconds: {text!r}") from None
    if not 0 <= delay <= MAX_DELAY_MS:
        raise UsageError(f"{source} must be 0..{MAX_DELAY_MS} milliseconds: {text!r}")
    return delay


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="python -m hellogo",
        description="Multi-port HTTP and WebSocket echo service with a per-pod page cache.",
    )
    parser.add_argument("--address", help="address to listen on (env LISTEN_ADDRESS)")
    parser.add_argument(
        "--http-ports", help="comma-separated HTTP ports (default 8080,9090)", default=None
    )
    parser.add_argument("--ws-port", help="WebSocket port (default 8081)", default=None)
    parser.add_argument("--cache-ttl", help="page cache TTL in seconds (env CACHE_TTL)")
    parser.add_argument(
        "--delay-ms", help="answer every HTTP request this many ms late (env DELAY_MS)"
    )
    return parser


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> Config:
    """Build the configuration from the command line and the environment.

    Args:
        argv: the arguments after the program name.
        env: the environment (``os.environ``); reads ``LISTEN_ADDRESS``, ``CACHE_TTL`` and
            ``DELAY_MS``.

    Returns:
        The validated configuration.

    Raises:
        UsageError: an option or variable is malformed, or two listeners share a port.
    """
    args = _build_parser().parse_args(list(argv))
    address = args.address if args.address is not None else env.get("LISTEN_ADDRESS", "")
    address = address.strip() or DEFAULT_ADDRESS
    http_ports: tuple[int, ...] = DEFAULT_HTTP_PORTS
    if args.http_ports is not None:
        items = [item for item in args.http_ports.split(",") if item.strip()]
        if not items:
            raise UsageError("--http-ports needs at least one port")
        http_ports = tuple(_port(item) for item in items)
    ws_port = DEFAULT_WS_PORT if args.ws_port is None else _port(args.ws_port)
    if args.cache_ttl is not None:
        cache_ttl = _ttl(args.cache_ttl, "--cache-ttl")
    elif env.get("CACHE_TTL", "").strip():
        cache_ttl = _ttl(env["CACHE_TTL"], "CACHE_TTL")
    else:
        cache_ttl = DEFAULT_CACHE_TTL
    if args.delay_ms is not None:
        delay_ms = _delay(args.delay_ms, "--delay-ms")
    elif env.get("DELAY_MS", "").strip():
        delay_ms = _delay(env["DELAY_MS"], "DELAY_MS")
    else:
        delay_ms = 0
    fixed = [port for port in (*http_ports, ws_port) if port != 0]
    for port in fixed:
        if fixed.count(port) > 1:
            raise UsageError(f"port {port} is given to more than one listener")
    return Config(
        address=address,
        http_ports=http_ports,
        ws_port=ws_port,
        cache_ttl=cache_ttl,
        delay_ms=delay_ms,
    )
