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
- ``status``: the status listener's client and its sync state; ``run``: ``LuaPlane``, the
  runner (start, reload, post, wait until every worker applied a post, stop);
- ``service_conf`` / ``service_run``: Service addresses for ``service-upstream`` (HAProxy
  in TCP mode, one random pod per connection).

docs/ingress-nginx-local.md says what each rule is, where it comes from, and every known
difference from the real controller.
"""

from ingressbed.ingress_nginx_lua.backends import (
    ALGORITHMS,
    LOAD_BALANCE,
    Backend,
    CookieAffinity,
    TrafficShaping,
    document,
)
from ingressbed.ingress_nginx_lua.backends_read import read_document, replace_endpoints
from ingressbed.ingress_nginx_lua.conf import Location, LuaConf, Server, Tls, render
from ingressbed.ingress_nginx_lua.modules import LUA_DIR, LuaModules, find_lua_modules
from ingressbed.ingress_nginx_lua.run import LuaPlane
from ingressbed.ingress_nginx_lua.service_conf import ServicePort
from ingressbed.ingress_nginx_lua.service_run import ServiceProxy
from ingressbed.ingress_nginx_lua.status import StatusClient, SyncState, WorkerState

__all__ = [
    "ALGORITHMS",
    "LOAD_BALANCE",
    "LUA_DIR",
    "Backend",
    "CookieAffinity",
    "Location",
    "LuaConf",
    "LuaModules",
    "LuaPlane",
    "Server",
    "ServicePort",
    "ServiceProxy",
    "StatusClient",
    "SyncState",
    "Tls",
    "TrafficShaping",
    "WorkerState",
    "document",
    "find_lua_modules",
    "read_document",
    "render",
    "replace_endpoints",
]
