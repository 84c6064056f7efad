"""The envoy flavor of the placement model, pure: hand-checkable vectors and Envoy's rules.

Figures that Envoy's own gauges show (slots per host, ring sizes), the rules of each hash
policy, the client address per ClientTrafficPolicy setting, and the path normalization of
Envoy Gateway's listener. The real Envoy checks the same model pick for pick in
``test_placement_envoy_real.py``.
"""

from __future__ import annotations

import itertools

import pytest
import xxhash

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy import EnvoyPredictor
from ingressbed.placement.envoy_address import host_key, parse_ip, split_peer
from ingressbed.placement.envoy_client import TRUST_EVERYONE, ClientDetection, last_address
from ingressbed.placement.envoy_maglev import MaglevTable, check_table_size, is_prime
from ingressbed.placement.envoy_path import canonical_path, forwarded_path, merge_slashes
from ingressbed.placement.envoy_policy import (
    HashPolicy,
    chain,
    cookie_value,
    generated_cookie,
    parse_policy,
    query_value,
    rotl64,
)
from ingressbed.placement.envoy_request import view
from ingressbed.placement.envoy_ringhash import HashRing
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint

SIX = [Endpoint(f"127.61.0.{i}", 8080) for i in (2, 3, 4, 5, 6, 7)]
SEVEN = [*SIX, Endpoint("127.61.0.8", 8080)]


def _moved(a: MaglevTable, b: MaglevTable) -> float:
    return sum(a.hosts[x] != b.hosts[y] for x, y in zip(a.table, b.table, strict=True)) / a.size


# -- XXH64 and Maglev ------------------------------------------------------------------


def test_xxh64_is_the_classic_64_bit_xxhash():
    assert xxhash.xxh64_intdigest(b"") == 0xEF46DB3751D8E999
    assert xxhash.xxh64_intdigest(b"", 1) != xxhash.xxh64_intdigest(b"")


def test_six_hosts_share_65537_slots_as_five_of_10923_and_one_of_10922():
    table = MaglevTable(SIX)
    counts = table.entries_per_host()
    assert sorted(counts.values()) == [10922] + [10923] * 5
    # The first M mod N hosts in key order take the extra slot: here all but the last.
    assert list(counts.values()) == [10923] * 5 + [10922]
    assert sum(table.shares().values()) == pytest.approx(1.0)
    assert table.shares()[table.hosts[0]] == 10923 / 65537


def test_seven_hosts_share_65537_slots_as_9363_and_9362():
    counts = list(MaglevTable(SEVEN).entries_per_host().values())
    assert counts == [9363] * 3 + [9362] * 4  # 65537 = 7 * 9362 + 3


def test_a_small_prime_table_deals_its_slots_round_robin():
    counts = list(MaglevTable(SIX, size=13).entries_per_host().values())
    assert counts == [3, 2, 2, 2, 2, 2]


def test_hosts_are_sorted_by_key_bytes_whatever_the_endpoint_order():
    hosts = [Endpoint("127.61.0.2", 80), Endpoint("127.61.0.100", 80), Endpoint("127.61.0.10", 80)]
    table = MaglevTable(hosts, size=257)
    # Byte order, not numeric: "0" (0x30) sorts before ":" (0x3a).
    assert [str(h) for h in table.hosts] == ["127.61.0.100:80", "127.61.0.10:80", "127.61.0.2:80"]
    for order in itertools.permutations(hosts):
        assert MaglevTable(list(order), size=257).table == table.table


def test_a_lookup_is_the_slot_of_the_hash_modulo_the_table_size():
    table = MaglevTable(SIX, size=13)
    for value in (0, 12, 13, 2**64 - 1, 0xDEADBEEF):
        assert table.lookup(value) == table.hosts[table.table[value % 13]]


