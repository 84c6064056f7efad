"""Benchmark: hellogo (one process) against nginx (one worker) with wrk and keep-alive.

    python bench/bench_hellogo.py [--duration 5] [--connections 32] [--bypass]

Starts one hellogo process and one nginx (``return 200 "hello\\n";``, no access log,
everything under a temporary directory), runs ``wrk -t1 -c32 -d5s`` against each,
prints requests/s of both and the ratio hellogo/nginx. hellogo is measured on one
cached URL (``X-Cache-Status: HIT``, its hot path); ``--bypass`` adds a run with
``Cache-Control: no-cache`` (every answer rendered). Everything started is stopped
and the temporary directory removed, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from summary import record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hellogo.process import HellogoProcess, free_ports

NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "hello\\n"; }}
    }}
}}
"""


class BenchError(Exception):
    """A tool is missing or a server did not start."""


def find_tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        raise BenchError(f"{name} is not installed (apt-get install {name})")
    return path


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"nginx exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"nginx did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def start_nginx(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    proc = subprocess.Popen(
        [find_tool("nginx"), "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(url: str, threads: int, connections: int, duration: float, headers: list[str]) -> float:
    command = [find_tool("wrk"), f"-t{threads}", f"-c{connections}", f"-d{duration:g}s"]
    for header in headers:
        command += ["-H", header]
    command.append(url)
    print("  $", shlex.join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30)
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise BenchError(f"wrk failed: {result.stderr.strip() or result.stdout.strip()}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", result.stdout)
    if errors:
        print(f"  wrk: {errors.group(0)}")
    return float(match.group(1))


def warm_up(url: str, headers: list[str]) -> None:
    request = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in headers))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except OSError as exc:
        raise BenchError(f"{url} does not answer: {exc}") from exc


def interrupt(signum: int, frame: object) -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt, even when started with SIGINT ignored."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hellogo vs nginx with wrk")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (1)")
    parser.add_argument("--bypass", action="store_true", help="also run hellogo uncached")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)

    tmp = Path(tempfile.mkdtemp(prefix="bench-hellogo-"))
    hellogo: HellogoProcess | None = None
    nginx: subprocess.Popen[bytes] | None = None
    try:
        http1, http2, ws, nginx_port = free_ports(4)
        hellogo = HellogoProcess("127.0.0.1", [http1, http2], ws, env={"POD_NAME": "bench"})
        hellogo.start()
        nginx = start_nginx(tmp, nginx_port)
        runs = [("hellogo", f"http://127.0.0.1:{http1}/", [])]
        if args.bypass:
            no_cache = ["Cache-Control: no-cache"]
            runs.append(("hellogo-bypass", f"http://127.0.0.1:{http1}/", no_cache))
        runs.append(("nginx", f"http://127.0.0.1:{nginx_port}/", []))
        results: dict[str, float] = {}
        for name, url, headers in runs:
            print(f"{name}:", flush=True)
            warm_up(url, headers)
            results[name] = wrk(url, args.threads, args.connections, args.duration, headers)
        print()
        for name, rate in results.items():
            print(f"{name:15s} {rate:12,.0f} requests/s")
        for name in results:
            if name != "nginx":
                print(f"ratio {name}/nginx: {results[name] / results['nginx']:.2f}")
                record(
                    "hellogo",
                    f"{name} per pod",
                    results[name],
                    "req/s",
                    "nginx return 200",
                    results["nginx"],
                )
        return 0
    except BenchError as exc:
        print(f"bench_hellogo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if hellogo is not None:
            hellogo.close()
        stop(nginx)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
