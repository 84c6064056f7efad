"""hellogo: the multi-port HTTP and WebSocket echo service of ingressbed.

One process is one pod. Every listener answers HTTP/1.1 (keep-alive, pipelining) with
the pod's identity, caches pages per (host, URI, representation) for a TTL and reports
``X-Cache-Status``; any request may upgrade to a WebSocket that says hello and echoes.

Run it with ``python -m hellogo``; see docs/hellogo.md. The modules, one job each:

- ``config``: options and environment into a ``Config``
- ``identity``: the pod's name, IP and node
- ``cache``: the bounded TTL page cache (injectable clock)
- ``http``: sans-I/O HTTP/1.x request reading
- ``answer``: rendering of bodies and headers
- ``responder``: one listener's answer to one request, cache included
- ``ws``: the WebSocket echo over ``websockets``' sans-I/O ServerProtocol
- ``server``: asyncio listeners, connections, graceful stop
- ``process``: start a hellogo subprocess and wait for it (tests, bench, local bed)
"""

from __future__ import annotations

from hellogo.cache import BYPASS, EXPIRED, HIT, MISS, PageCache
from hellogo.config import Config, parse_config
from hellogo.errors import HellogoError, HttpError, ListenError, UsageError
from hellogo.identity import Identity, identity_from_env

__all__ = [
    "BYPASS",
    "EXPIRED",
    "HIT",
    "MISS",
    "Config",
    "HellogoError",
    "HttpError",
    "Identity",
    "ListenError",
    "PageCache",
    "UsageError",
    "identity_from_env",
    "parse_config",
]
