"""The local ingress-nginx data plane: nginx + Debian's Lua module running the bed's own
balancer, driven by backends JSON in the controller's shape.

The parts, each in its own module:

- ``lua/bed/*.lua``: the balancer (ring, chash, subset, round robin, ewma, cookie
  affinity, canaries, the 1 s per-worker sync) and the status listener's handlers;
- ``backends``: ``Backend`` and friends, typed, written as the controller's JSON;
  ``backends_read``: reading and checking a posted document (a real ``/dbg backends all``
  output included);
- ``conf``: nginx.conf from ``LuaConf`` (servers, locations, listen addresses); ``modules``:
  where Debian keeps the Lua module and libraries;
- ``status``: the status listener's client; ``sync``: what its ``/sync`` answer means;
  ``run``: ``LuaPlane``, the runner (start, reload, post, wait until every worker applied
  a post, stop);
- ``service_conf`` / ``service_run``: Service addresses for ``service-upstream`` (HAProxy
  in TCP mode, one random pod per connection).

docs/ingress-nginx-local.md says what each rule is, where it comes from, and every known
difference from the real controller.

The package itself exports the pure parts only (the plane module imports them); the
runner, the status client and the Service proxy are imported from their modules.
"""

# The planes package first: its ingress-nginx plane imports this package's conf module,
# which imports planes.base; started from here, that circle would find conf half-made.
import ingressbed.planes  # noqa: F401
from ingressbed.ingress_nginx_lua.backends import (
    ALGORITHMS,
    LOAD_BALANCE,
    Backend,
    CookieAffinity,
    TrafficShaping,
    document,
)
from ingressbed.ingress_nginx_lua.backends_read import read_document, replace_endpoints
from ingressbed.ingress_nginx_lua.conf import LUA_DIR, Location, LuaConf, Server, Tls, render
from ingressbed.ingress_nginx_lua.sync import SyncState, WorkerState
from ingressbed.planes.base import ServicePort

__all__ = [
    "ALGORITHMS",
    "LOAD_BALANCE",
    "LUA_DIR",
    "Backend",
    "CookieAffinity",
    "Location",
    "LuaConf",
    "Server",
    "ServicePort",
    "SyncState",
    "Tls",
    "TrafficShaping",
    "WorkerState",
    "document",
    "read_document",
    "render",
    "replace_endpoints",
]
