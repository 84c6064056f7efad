"""The haproxy flavor's pure parts and the new predict options, without any process.

The real-binary checks are in test_placement_haproxy.py and test_placement_nginx_methods.py;
these pin the worked examples of HAProxy's rules and the command-line contract.
"""

from __future__ import annotations

import pytest

from ingressbed.cli import main
from ingressbed.errors import ConfigError
from ingressbed.placement import Request
from ingressbed.placement.haproxy import (
    Balance,
    HaproxyPredictor,
    first_element,
    map_table,
    parse_balance,
    parse_hash_type,
    resolve_ids,
    source_value,
    uri_bytes,
)
from ingressbed.placement.haproxy_hash import crc32, djb2, full_hash, sdbm, wt6
from ingressbed.placement.nginx_methods import hash_pick, ip_hash_bytes
from ingressbed.vocabulary import Endpoint

SIX = [Endpoint(f"10.244.0.{i}", 8080) for i in range(2, 8)]


def test_hash_functions_and_avalanche() -> None:
    assert crc32(b"abc") == 0x352441C2
    assert full_hash(4096) == 0x49C2008B
    assert sdbm(b"") == 0 and djb2(b"") == 5381
    assert sdbm(b"a") == 97 and djb2(b"a") == 5381 * 33 + 97
    assert wt6(b"") == 0xA53C965A ^ 0x5CA6953A
    # full_hash is a bijection: no two of many inputs collide
    assert len({full_hash(v) for v in range(0, 1 << 20, 7)}) == len(range(0, 1 << 20, 7))


def test_server_ids_as_haproxy_assigns_them() -> None:
    assert resolve_ids([None] * 4) == (1, 2, 3, 4)
    assert resolve_ids([3, None, None, 2, None]) == (3, 4, 5, 2, 7)
    assert resolve_ids([5, None, None]) == (5, 2, 3)
    with pytest.raises(ConfigError, match="given twice"):
        resolve_ids([2, 2])


def test_map_table_interleaves_weights() -> None:
    assert map_table([1, 1, 1]) == (0, 1, 2)
    assert map_table([3, 2, 1]) == (0, 0, 1, 0, 1, 2)
    assert map_table([4, 6, 2]) == (0, 1, 0, 1, 1, 2)


def test_keys() -> None:
    assert source_value("10.232.41.102") == 182987110
    assert source_value("::1") == 1
    assert uri_bytes("/p/1?q=5", Balance("uri")) == b"/p/1"
    assert uri_bytes("/p/1?q=5", Balance("uri", whole=True)) == b"/p/1?q=5"
    assert uri_bytes("/a/b/c", Balance("uri", depth=2)) == b"/a/b"
    assert uri_bytes("/p/1?q=5", Balance("uri", whole=True, length=6)) == b"/p/1?q"
    assert uri_bytes("http://h:8080/a?x", Balance("uri")) == b"http://h:8080/a"
    assert uri_bytes("http://h:8080/a?x", Balance("uri", path_only=True)) == b"/a"
    assert first_element("a, b") == "a"
    assert first_element('"a,b", z') == '"a,b"'
    assert first_element("  a\t ") == "a"


def test_parsing_lines() -> None:
    assert parse_balance("uri whole len 12 depth 3") == Balance("uri", "", True, 12, 3)
    assert parse_balance("hdr(X-Key)") == Balance("hdr", header="x-key")
    assert str(parse_balance("uri  depth 2   whole")) == "uri whole depth 2"
    assert parse_hash_type("consistent").avalanche
    assert not parse_hash_type("map-based").avalanche
    assert not parse_hash_type("consistent djb2").avalanche
    assert parse_hash_type("map-based crc32 avalanche").avalanche
    with pytest.raises(ConfigError, match="not predictable"):
        parse_balance("hdr(host) use_domain_only")


def test_source_map_based_is_address_mod_servers() -> None:
    predictor = HaproxyPredictor(SIX, "source")
    assert predictor.pick(Request(client_ip="10.232.41.102")) == SIX[182987110 % 6]


def test_consistent_depends_on_ids_not_addresses() -> None:
    other = [Endpoint(f"10.9.9.{i}", 9090) for i in range(6)]
    a = HaproxyPredictor(SIX, "source", "consistent")
    b = HaproxyPredictor(other, "source", "consistent")
    pinned = HaproxyPredictor(SIX, "source", "consistent", server_ids=[9, 8, 7, 6, 5, 4])
    clients = [Request(client_ip=f"172.16.{n // 250}.{n % 250}") for n in range(1000)]
    positions = [SIX.index(p) for p in map(a.pick, clients) if p is not None]
    assert positions == [other.index(p) for p in map(b.pick, clients) if p is not None]
    differ = sum(a.pick(c) != pinned.pick(c) for c in clients)
    assert differ > 500  # other ids, another ring


def test_missing_header_is_round_robin_and_one_server_always_wins() -> None:
    assert HaproxyPredictor(SIX, "hdr(x-key)").pick(Request()) is None
    assert HaproxyPredictor(SIX[:1], "hdr(x-key)").pick(Request()) == SIX[0]


def test_nginx_methods_pure() -> None:
    assert ip_hash_bytes("1.2.3.4") == b"\x01\x02\x03"
    assert len(ip_hash_bytes("fd00::1")) == 16
    assert hash_pick(SIX, [1] * 6, b"") is None
    assert hash_pick(SIX[:1], [1], b"") == SIX[0]


def _predict(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["predict", "--endpoints", ",".join(map(str, SIX)), *argv]) == 0
    return capsys.readouterr().out


def test_cli_haproxy_and_nginx_methods(capsys: pytest.CaptureFixture[str]) -> None:
    out = _predict(
        capsys, "--flavor", "haproxy", "--balance", "source", "--client-ip", "10.232.41.102"
    )
    assert out == f"{SIX[4]}\n"
    out = _predict(
        capsys,
        "--flavor",
        "haproxy",
        "--balance",
        "uri whole",
        "--hash-type",
        "consistent",
        "--server-ids",
        "3,-,-,2,-,9",
        "--request-uri",
        "/a?b",
    )
    expected = HaproxyPredictor(
        SIX, "uri whole", "consistent", server_ids=[3, None, None, 2, None, 9]
    ).pick(Request(request_uri="/a?b"))
    assert out == f"{expected}\n"
    assert _predict(capsys, "--flavor", "haproxy", "--balance", "hdr(x-key)") == "round-robin\n"
    out = _predict(capsys, "--flavor", "nginx", "--method", "ip-hash", "--client-ip", "1.2.3.4")
    assert out == _predict(
        capsys, "--flavor", "nginx", "--method", "ip-hash", "--client-ip", "1.2.3.200"
    )
    out = _predict(capsys, "--flavor", "nginx", "--method", "hash", "--hash-by", "$request_uri")
    assert out == f"{hash_pick(SIX, [1] * 6, b'/')}\n"
