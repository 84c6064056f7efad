"""`--which-key` benchmark: lines per second beside a bare regex parse of the same file.

Run: ``.venv/bin/python bench/bench_whichkey.py [--lines 1000000] [--repeat 1]``.

Writes a production-like ``upstreaminfo`` log (``ingressbed.accesslog.production``: three
backends, default-backend 404s, retries and internal redirects; the shop hashed by
``$request_uri``) into a temporary file, then times, on that file:

* ``bare``: a hand-written regex over each line, capturing every field, reading the file
  the same way (what a throw-away script would do, once);
* ``which-key``: ``ingressbed analyze --access-log FILE --upstream default-shop-8080
  --which-key --host shop.example.test --try '$http_user_agent' --try '$http_referer'
  --json``, the whole command: both passes over the file, 8 keys and round robin.

The ratio is which-key's time over the bare parse's; no target (the command reads the
file twice and places every line of the selected backend once per key). Best of
``--repeat`` runs each.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_accesslog import bare, best_of
from summary import record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingressbed.accesslog import production
from ingressbed.cli import main as cli

COMMAND = [
    "analyze", "-q", "--upstream", "default-shop-8080", "--which-key", "--host",
    "shop.example.test", "--try", "$http_user_agent", "--try", "$http_referer", "--json",
]  # fmt: skip


def which_key(path: str) -> int:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli([*COMMAND, "--access-log", path])
    data = json.loads(out.getvalue())
    assert status == 0 and len(data["which_key"]) == 9, data["which_key"]
    assert data["which_key"][0] == {"candidate": "$request_uri", "agreement": 1.0}
    return sum(data["upstream"]["backends"].values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingressbed-bench-") as folder:
        path = str(Path(folder) / "access.log")
        start = time.perf_counter()
        with open(path, "w", encoding="ascii") as out:
            backends = production.standard("$request_uri")
            out.writelines(production.lines(args.lines, backends, clients=20_000, pages=20_000))
        size = Path(path).stat().st_size
        print(
            f"python {sys.version.split()[0]}; generated {args.lines:,} upstreaminfo lines "
            f"({size / 1e6:.0f} MB, 3 backends and 404s) in {time.perf_counter() - start:.1f} s"
        )
        bare_s, bare_n = best_of(args.repeat, lambda: bare(path))
        key_s, key_n = best_of(args.repeat, lambda: which_key(path))
    assert bare_n == key_n == args.lines, (bare_n, key_n)
    print(f"bare regex parse   {bare_s:6.2f} s  {bare_n / bare_s:>11,.0f} lines/s")
    print(
        f"--which-key (8+rr) {key_s:6.2f} s  {key_n / key_s:>11,.0f} lines/s  "
        f"ratio {key_s / bare_s:.2f}x"
    )
    record("whichkey", "--which-key, 8 keys", key_n / key_s, "lines/s", "bare regex parse",
           bare_n / bare_s)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
