"""Benchmark: the local ingress-nginx plane's Lua balancer against nginx's own consistent hash.

    python bench/bench_lua_balancer.py [--duration 5] [--connections 32] [--pods 6]

The same route twice, one wrk run each (keep-alive, ``wrk -t1 -c32 -d5s``):

- the Lua plane (``ingress_nginx_lua.LuaPlane``, one worker): ``upstream-hash-by:
  $request_uri`` over 6 endpoints, posted as the controller posts it; per request the
  rewrite phase picks the backend, the balancer phase evaluates the key and looks it up
  on the 160-points-per-endpoint ring (in Lua);
- plain nginx (one worker): ``hash $request_uri consistent`` over the same 6 endpoints,
  the same proxy settings (headers, realip, upstream keep-alive, 3 tries).

The endpoints are one more nginx answering ``return 200`` on 6 ports, so the figures are
the front's cost. Printed: requests/s of both, their ratio, and the Lua balancer's extra
time per request (1/lua - 1/plain, one worker). Everything started is stopped and the
temporary folder removed, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_hellogo import BenchError, find_tool, interrupt, stop, wait_for_port, warm_up, wrk
from summary import record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hellogo.process import free_ports
from ingressbed.errors import BedError
from ingressbed.ingress_nginx_lua import Backend, Location, Server
from ingressbed.ingress_nginx_lua.run import LuaPlane
from ingressbed.planes.base import Listen
from ingressbed.vocabulary import Endpoint

TEMP_PATHS = "\n".join(
    f"    {kind}_temp_path {{tmp}}/{kind};"
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
)
PODS_CONF = (
    """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
"""
    + TEMP_PATHS
    + """
{servers}
}}
"""
)
PLAIN_CONF = (
    """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000;
"""
    + TEMP_PATHS
    + """
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    map $http_x_forwarded_for $full_x_forwarded_for {{
        default "$http_x_forwarded_for, $realip_remote_addr";
        '' $realip_remote_addr;
    }}
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    set_real_ip_from 0.0.0.0/0;
    upstream web {{
        hash $request_uri consistent;
{servers}
        keepalive 320;
    }}
    server {{
        listen 127.0.0.1:{port} default_server;
        location / {{
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $full_x_forwarded_for;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_pass http://web;
        }}
    }}
}}
"""
)


def start_nginx(folder: Path, text: str, port: int) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True)
    conf = folder / "nginx.conf"
    conf.write_text(text)
    proc = subprocess.Popen(
        [find_tool("nginx"), "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lua balancer vs nginx hash consistent")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (32)")
    parser.add_argument("--pods", type=int, default=6, help="endpoints (6)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)

    tmp = Path(tempfile.mkdtemp(prefix="bench-lua-"))
    pods: subprocess.Popen[bytes] | None = None
    plain: subprocess.Popen[bytes] | None = None
    plane: LuaPlane | None = None
    try:
        ports = free_ports(args.pods + 3)
        endpoints = tuple(Endpoint("127.0.0.1", p) for p in ports[: args.pods])
        plain_port, lua_port, status_port = ports[args.pods :]
        pod_servers = "\n".join(
            f'    server {{ listen {e}; location / {{ return 200 "{e}\\n"; }} }}' for e in endpoints
        )
        pods = start_nginx(
            tmp / "pods", PODS_CONF.format(tmp=tmp / "pods", servers=pod_servers), ports[0]
        )
        upstream = "\n".join(f"        server {e} max_fails=0;" for e in endpoints)
        plain = start_nginx(
            tmp / "plain",
            PLAIN_CONF.format(tmp=tmp / "plain", servers=upstream, port=plain_port),
            plain_port,
        )
        (tmp / "lua").mkdir()
        plane = LuaPlane(tmp / "lua", Listen("127.0.0.1", lua_port, status_port))
        plane.start([Server("_", Location.prefix("/", "default-web-80"))], workers=1)
        plane.apply([Backend("default-web-80", endpoints, hash_by="$request_uri")])
        results: dict[str, float] = {}
        for name, port in (("lua", lua_port), ("plain", plain_port)):
            url = f"http://127.0.0.1:{port}/shop/item?id=42"
            print(f"{name}:", flush=True)
            warm_up(url, [])
            results[name] = wrk(url, 1, args.connections, args.duration, [])
        lua, base = results["lua"], results["plain"]
        extra_us = (1 / lua - 1 / base) * 1e6
        print()
        print(f"Lua balancer (chash)       {lua:12,.0f} requests/s")
        print(f"nginx hash consistent      {base:12,.0f} requests/s")
        print(f"ratio lua/plain: {lua / base:.2f}; extra per request: {extra_us:.1f} us")
        record(
            "lua balancer",
            f"ingress-nginx (local) chash on $request_uri ({args.pods} endpoints)",
            lua,
            "req/s",
            "nginx hash consistent",
            base,
        )
        return 0
    except (BenchError, BedError) as exc:
        print(f"bench_lua_balancer: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if plane is not None:
            plane.stop()
        stop(plain)
        stop(pods)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
