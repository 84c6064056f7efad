"""Where Debian keeps nginx's Lua module and the Lua libraries it needs, and the bed's Lua.

The local ingress-nginx plane loads two dynamic modules into the OS's nginx (the nginx
development kit and ``ngx_http_lua``, Debian package ``libnginx-mod-http-lua``) and needs
``resty.core`` (``lua-resty-core``, which the Lua module refuses to start without) and
``cjson`` (``lua-cjson``). ``find_lua_modules`` finds them or says in one line what to
install. The bed's own balancer is ``conf.LUA_DIR`` (package data).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ingressbed.errors import ToolError
from ingressbed.planes.base import LuaModules

#: Where Debian's nginx keeps its dynamic modules.
NGINX_MODULES = Path("/usr/lib/nginx/modules")
#: Where Debian keeps Lua 5.1 source modules (resty.core) and compiled ones (cjson.so).
LUA_SHARE: tuple[Path, ...] = (Path("/usr/share/lua/5.1"), Path("/usr/local/share/lua/5.1"))
LUA_LIB_PATTERNS: tuple[str, ...] = (
    "usr/lib/*/lua/5.1",
    "usr/lib/lua/5.1",
    "usr/local/lib/lua/5.1",
)
#: The one line that fixes a missing piece.
INSTALL = "apt-get install libnginx-mod-http-lua lua-resty-core lua-cjson"


def find_lua_modules(
    modules_dir: Path = NGINX_MODULES,
    share: Sequence[Path] = LUA_SHARE,
    lib_root: Path = Path("/"),
) -> LuaModules:
    """Find nginx's Lua module, ``resty.core`` and ``cjson``.

    Args:
        modules_dir: the folder with nginx's dynamic modules.
        share: folders that may hold ``resty/core.lua``.
        lib_root: the root under which ``LUA_LIB_PATTERNS`` are searched for ``cjson.so``.

    Returns:
        The module files and the folders to put on Lua's search paths.

    Raises:
        ToolError: a piece is missing; the message names it and the apt-get line.
    """
    ndk = modules_dir / "ndk_http_module.so"
    lua = modules_dir / "ngx_http_lua_module.so"
    for needed in (lua, ndk):
        if not needed.is_file():
            raise ToolError(
                f"nginx's Lua module is not installed ({needed} is missing); install it: {INSTALL}"
            )
    resty = [folder for folder in share if (folder / "resty" / "core.lua").is_file()]
    if not resty:
        raise ToolError(
            f"lua-resty-core is not installed (no resty/core.lua in "
            f"{', '.join(map(str, share))}); install it: {INSTALL}"
        )
    cjson = [
        folder
        for pattern in LUA_LIB_PATTERNS
        for folder in sorted(lib_root.glob(pattern))
        if (folder / "cjson.so").is_file()
    ]
    if not cjson:
        raise ToolError(
            f"lua-cjson is not installed (no cjson.so for Lua 5.1); install it: {INSTALL}"
        )
    return LuaModules(
        str(ndk), str(lua), tuple(str(f) for f in resty), tuple(str(f) for f in cjson[:1])
    )
