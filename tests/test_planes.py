"""ingressbed.planes: the registry, and how each data plane renders an ingress-nginx candidate.

Pure tests: no process runs. docs/translation.md holds the key table; the last tests check
that it lists exactly what ``haproxy_balance`` accepts, with the same balance lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingressbed import planes
from ingressbed.errors import ConfigError
from ingressbed.placement.upstream import Pick
from ingressbed.placement.variables import Request
from ingressbed.planes.haproxy import (
    BY_POSITION,
    PER_POD,
    HaproxyBalance,
    haproxy_balance,
    pod_server_id,
)
from ingressbed.planes.haproxy_cfg import ROUND_ROBIN as HAPROXY_ROUND_ROBIN
from ingressbed.planes.haproxy_keys import _KEYS as _HAPROXY_KEYS
from ingressbed.planes.nginx_conf import HASH, HASH_CONSISTENT, IP_HASH, ROUND_ROBIN
from ingressbed.vocabulary import (
    ANNOTATION_PREFIX,
    HELLOGO_PORTS,
    DataPlane,
    Endpoint,
    Flavor,
    IngressSpec,
    Placement,
    Route,
    Setup,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "translation.md"
ADDRESSES = [f"10.244.0.{i}" for i in range(2, 8)]
CLIENTS = [Request(client_ip=f"172.16.{n // 200}.{n % 200 + 1}") for n in range(600)]
#: The planes standing for ingress-nginx's nginx and HAProxy successors.
SUCCESSOR_PLANES = [p for p in DataPlane if p.flavor in (Flavor.NGINX, Flavor.HAPROXY)]


def setup(**annotations: str) -> Setup:
    """A one-route candidate with these ingress-nginx annotations (short names)."""
    spec = IngressSpec(
        "candidate",
        (Route("/8080", 8080), Route("/9090", 9090), Route("/ws", 8081)),
        {ANNOTATION_PREFIX + k: v for k, v in annotations.items()},
    )
    return Setup(spec, {"use-forwarded-headers": "true"})  # as the bed serves every setup


def hashed(key: str) -> Setup:
    return setup(**{"upstream-hash-by": key})


def endpoints(port: int, addresses: list[str] = ADDRESSES) -> list[Endpoint]:
    return [Endpoint(a, port) for a in addresses]


def knobs(balance: planes.Balance) -> tuple[str, str]:
    """(hash type, server ids) of an HAProxy translation, ("", "") elsewhere."""
    if isinstance(balance, HaproxyBalance):
        return balance.hash_type, balance.server_ids
    return "", ""


# -- the registry ------------------------------------------------------------------------


def test_every_data_plane_has_a_module() -> None:
    assert {p.name for p in planes.all_planes()} == set(DataPlane)
    assert planes.all_planes()[0].name == DataPlane.INGRESS_NGINX
    for plane in planes.all_planes():
        assert planes.plane(plane.name.value) is plane
        assert plane.summary and plane.about


def test_local_planes_are_those_with_a_program() -> None:
    local = {p.name for p in planes.local_planes()}
    assert {DataPlane.INGRESS_NGINX, DataPlane.NGINX, DataPlane.HAPROXY} <= local
    for plane in planes.local_planes():
        assert plane.program is not None and plane.local_capabilities


def test_pick_values() -> None:
    a, b = Endpoint("10.0.0.1", 80), Endpoint("fd00::1", 80)
    assert str(Pick.to(a)) == "10.0.0.1:80" and Pick.to(a).exact == a
    group = Pick.group([a, b])
    assert str(group) == "10.0.0.1:80 [fd00::1]:80" and group.exact is None and group.fixed
    assert group.allows("fd00:0:0::0001", 80) and not group.allows("fd00::1", 81)
    anywhere = Pick.anywhere("round-robin")
    assert str(anywhere) == "round-robin" and not anywhere.fixed
    assert not anywhere.allows("10.0.0.1", 80)  # no prediction allows nothing


# -- a hash candidate on every plane ----------------------------------------------------

EXPECTED_CLIENT_HASH = {
    DataPlane.INGRESS_NGINX: (Placement.HASH.value, "$binary_remote_addr", "", ""),
    DataPlane.NGINX: (HASH_CONSISTENT, "$binary_remote_addr", "", ""),
    DataPlane.NGINX_HASH: (HASH, "$binary_remote_addr", "", ""),
    DataPlane.NGINX_IP_HASH: (IP_HASH, None, "", ""),
    DataPlane.HAPROXY: ("source", None, "consistent", BY_POSITION),
    DataPlane.HAPROXY_POD_IDS: ("source", None, "consistent", PER_POD),
    DataPlane.HAPROXY_MAP_BASED: ("source", None, "map-based", BY_POSITION),
    DataPlane.ENVOY: ("maglev", "$binary_remote_addr", "", ""),
    DataPlane.ENVOY_RING_HASH: ("ring-hash", "$binary_remote_addr", "", ""),
}


def test_every_plane_has_an_expected_translation() -> None:
    assert set(EXPECTED_CLIENT_HASH) == set(DataPlane)


@pytest.mark.parametrize("plane", list(DataPlane), ids=str)
def test_client_hash_candidate_on_each_plane(plane: DataPlane) -> None:
    balance = planes.translate(plane.value, hashed("$binary_remote_addr"))
    method, hash_by, hash_type, ids = EXPECTED_CLIENT_HASH[plane]
    assert (balance.method, balance.hash_by, *knobs(balance)) == (method, hash_by, hash_type, ids)
    assert balance.plane == plane
    assert balance.hashed
    assert balance.reads_client
    # a hash candidate gives a fixed pick for a request on every plane
    upstream = balance.upstream(endpoints(8080))
    pick = upstream.pick(CLIENTS[0]).exact
    assert pick in endpoints(8080)
    assert upstream.pick(CLIENTS[0]).exact == pick


def test_describe_names_the_rendered_lines() -> None:
    key = hashed("$binary_remote_addr")
    lines = {plane: planes.translate(plane.value, key).describe() for plane in DataPlane}
    assert lines == {
        DataPlane.INGRESS_NGINX: "ingress-nginx: upstream-hash-by $binary_remote_addr",
        DataPlane.NGINX: "nginx: hash $binary_remote_addr consistent",
        DataPlane.NGINX_HASH: "nginx:hash: hash $binary_remote_addr",
        DataPlane.NGINX_IP_HASH: "nginx:ip-hash: ip_hash",
        DataPlane.HAPROXY: "haproxy: balance source, hash-type consistent, ids by position",
        DataPlane.HAPROXY_POD_IDS: "haproxy:pod-ids: balance source, hash-type consistent, "
        "ids per pod",
        DataPlane.HAPROXY_MAP_BASED: "haproxy:map-based: balance source, hash-type map-based, "
        "ids by position",
        DataPlane.ENVOY: "envoy: Maglev 65537, hash source-ip; "
        "clientIPDetection.xForwardedFor.numTrustedHops: 1",
        DataPlane.ENVOY_RING_HASH: "envoy:ring-hash: ring hash 1024, hash source-ip; "
        "clientIPDetection.xForwardedFor.numTrustedHops: 1",
    }


@pytest.mark.parametrize(
    ("key", "balance"),
    [
        ("$request_uri", "uri whole"),
        ("$uri", "uri"),
        ("$host", "hdr(host)"),
        ("$http_host", "hdr(host)"),
        ("$host$request_uri", "uri whole"),
        ("$http_x_tenant", "hdr(x-tenant)"),
        (" $remote_addr ", "source"),
    ],
)
def test_haproxy_balance_per_key(key: str, balance: str) -> None:
    for plane in (DataPlane.HAPROXY, DataPlane.HAPROXY_POD_IDS, DataPlane.HAPROXY_MAP_BASED):
        translated = planes.translate(plane.value, hashed(key))
        assert translated.method == balance
        assert translated.hash_by is None  # HAProxy reads no nginx key
    assert haproxy_balance(key)[0] == balance


def test_keys_that_do_not_read_the_client() -> None:
    page = hashed("$host$request_uri")
    assert not planes.translate("nginx", page).reads_client
    assert not planes.translate("haproxy", page).reads_client
    # ip_hash reads the client whatever the key says
    assert planes.translate("nginx:ip-hash", page).reads_client


# -- a round-robin candidate -----------------------------------------------------------


@pytest.mark.parametrize("plane", SUCCESSOR_PLANES, ids=str)
def test_round_robin_candidate(plane: DataPlane) -> None:
    balance = planes.translate(plane.value, setup())
    expected = HAPROXY_ROUND_ROBIN if plane.flavor == Flavor.HAPROXY else ROUND_ROBIN
    assert balance.method == expected
    assert not balance.hashed
    assert not balance.reads_client
    assert balance.notes == ()
    upstream = balance.upstream(endpoints(9090))
    assert upstream.pick(CLIENTS[0]) == Pick.anywhere("round-robin")
    assert upstream.ring() is None
    assert upstream.shares() == {e: pytest.approx(1 / 6) for e in endpoints(9090)}


@pytest.mark.parametrize(
    ("candidate", "placement", "fixed"),
    [
        (setup(), Placement.ROUND_ROBIN, False),
        (setup(**{"load-balance": "ewma"}), Placement.EWMA, False),
        (setup(**{"service-upstream": "true"}), Placement.SERVICE_UPSTREAM, False),
        (setup(**{"upstream-hash-by": "$remote_addr", "affinity": "cookie"}),
         Placement.COOKIE_BALANCED, False),
        (setup(**{"upstream-hash-by": "$remote_addr", "upstream-hash-by-subset": "true"}),
         Placement.SUBSET, True),
    ],
    ids=["no-key", "ewma", "service-upstream", "cookie", "subset"],
)  # fmt: skip
def test_ingress_nginx_keeps_its_own_balancer(
    candidate: Setup, placement: Placement, fixed: bool
) -> None:
    balance = planes.translate("ingress-nginx", candidate)
    assert balance.method == placement.value
    assert balance.notes == ()
    pick = balance.upstream(endpoints(9090)).pick(CLIENTS[0])
    assert pick.fixed == fixed
    if placement == Placement.SUBSET:
        assert len(pick.endpoints) == 3  # a group of the default size, member at random


def test_cookie_picks_follow_the_cookie() -> None:
    balance = planes.translate("ingress-nginx", setup(affinity="cookie"))
    upstream = balance.upstream(endpoints(8080))
    first = upstream.pick(CLIENTS[0])
    assert not first.fixed and "cookie" in first.why
    session = upstream.new_session("abc123", lambda eps: eps[0])  # type: ignore[attr-defined]
    with_cookie = Request(client_ip="10.9.9.9", cookies={"INGRESSCOOKIE": session.value})
    assert upstream.pick(with_cookie) == Pick.to(session.endpoint)


def test_round_robin_describe() -> None:
    assert planes.translate("haproxy", setup()).describe() == "haproxy: balance roundrobin"
    assert planes.translate("nginx:hash", setup()).describe() == "nginx:hash: round robin"


# -- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["$arg_id", "$cookie_session", "$host$uri", "$scheme"])
@pytest.mark.parametrize(
    "plane", [DataPlane.HAPROXY, DataPlane.HAPROXY_POD_IDS, DataPlane.HAPROXY_MAP_BASED], ids=str
)
def test_untranslatable_key_is_named(plane: DataPlane, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        planes.translate(plane.value, hashed(key))
    message = str(raised.value)
    assert repr(key) in message
    assert "$http_NAME" in message  # says what would do
    # the nginx planes take the same key unchanged
    assert planes.translate("nginx", hashed(key)).hash_by == key


def test_unknown_plane_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        planes.translate("traefik", hashed("$remote_addr"))
    message = str(raised.value)
    assert "'traefik'" in message
    for plane in DataPlane:
        assert plane.value in message


def test_upstream_without_endpoints_is_refused() -> None:
    with pytest.raises(ConfigError, match="without endpoints"):
        planes.translate("haproxy", hashed("$remote_addr")).upstream([])


# -- server ids ------------------------------------------------------------------------


def test_pod_ids_are_unique_and_stable() -> None:
    balance = planes.translate("haproxy:pod-ids", hashed("$remote_addr"))
    assert isinstance(balance, HaproxyBalance)
    by_port = {port: balance.ids(endpoints(port)) for port in HELLOGO_PORTS}
    first = by_port[HELLOGO_PORTS[0]]
    assert len(set(first)) == len(first)
    assert all(isinstance(i, int) and i >= 1 for i in first)
    # the same pod has the same id on every port
    assert all(ids == first for ids in by_port.values())
    # and whatever the order or the other pods
    shuffled = list(reversed(ADDRESSES[1:]))
    assert balance.ids(endpoints(8080, shuffled)) == [pod_server_id(a) for a in shuffled]
    assert dict(zip(ADDRESSES, first, strict=True))["10.244.0.5"] == pod_server_id("10.244.0.5")
    assert pod_server_id("10.244.0.5") == 5 + 1


def test_pod_ids_refuse_a_clash() -> None:
    balance = planes.translate("haproxy:pod-ids", hashed("$remote_addr"))
    assert isinstance(balance, HaproxyBalance)
    with pytest.raises(ConfigError, match="share the last 16"):
        balance.ids([Endpoint("10.1.0.5", 8080), Endpoint("10.2.0.5", 8080)])


def test_ids_by_position_are_left_to_haproxy() -> None:
    balance = planes.translate("haproxy", hashed("$remote_addr"))
    assert isinstance(balance, HaproxyBalance)
    assert balance.ids(endpoints(8080)) == [None] * len(ADDRESSES)


def test_pod_ids_keep_clients_when_a_pod_goes() -> None:
    balance = planes.translate("haproxy:pod-ids", hashed("$remote_addr"))
    before = balance.upstream(endpoints(8080))
    after = balance.upstream(endpoints(8080, ADDRESSES[:2] + ADDRESSES[3:]))
    gone = Endpoint(ADDRESSES[2], 8080)
    for client in CLIENTS:
        was = before.pick(client).exact
        if was != gone:
            assert after.pick(client).exact == was
    by_position = planes.translate("haproxy", hashed("$remote_addr"))
    old = by_position.upstream(endpoints(8080))
    new = by_position.upstream(endpoints(8080, ADDRESSES[:2] + ADDRESSES[3:]))
    moved = sum(
        old.pick(c).exact != new.pick(c).exact and old.pick(c).exact != gone for c in CLIENTS
    )
    assert moved > 0  # renumbering moves clients of pods that stayed


# -- incident 1: one client over the three ports -----------------------------------------


def _pods(plane: str, client: Request) -> set[str]:
    balance = planes.translate(plane, hashed("$binary_remote_addr"))
    picks = [balance.upstream(endpoints(port)).pick(client).exact for port in HELLOGO_PORTS]
    return {p.address for p in picks if p is not None}


@pytest.mark.parametrize(
    "plane", ["haproxy", "haproxy:pod-ids", "haproxy:map-based", "nginx:ip-hash", "nginx:hash"]
)
def test_planes_that_keep_a_client_on_one_pod_across_ports(plane: str) -> None:
    assert all(len(_pods(plane, c)) == 1 for c in CLIENTS)


@pytest.mark.parametrize("plane", ["nginx", "ingress-nginx"])
def test_ring_planes_split_a_client_across_ports(plane: str) -> None:
    split = sum(len(_pods(plane, c)) > 1 for c in CLIENTS)
    assert split > len(CLIENTS) // 2  # unrelated rings agree about 1 time in N


# -- notes -----------------------------------------------------------------------------


def test_notes_say_what_changes() -> None:
    def notes(plane: str, key: str) -> tuple[str, ...]:
        return planes.translate(plane, hashed(key)).notes

    assert notes("nginx", "$host$request_uri") == ()
    assert any("plain hash" in n for n in notes("nginx:hash", "$request_uri"))
    assert any("/24" in n for n in notes("nginx:ip-hash", "$remote_addr"))
    assert not any("ignores the key" in n for n in notes("nginx:ip-hash", "$remote_addr"))
    assert any("ignores the key $request_uri" in n for n in notes("nginx:ip-hash", "$request_uri"))
    assert notes("haproxy:pod-ids", "$binary_remote_addr") == ()
    assert any("renumbers" in n for n in notes("haproxy", "$remote_addr"))
    map_based = notes("haproxy:map-based", "$remote_addr")
    assert any("map-based" in n for n in map_based)
    assert any("renumbers" in n for n in map_based)
    assert any("same page on two hosts" in n for n in notes("haproxy", "$host$request_uri"))
    assert any("decoded" in n for n in notes("haproxy:pod-ids", "$uri"))
    assert any("case and port" in n for n in notes("haproxy:pod-ids", "$host"))
    assert any("HTTP/2" in n for n in notes("haproxy:pod-ids", "$request_uri"))
    assert any("comma-separated" in n for n in notes("haproxy:pod-ids", "$http_x_tenant"))


def test_only_exact_translations_go_without_a_note() -> None:
    exact = {key for key, (_, note) in _HAPROXY_KEYS.items() if not note}
    assert exact == {"$remote_addr", "$binary_remote_addr", "$http_host"}
    for key, (balance, note) in _HAPROXY_KEYS.items():
        assert balance.split()[0] in ("source", "uri", "hdr(host)"), key
        assert not note.endswith("."), key


# -- docs/translation.md's key table ----------------------------------------------------


def doc_key_table() -> dict[str, str]:
    """The rows of the table under "Keys the haproxy planes translate": key -> balance."""
    text = DOC.read_text()
    section = text.split("## Keys the haproxy planes translate", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table: dict[str, str] = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        key = re.fullmatch(r"`([^`]+)`", cells[0])
        balance = re.fullmatch(r"`([^`]+)`", cells[1])
        assert key and balance, row
        assert key.group(1) not in table, f"{key.group(1)} listed twice"
        table[key.group(1)] = balance.group(1)
    return table


def test_doc_lists_exactly_the_keys_translation_accepts() -> None:
    table = doc_key_table()
    assert set(table) == set(_HAPROXY_KEYS) | {"$http_NAME"}


def test_doc_balance_lines_match_the_code() -> None:
    table = doc_key_table()
    for key, balance in table.items():
        if key == "$http_NAME":
            assert balance == "hdr(NAME)"
            assert haproxy_balance("$http_x_name")[0] == "hdr(x-name)"
        else:
            assert haproxy_balance(key)[0] == balance, key


def test_doc_names_every_data_plane() -> None:
    text = DOC.read_text()
    section = text.split("## What the bed runs for each data plane", 1)[1].split("\n## ", 1)[0]
    body = section.split("|---", 1)[1]  # the rows under the header
    listed = re.findall(r"^\| `([^`]+)` \|", body, re.M)
    assert listed == [plane.value for plane in DataPlane]
