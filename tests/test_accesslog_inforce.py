"""`--which-key` on a log the local ingress-nginx plane really wrote: the key in force, and
after a live edit of upstream-hash-by (the stale-key rule), the old key still in force.

Each phase sends 240 requests for one path with 240 distinct queries from 60 clients
(chosen at random, so the order of pods has no period).
Wrong keys then cannot reach 0.5: ``$uri`` and ``$host`` are constant, so they agree only
on the one pod they name (about 1/6 of the requests: 0.5 is over 10 standard deviations
above); ``$remote_addr``, ``$binary_remote_addr`` and ``$host$request_uri`` hash values
unrelated to the request target, so they agree about 1/6 of the time (the same margin);
round robin's cycle test gives each pod one successor, which holds about 1/6 of the time
(0.18 to 0.25 seen; 0.5 is 40 successive pairs over their mean per pod).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from ingressbed.accesslog.replay import bed_setup
from ingressbed.backends.local import LocalBackend
from ingressbed.cli import main
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.options import BedOptions
from ingressbed.vocabulary import HTTP_PORT

pytestmark = pytest.mark.slow

#: The local ingress-nginx plane's log_format (ingressbed/ingress_nginx_lua/conf.py).
LOCAL_FORMAT = (
    '$remote_addr "$host" "$request" $status upstream=$upstream_addr '
    "backend=$proxy_upstream_name canary=$proxy_alternative_upstream_name"
)
REQUESTS = 240
WRONG_BELOW = 0.5


def _send(bed: LocalBackend, phase: str) -> None:
    rng = random.Random(phase)  # clients in no periodic order: the cycle test sees noise
    clients = [f"10.9.{i}.{i % 7 + 1}" for i in range(60)]
    requests = [
        HttpRequest(f"/inforce?{phase}={i}", "shop.example.test", rng.choice(clients))
        for i in range(REQUESTS)
    ]
    answers = probe(bed.address(), requests, concurrency=4)
    assert all(a.status == 200 for a in answers), [a.status for a in answers][:5]


def _lines(log: Path, marker: str) -> list[str]:
    """The log's lines of one phase, once nginx has flushed them all (buffer: 1 s)."""
    deadline = time.monotonic() + 15
    while True:
        found = [x for x in log.read_text().splitlines(keepends=True) if marker in x]
        if len(found) >= REQUESTS or time.monotonic() > deadline:
            return found
        time.sleep(0.2)  # polling the file for a condition, with a deadline


@pytest.fixture(scope="module")
def phases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Phase ``a`` hashed by $request_uri; ``b`` after editing it to $remote_addr on the
    running plane (the balancer keeps its key); ``c`` after applying that afresh."""
    bed = LocalBackend(BedOptions(backend="local", quiet=True, data_plane="ingress-nginx"))
    folder = tmp_path_factory.mktemp("inforce")
    bed.start()
    try:
        bed.apply(bed_setup("$request_uri"))
        assert len(bed.endpoints(HTTP_PORT)) >= 4  # chance agreement stays near 1/pods
        _send(bed, "a")
        bed.apply_keeping_balancers(bed_setup("$remote_addr"))
        _send(bed, "b")
        bed.apply(bed_setup("$remote_addr"))  # a fresh apply: the balancer made anew
        _send(bed, "c")
        assert bed._run_dir is not None
        log = bed._run_dir / "access.log"
        out = {}
        for phase in ("a", "b", "c"):
            lines = _lines(log, f"/inforce?{phase}=")
            assert len(lines) == REQUESTS
            out[phase] = folder / f"{phase}.log"
            out[phase].write_text("".join(lines))
        return out
    finally:
        bed.close()


def _which_key(capsys: pytest.CaptureFixture[str], log: Path) -> list[dict[str, object]]:
    status = main(
        ["analyze", "-q", "--access-log", str(log), "--log-format", LOCAL_FORMAT,
         "--which-key", "--json"]
    )  # fmt: skip
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["upstream"]["requests"] == REQUESTS
    return data["which_key"]


def test_the_key_in_force_agrees_exactly_and_no_other_reaches_half(phases, capsys):
    fits = _which_key(capsys, phases["a"])
    assert fits[0] == {"candidate": "$request_uri", "agreement": 1.0}
    assert {f["candidate"] for f in fits} >= {"$remote_addr", "$uri", "$host", "round-robin"}
    assert all(f["agreement"] < WRONG_BELOW for f in fits[1:]), fits


def test_after_a_live_edit_the_old_key_is_still_in_force(phases, capsys):
    fits = _which_key(capsys, phases["b"])
    assert fits[0] == {"candidate": "$request_uri", "agreement": 1.0}
    edited = next(f for f in fits if f["candidate"] == "$remote_addr")
    assert edited["agreement"] < WRONG_BELOW


def test_once_the_balancer_is_made_anew_the_new_key_is_found(phases, capsys):
    fits = _which_key(capsys, phases["c"])
    assert fits[0] == {"candidate": "$remote_addr", "agreement": 1.0}
    # $binary_remote_addr hashes the same client as 4 raw bytes: another ring position.
    assert all(f["agreement"] < WRONG_BELOW for f in fits[1:]), fits
