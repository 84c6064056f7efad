"""The haproxy flavor of the placement model against REAL haproxy on loopback.

One haproxy process (Debian's 2.6) serves every case: its frontend takes the client
address from ``X-Forwarded-For`` (``http-request set-src``) and routes ``/bN/...`` to
backend N. Each backend is one combination of ``balance`` (source, uri and its options,
hdr), ``hash-type`` (map-based by default, consistent, other functions, avalanche), server
ids (by position, explicit, mixed) and weights. The servers are tiny HTTP listeners on
127.0.0.x answering their own ``address:port``. Every answer must be exactly the server
``HaproxyPredictor`` names; requests whose key is missing (HAProxy's round robin) are
counted, not compared.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ingressbed.placement import Request
from ingressbed.placement.haproxy import HaproxyPredictor, parse_hash_type
from ingressbed.placement.haproxy_hash import full_hash
from ingressbed.vocabulary import Endpoint
from tests.real_processes import free_ports, start_whoami, stop_whoami, wait_until_answering

HAPROXY_BIN = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)
REQUESTS_PER_BACKEND = 30
ALL_BALANCES = (
    "source",
    "uri",
    "uri whole",
    "uri len 9",
    "uri depth 2",
    "uri whole len 14 depth 3",
    "uri path-only",
    "uri path-only whole len 20",
    "hdr(x-key)",
    "hdr(host)",
)
MAIN_BALANCES = ("source", "uri whole", "hdr(x-key)")
ALL_HASH_TYPES = (
    None,  # no hash-type line: HAProxy's default, map-based
    "consistent",
    "consistent djb2",
    "consistent wt6 avalanche",
    "map-based crc32 avalanche",
)
MAIN_HASH_TYPES = (None, "consistent")
EDGE_HASH_TYPE = "consistent sdbm"  # source without avalanche: the address is the hash


@dataclass(frozen=True)
class Backend:
    name: str
    balance: str
    hash_type: str | None
    endpoints: tuple[Endpoint, ...]
    ids: tuple[int | None, ...]
    weights: tuple[int, ...]

    def predictor(self) -> HaproxyPredictor:
        return HaproxyPredictor(
            self.endpoints,
            self.balance,
            self.hash_type or "map-based",
            server_ids=self.ids,
            weights=self.weights,
        )


def _server_lists(
    pa: int, pb: int, pc: int
) -> list[tuple[tuple[Endpoint, ...], tuple[int | None, ...], tuple[int, ...]]]:
    six = [f"127.0.0.{i}" for i in range(2, 8)]
    ten = [f"127.0.0.{i}" for i in range(2, 12)]
    return [
        (tuple(Endpoint(a, pa) for a in six), (None,) * 6, (1,) * 6),  # ids by position
        (tuple(Endpoint(a, pb) for a in six), (3, None, None, 2, None, 9), (1,) * 6),  # mixed
        (
            tuple(Endpoint(a, pc) for a in ten),
            (11, 12, 13, 14, 15, 16, 17, 18, 19, 20),
            (4, 6, 2, 2, 8, 2, 2, 2, 6, 2),  # GCD 2 for the map-based table
        ),
    ]


def _backends(pa: int, pb: int, pc: int) -> list[Backend]:
    result: list[Backend] = []
    for number, (endpoints, ids, weights) in enumerate(_server_lists(pa, pb, pc)):
        balances = ALL_BALANCES if number == 0 else MAIN_BALANCES
        hash_types = ALL_HASH_TYPES if number == 0 else MAIN_HASH_TYPES
        for balance in balances:
            for hash_type in hash_types:
                name = f"b{len(result)}"
                result.append(Backend(name, balance, hash_type, endpoints, ids, weights))
    # Aimed at the ring's nodes by test_haproxy_ring_edges_and_ties_match_the_model.
    endpoints, ids, weights = _server_lists(pa, pb, pc)[1]
    result.append(Backend(f"b{len(result)}", "source", EDGE_HASH_TYPE, endpoints, ids, weights))
    # One server: every request goes to it, key or no key.
    result.append(
        Backend(f"b{len(result)}", "hdr(x-key)", None, (Endpoint("127.0.0.9", pa),), (None,), (1,))
    )
    return result


def _config(front: int, backends: list[Backend]) -> str:
    lines = [
        "global",
        "  maxconn 512",
        "defaults",
        "  mode http",
        "  timeout connect 5s",
        "  timeout client 30s",
        "  timeout server 30s",
        "frontend front",
        f"  bind 127.0.0.1:{front}",
        "  http-request set-src hdr(x-forwarded-for)",
        "  http-response set-header X-Seen-Src %[src]",
        *(f"  use_backend {b.name} if {{ path_beg /{b.name}/ }}" for b in backends),
    ]
    for b in backends:
        lines += [f"backend {b.name}", f"  balance {b.balance}"]
        if b.hash_type is not None:
            lines.append(f"  hash-type {b.hash_type}")
        for n, (endpoint, puid, weight) in enumerate(
            zip(b.endpoints, b.ids, b.weights, strict=True)
        ):
            explicit = "" if puid is None else f" id {puid}"
            lines.append(f"  server s{n} {endpoint} weight {weight}{explicit}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Bed:
    front: int
    backends: list[Backend]


@pytest.fixture(scope="module")
def real_haproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    if HAPROXY_BIN is None:
        pytest.fail("haproxy is not installed: `bash scripts/bootstrap` installs it")
    tmp = tmp_path_factory.mktemp("haproxy")
    front, pa, pb, pc = free_ports(4)
    backends = _backends(pa, pb, pc)
    config = tmp / "haproxy.cfg"
    config.write_text(_config(front, backends))
    log = tmp / "haproxy.log"
    checked = subprocess.run(
        [HAPROXY_BIN, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    servers = start_whoami({e for b in backends for e in b.endpoints})
    proc: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [HAPROXY_BIN, "-db", "-f", str(config)], stdout=sink, stderr=subprocess.STDOUT
            )
        wait_until_answering(proc, front, log)
        yield Bed(front, backends)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stop_whoami(servers)


def _client(rng: random.Random, n: int) -> str:
    if n % 6 == 5:
        return f"fd00:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"
    return ".".join(str(rng.randrange(1, 255)) for _ in range(4))


def _requests(backend: Backend, rng: random.Random) -> list[Request]:
    values = ["alice", "bob, carol", "x ,y", '"a,b", z', "u\t v", "k-1", "k-2", "k-3"]
    hosts = ["hellogo.example", "Shop.Example.COM:8443", "api.example.", "x.test"]
    result = []
    for n in range(REQUESTS_PER_BACKEND):
        depth = "/".join(rng.choice(["a", "bb", "c%20d", ""]) for _ in range(rng.randrange(4)))
        query = rng.choice(["", f"?id={rng.randrange(1000)}", "?x=1/2&y=3", "?", "?q=a?b"])
        headers = {"X-Key": rng.choice(values)} if n % 5 else {}  # some lack the key
        host = rng.choice(hosts)
        target = f"/{backend.name}/{depth}{query}"
        if n % 7 == 6:  # absolute-form: HAProxy hashes the whole URI unless path-only
            host = host.split(":")[0]
            target = f"http://{host}{target}"
        result.append(
            Request(client_ip=_client(rng, n), host=host, request_uri=target, headers=headers)
        )
    return result


def _ask(client: httpx.Client, request: Request) -> Endpoint:
    headers = {"Host": request.host, "X-Forwarded-For": request.client_ip, **request.headers}
    target = request.request_uri
    path = target if target.startswith("/") else "/" + target.split("/", 3)[3]
    # httpx connects to the front; the raw target goes on the request line as it is.
    answer = client.get(path, headers=headers, extensions={"target": target.encode()})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-seen-src"] == request.client_ip  # set-src applied
    return Endpoint.parse(answer.text)


@pytest.mark.slow
def test_haproxy_picks_match_the_model(real_haproxy: Bed) -> None:
    rng = random.Random(20261129)
    checked = 0
    round_robin = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{real_haproxy.front}", timeout=5.0) as client:
        for backend in real_haproxy.backends:
            predictor = backend.predictor()
            for request in _requests(backend, rng):
                got = _ask(client, request)
                expected = predictor.pick(request)
                if expected is None:  # no X-Key header: HAProxy balances round robin
                    round_robin += 1
                    assert got in backend.endpoints
                    continue
                assert got == expected, (backend, request)
                checked += 1
    total = len(real_haproxy.backends) * REQUESTS_PER_BACKEND
    assert checked + round_robin == total
    assert 0 < round_robin < 0.1 * total  # only hdr(x-key) requests without the header


def _ring_edges(predictor: HaproxyPredictor) -> list[str]:
    """Client addresses at, next to and exactly between ring nodes (source, no avalanche)."""
    ring = predictor._ring
    assert ring is not None
    addresses = []
    for i in range(len(ring.keys)):
        low, high = ring.keys[i - 1], ring.keys[i]
        if ring.owners[i - 1] == ring.owners[i] or i == 0:
            continue
        for value in (high, high - 1, low + 1):
            addresses.append(value)
        if (high - low) % 2 == 0:
            addresses.append((low + high) // 2)  # a tie: HAProxy takes the lower node
    # The wrap-around: below the smallest node and above the largest.
    addresses += [0, 1, ring.keys[0], ring.keys[-1], 0xFFFFFFFF]
    return [".".join(str(b) for b in value.to_bytes(4, "big")) for value in addresses]


@pytest.mark.slow
def test_haproxy_ring_edges_and_ties_match_the_model(real_haproxy: Bed) -> None:
    # With "consistent sdbm" the source key is the address itself (no avalanche), so
    # client addresses can be aimed at the nodes: on one, next to one, exactly between two.
    backend = next(b for b in real_haproxy.backends if b.hash_type == EDGE_HASH_TYPE)
    predictor = backend.predictor()
    assert predictor.hash_type.avalanche is False
    clients = _ring_edges(predictor)
    ties = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{real_haproxy.front}", timeout=5.0) as client:
        for address in clients:
            request = Request(client_ip=address, request_uri=f"/{backend.name}/")
            assert _ask(client, request) == predictor.pick(request), address
    ring = predictor._ring
    assert ring is not None
    for i in range(1, len(ring.keys)):
        if ring.owners[i - 1] != ring.owners[i] and (ring.keys[i] - ring.keys[i - 1]) % 2 == 0:
            ties += 1
    assert len(clients) > 200 and ties > 10  # the edges and ties were really exercised


def test_the_model_knows_haproxy_constants() -> None:
    # Fixed points a wrong port of the arithmetic would miss (HAProxy 2.6's own values).
    assert full_hash(4096) == 0x49C2008B
    assert parse_hash_type("consistent").avalanche is True
    assert parse_hash_type("consistent djb2").avalanche is False