def test_a_seventh_host_moves_about_a_seventh_of_the_slots():
    moved = _moved(MaglevTable(SIX), MaglevTable(SEVEN))
    assert moved == pytest.approx(0.1443, abs=0.0001)  # ideal 1/7 = 0.1429
    assert _moved(MaglevTable(SIX), MaglevTable(SIX[:5])) == pytest.approx(0.1681, abs=0.0001)


def test_weights_give_proportional_slots():
    counts = MaglevTable(SIX[:2], size=65537, weights=[1, 3]).entries_per_host()
    assert counts[SIX[0]] + counts[SIX[1]] == 65537
    assert counts[SIX[1]] / 65537 == pytest.approx(0.75, abs=0.001)


@pytest.mark.parametrize("size", [65536, 1, 15, 5000011 + 2])
def test_a_table_size_envoy_refuses_is_refused(size):
    with pytest.raises(ConfigError):
        check_table_size(size)


def test_primes():
    assert [n for n in range(30) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert is_prime(65537) and is_prime(5000011) and not is_prime(65535)


def test_an_ipv6_host_key_is_bracketed_in_inet_ntop_form():
    assert host_key(Endpoint("2001:db8::1", 80)) == "[2001:db8::1]:80"
    assert host_key(Endpoint("::ffff:10.1.2.3", 80)) == "[::ffff:10.1.2.3]:80"


# -- ring hash --------------------------------------------------------------------------


def test_six_equal_hosts_get_171_ring_entries_each_and_seven_147():
    six = HashRing(SIX)
    assert six.size == 1026 and set(six.entries_per_host().values()) == {171}
    seven = HashRing(SEVEN)
    assert seven.size == 1029 and set(seven.entries_per_host().values()) == {147}


def test_ring_entries_are_xxh64_of_key_underscore_number():
    ring = HashRing(SIX[:1], min_ring_size=4)
    expected = sorted(xxhash.xxh64_intdigest(f"127.61.0.2:8080_{i}".encode()) for i in range(4))
    assert ring.hashes == expected


def test_a_ring_lookup_takes_the_first_entry_at_or_above_and_wraps():
    ring = HashRing(SIX, min_ring_size=16)
    first, second = ring.hashes[0], ring.hashes[1]
    owner = lambda index: ring.hosts[ring.owners[index]]  # noqa: E731
    assert ring.lookup(0) == owner(0)
    assert ring.lookup(first) == owner(0)
    assert ring.lookup(first + 1) == owner(1) and ring.lookup(second) == owner(1)
    assert ring.lookup(ring.hashes[-1] + 1) == owner(0)


def test_ring_shares_are_the_arcs_each_host_owns():
    shares = HashRing(SIX).shares()
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(0.13 < share < 0.2 for share in shares.values())
    one = HashRing(SIX[:1]).shares()
    assert one == {SIX[0]: 1.0}


def test_ring_hash_keeps_the_host_set_order():
    assert HashRing(list(reversed(SIX))).hosts == tuple(reversed(SIX))


# -- request hash ------------------------------------------------------------------------


def test_rotl64():
    assert rotl64(1 << 63) == 1
    assert rotl64(0x8000000000000001) == 3
    assert rotl64(5) == 10


def test_repeated_entries_are_sorted_and_chained():
    a, b = xxhash.xxh64_intdigest(b"a"), xxhash.xxh64_intdigest(b"b", xxhash.xxh64_intdigest(b"a"))
    assert chain(["x"]) == xxhash.xxh64_intdigest(b"x")
    assert chain(["b", "a"]) == chain(["a", "b"]) == b
    assert a != b


def _hash(policies, request, client=None):
    return EnvoyPredictor(SIX, policies=policies, client=client).hash(request)


def test_two_policies_combine_as_rotl_xor():
    request = Request(request_uri="/x?u=1", header_lines=(("X-User", "ann"),))
    header = xxhash.xxh64_intdigest(b"ann")
    query = xxhash.xxh64_intdigest(b"1")
    both = [HashPolicy("header", "x-user"), HashPolicy("query", "u")]
    assert _hash(both, request) == rotl64(header) ^ query
    # A policy without a value is skipped, not hashed as empty.
    only = [HashPolicy("header", "x-none"), HashPolicy("query", "u")]
    assert _hash(only, request) == query


def test_header_names_match_without_case_and_repeated_lines_chain():
    policy = [HashPolicy("header", "X-User")]
    lines = (("x-user", "b"), ("X-USER", "a"))
    assert _hash(policy, Request(header_lines=lines)) == chain(["a", "b"])
    assert _hash(policy, Request(header_lines=(("X-User", " a b \t"),))) == chain(["a b"])
    assert _hash(policy, Request(header_lines=(("X-User", ""),))) == xxhash.xxh64_intdigest(b"")
    assert _hash(policy, Request(headers={"X-User": "v"})) == xxhash.xxh64_intdigest(b"v")


def test_inline_headers_merge_their_lines_with_commas():
    lines = (("User-Agent", "b"), ("user-agent", "a"))
    assert _hash([HashPolicy("header", "user-agent")], Request(header_lines=lines)) == (
        xxhash.xxh64_intdigest(b"b,a")
    )


def test_authority_is_the_host_verbatim_and_host_finds_it_too():
    request = Request(header_lines=(("Host", "Shop.Example.COM:8443"),))
    expected = xxhash.xxh64_intdigest(b"Shop.Example.COM:8443")
    assert _hash([HashPolicy("header", ":authority")], request) == expected
    assert _hash([HashPolicy("header", "host")], request) == expected
    assert _hash([HashPolicy("header", ":authority")], Request(host="h:1")) == (
        xxhash.xxh64_intdigest(b"h:1")
    )


def test_path_is_hashed_after_envoy_gateways_normalization_with_its_query():
    policy = [HashPolicy("header", ":path")]
    for sent, seen in [
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("//a//b", "/a/b"),
        ("/a/../b?x=//y/../z", "/b?x=//y/../z"),
    ]:
        assert _hash(policy, Request(request_uri=sent)) == xxhash.xxh64_intdigest(seen.encode())


@pytest.mark.parametrize(
    ("sent", "seen"),
    [
        ("/a/./b", "/a/b"),
        ("/a/%2e%2E/b", "/b"),
        ("/%41%7e%2d", "/A~-"),
        ("/a b", "/a%20b"),
        ("/a\\b", "/a/b"),
        ("/..", "/"),
        ("/a/b/../../../c", "/c"),
        ("/x/.", "/x/"),
        ("/%3a%40", "/%3a%40"),
        ("/%%300", "/%2500"),
        ("/a;b", "/a;b"),
        ("/%7Bx%7d", "/%7Bx%7d"),
    ],
)
def test_canonical_path(sent, seen):
    assert forwarded_path(sent) == seen


def test_merge_slashes_keeps_a_leading_and_a_trailing_slash():
    assert merge_slashes(b"//a///b//") == b"/a/b/"
    assert merge_slashes(b"/a/b") == b"/a/b"


@pytest.mark.parametrize("sent", ["/a%2Fb", "/a%5cb", "/a#f", "/a%00b", "x"])
def test_a_path_envoy_never_forwards_is_refused(sent):
    with pytest.raises(ConfigError):
        forwarded_path(sent)
    assert canonical_path(b"/a%00") is None


def test_cookie_rules():
    assert cookie_value(["a=1; sid=x; sid=y"], "sid") == "x"
    assert cookie_value(["a=1", "sid=2"], "sid") == "2"
    assert cookie_value(['sid="q"'], "sid") == "q"
    assert cookie_value(["sid=trail ;x=1"], "sid") == "trail "
    assert cookie_value(["SID=1"], "sid") is None
    assert cookie_value(["sid=; sid=2"], "sid") == ""  # the first match wins, empty
    policy = [HashPolicy("cookie", "sid")]
    assert _hash(policy, Request(header_lines=(("Cookie", 'sid=""'),))) is None
    assert _hash(policy, Request(cookies={"sid": "v"})) == xxhash.xxh64_intdigest(b"v")


def test_a_cookie_with_a_ttl_is_generated_from_the_peer_and_the_listener():
    value = generated_cookie("127.61.9.9:40000", "127.61.0.1:8080")
    assert value == f"{xxhash.xxh64_intdigest(b'127.61.9.9:40000127.61.0.1:8080'):016x}"
    assert len(value) == 16
    policy = [HashPolicy("cookie", "sid", ttl=60)]
    request = Request(peer="127.61.9.9:40000", local="127.61.0.1:8080")
    assert _hash(policy, request) == xxhash.xxh64_intdigest(value.encode())
    with pytest.raises(ConfigError, match="peer as IP:PORT"):
        _hash(policy, Request(peer="127.61.9.9", local="127.61.0.1:8080"))


def test_query_rules():
    assert query_value("/x?a=1&u=a%20b&u=2", "u") == "a%20b"
    assert query_value("/x?u", "u") == "" and query_value("/x?u=", "u") == ""
    assert query_value("/x?U=1", "u") is None and query_value("/x", "u") is None


def test_no_value_from_any_policy_means_random():
    model = EnvoyPredictor(SIX, policies=[HashPolicy("header", "x-no"), HashPolicy("query", "q")])
    assert model.pick(Request(request_uri="/p")) is None
    assert model.hash(Request(request_uri="/p")) is None


# -- the client address ---------------------------------------------------------------------


def test_the_default_client_is_the_tcp_peer_whatever_x_forwarded_for_says():
    policy = [HashPolicy("source-ip")]
    expected = xxhash.xxh64_intdigest(b"127.61.9.9")
    assert _hash(policy, Request(client_ip="10.1.2.3", peer="127.61.9.9:5000")) == expected
    with pytest.raises(ConfigError, match="TCP peer"):
        _hash(policy, Request(client_ip="10.1.2.3"))


def test_trusted_hops_take_the_nth_address_from_the_right():
    hops = lambda n: ClientDetection(trusted_hops=n)  # noqa: E731
    assert hops(1).client("1.1.1.1, 2.2.2.2", "9.9.9.9") == "2.2.2.2"
    assert hops(2).client("1.1.1.1, 2.2.2.2", "9.9.9.9") == "1.1.1.1"
    assert hops(3).client("1.1.1.1, 2.2.2.2", "9.9.9.9") == "9.9.9.9"  # too short: the peer
    assert hops(1).client("1.2.3.4:80", "9.9.9.9") == "9.9.9.9"  # not a bare IP
    assert hops(1).client(None, "9.9.9.9") == "9.9.9.9"
    assert last_address("1.1.1.1,", 0) is None  # a trailing comma keeps the comma in
    request = Request(header_lines=(("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "2.2.2.2")))
    seen = view(request, append_peer=False)
    assert seen.xff == "1.1.1.1,2.2.2.2"


def test_trusted_cidrs_take_the_first_untrusted_address_or_the_leftmost():
    cidrs = ClientDetection(trusted_cidrs=("127.0.0.0/8", "198.51.0.0/16"))
    xff = "203.0.113.7, 100.64.0.1, 198.51.0.9"
    assert cidrs.client(xff, "127.0.0.5") == "100.64.0.1"
    assert cidrs.client(xff, "10.0.0.1") == "10.0.0.1"  # the peer is not trusted
    assert cidrs.client("127.0.0.9, 198.51.1.1", "127.0.0.5") == "127.0.0.9"  # all trusted
    assert cidrs.client("203.0.113.7, junk", "127.0.0.5") == "127.0.0.5"
    everyone = ClientDetection(trusted_cidrs=TRUST_EVERYONE)
    assert everyone.client("1.1.1.1, 2.2.2.2", "127.0.0.5") == "1.1.1.1"


def test_client_detection_refuses_bad_settings():
    with pytest.raises(ConfigError, match="not both"):
        ClientDetection(trusted_hops=1, trusted_cidrs=TRUST_EVERYONE)
    with pytest.raises(ConfigError, match="1 or more"):
        ClientDetection(trusted_hops=0)
    with pytest.raises(ConfigError, match="not a CIDR"):
        ClientDetection(trusted_cidrs=("10.0.0.0/33",))


@pytest.mark.parametrize(
    ("sent", "seen"),
    [
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::ffff:10.1.2.3", "::ffff:10.1.2.3"),
        ("10.1.2.3", "10.1.2.3"),
        ("010.1.2.3", None),
        ("[::1]", None),
        ("host", None),
    ],
)
def test_addresses_in_envoys_text_form(sent, seen):
    assert parse_ip(sent) == seen


def test_source_ip_hashes_the_canonical_text():
    model = EnvoyPredictor(SIX, policies=[HashPolicy("source-ip")], client=ClientDetection(1))
    assert model.hash(Request(client_ip="2001:DB8:0:0:0:0:0:1")) == xxhash.xxh64_intdigest(
        b"2001:db8::1"
    )


def test_peers_are_read_with_or_without_a_port():
    assert split_peer("127.0.0.1:80") == ("127.0.0.1", 80)
    assert split_peer("127.0.0.1") == ("127.0.0.1", None)
    assert split_peer("[2001:DB8::1]:80") == ("2001:db8::1", 80)
    assert split_peer("2001:db8::1") == ("2001:db8::1", None)
    for bad in ("x:80", "1.2.3.4:0", "[::1]", "1.2.3.4:"):
        with pytest.raises(ConfigError):
            split_peer(bad)


def test_x_forwarded_for_gets_the_peer_appended_only_without_a_client_traffic_policy():
    request = Request(client_ip="10.0.0.1", peer="127.61.9.9:5000")
    policy = [HashPolicy("header", "x-forwarded-for")]
    assert _hash(policy, request) == xxhash.xxh64_intdigest(b"10.0.0.1,127.61.9.9")
    assert _hash(policy, request, ClientDetection(1)) == xxhash.xxh64_intdigest(b"10.0.0.1")


# -- policies and the predictor -------------------------------------------------------------------


def test_policies_are_read_from_text():
    assert parse_policy("source-ip") == HashPolicy("source-ip")
    assert parse_policy("header::path") == HashPolicy("header", ":path")
    assert parse_policy("header:X-User") == HashPolicy("header", "x-user")
    assert str(parse_policy("cookie:sid")) == "cookie:sid"
    for bad in ("sourceip", "header:", "cookie", "query:", "header::method", "header:x-request-id"):
        with pytest.raises(ConfigError):
            parse_policy(bad)


def test_the_predictor_refuses_what_envoy_would_not_run():
    with pytest.raises(ConfigError, match="hash policy"):
        EnvoyPredictor(SIX)
    with pytest.raises(ConfigError, match="load balancer"):
        EnvoyPredictor(SIX, lb="random", policies=[HashPolicy("source-ip")])
    with pytest.raises(ConfigError, match="prime"):
        EnvoyPredictor(SIX, table_size=1000, policies=[HashPolicy("source-ip")])


def test_requests_without_the_envoy_fields_are_as_before():
    request = Request(client_ip="1.2.3.4")
    assert request.header_lines == () and request.peer == "" and request.local == ""


def test_the_predictor_reports_shares_and_entries_of_its_balancer():
    maglev = EnvoyPredictor(SIX, policies=[HashPolicy("source-ip")])
    assert sum(maglev.entries_per_host().values()) == 65537
    ring = EnvoyPredictor(SIX, lb="ring-hash", policies=[HashPolicy("source-ip")])
    assert sum(ring.entries_per_host().values()) == 1026
    assert sum(ring.shares().values()) == pytest.approx(1.0)
