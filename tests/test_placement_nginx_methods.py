"""nginx's ``ip_hash`` and plain ``hash KEY`` in the model against REAL nginx on loopback.

As in test_placement_nginx.py: one nginx process, each endpoint a tiny ``server`` that
answers its own ``$server_addr:$server_port``, a front server trusting X-Forwarded-For
(realip) and routing ``/uN/...`` to upstream N. Upstreams use ``ip_hash`` or ``hash KEY``
(no ``consistent``) over lists with equal and unequal weights, and with servers marked
``down`` so that nginx's retry rule (ip_hash: run the address bytes again; hash: add the
CRC of ``N`` + key) is exercised. Every answer must be exactly the model's pick.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ingressbed.placement import Predictor, Request
from ingressbed.placement.keys import KeyExpr
from ingressbed.placement.nginx_methods import hash_pick, ip_hash_pick
from ingressbed.vocabulary import Endpoint, Flavor
from tests.real_processes import free_ports, nginx_prelude, running_nginx

NGINX_BIN = shutil.which("nginx") or (
    "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
)
REQUESTS_PER_UPSTREAM = 40
HASH_KEYS = ("$request_uri", "$remote_addr", "$host$request_uri", "$http_x_user")


@dataclass(frozen=True)
class Upstream:
    name: str
    method: str  # "ip-hash" or "hash"
    key: str  # "" for ip-hash
    endpoints: tuple[Endpoint, ...]
    weights: tuple[int, ...]
    down: frozenset[Endpoint] = frozenset()

    def pick(self, request: Request) -> Endpoint | None:
        if self.down:  # the Predictor has no down servers; the functions behind it do
            if self.method == "ip-hash":
                return ip_hash_pick(self.endpoints, self.weights, request.client_ip, self.down)
            key = KeyExpr(self.key, flavor=Flavor.NGINX).evaluate(request)
            return hash_pick(self.endpoints, self.weights, key, self.down)
        predictor = Predictor(
            Flavor.NGINX,
            self.endpoints,
            self.key,
            method=self.method,
            weights=dict(zip(self.endpoints, self.weights, strict=True)),
        )
        return predictor.pick(request)


def _upstreams(pa: int, pb: int) -> list[Upstream]:
    six = tuple(Endpoint(f"127.0.0.{i}", pa) for i in range(2, 8))
    six_b = tuple(Endpoint(f"127.0.0.{i}", pb) for i in range(2, 8))
    ten = tuple(Endpoint(f"127.0.0.{i}", pb) for i in range(2, 12))
    uneven = (3, 1, 2, 1, 1, 5, 1, 1, 2, 1)
    lists = [
        (six, (1,) * 6, frozenset()),
        (six_b, (1,) * 6, frozenset()),
        (ten, uneven, frozenset()),
        (six, (1,) * 6, frozenset({six[1], six[4]})),  # retries
        (ten, uneven, frozenset(ten[:7])),  # most are down: several retries per request
    ]
    result: list[Upstream] = []
    for endpoints, weights, down in lists:
        for method, key in [("ip-hash", ""), *(("hash", k) for k in HASH_KEYS)]:
            result.append(Upstream(f"u{len(result)}", method, key, endpoints, weights, down))
    return result


def _config(tmp: Path, front: int, upstreams: list[Upstream]) -> str:
    backends = sorted({e for u in upstreams for e in u.endpoints})
    lines = [*nginx_prelude(tmp), "  default_type text/plain;"]
    for u in upstreams:
        method = "ip_hash;" if u.method == "ip-hash" else f"hash {u.key};"
        servers = " ".join(
            f"server {e} weight={w} max_fails=0{' down' if e in u.down else ''};"
            for e, w in zip(u.endpoints, u.weights, strict=True)
        )
        lines.append(f"  upstream {u.name} {{ {method} {servers} }}")
    for e in backends:
        lines.append(f'  server {{ listen {e}; return 200 "$server_addr:$server_port"; }}')
    lines += [
        "  server {",
        f"    listen 127.0.0.1:{front};",
        "    real_ip_header X-Forwarded-For;",
        "    set_real_ip_from 0.0.0.0/0;",
        "    add_header X-Seen-Addr $remote_addr always;",
        *(f"    location /{u.name}/ {{ proxy_pass http://{u.name}; }}" for u in upstreams),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def real_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, list[Upstream]]]:
    if NGINX_BIN is None:
        pytest.fail("nginx is not installed: `bash scripts/bootstrap` installs it")
    tmp = tmp_path_factory.mktemp("nginx-methods")
    front, pa, pb = free_ports(3)
    upstreams = _upstreams(pa, pb)
    with running_nginx(NGINX_BIN, tmp, _config(tmp, front, upstreams), front):
        yield front, upstreams


def _clients(rng: random.Random) -> list[str]:
    clients = []
    for n in range(REQUESTS_PER_UPSTREAM):
        if n % 8 == 7:
            clients.append(f"fd00:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}")
        elif n % 8 == 3:  # the same /24 as the previous client: ip_hash ignores the last byte
            clients.append(clients[-1].rsplit(".", 1)[0] + f".{rng.randrange(1, 255)}")
        else:
            clients.append(".".join(str(rng.randrange(1, 255)) for _ in range(4)))
    return clients


@pytest.mark.slow
def test_nginx_ip_hash_and_hash_picks_match_the_model(
    real_nginx: tuple[int, list[Upstream]],
) -> None:
    front, upstreams = real_nginx
    rng = random.Random(20261129)
    checked = round_robin = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{front}", timeout=5.0) as client:
        for upstream in upstreams:
            for n, address in enumerate(_clients(rng)):
                path = rng.choice(["a", "b/c", "d?x=1", "e?", ""])
                headers = {"X-User": f"user{rng.randrange(50)}"} if n % 4 else {}
                request = Request(
                    client_ip=address,
                    host=rng.choice(["hellogo.example", "x.test"]),
                    request_uri=f"/{upstream.name}/{path}",
                    headers=headers,
                )
                answer = client.get(
                    request.request_uri,
                    headers={"Host": request.host, "X-Forwarded-For": address, **headers},
                )
                assert answer.status_code == 200, answer.text
                assert answer.headers["x-seen-addr"] == address  # realip applied
                expected = upstream.pick(request)
                if expected is None:  # $http_x_user missing: round robin
                    round_robin += 1
                    continue
                assert Endpoint.parse(answer.text) == expected, (upstream, request)
                checked += 1
    assert checked + round_robin == len(upstreams) * REQUESTS_PER_UPSTREAM
    assert 0 < round_robin < 0.1 * checked


def test_ip_hash_keeps_a_slash_24_together_and_retries_past_down_servers() -> None:
    six = [Endpoint(f"10.0.0.{i}", 80) for i in range(1, 7)]
    weights = [1] * 6
    first = ip_hash_pick(six, weights, "192.0.2.1")
    assert all(ip_hash_pick(six, weights, f"192.0.2.{i}") == first for i in range(256))
    assert first is not None
    again = ip_hash_pick(six, weights, "192.0.2.1", down={first})
    assert again is not None and again != first
    assert ip_hash_pick(six, weights, "192.0.2.1", down=set(six)) is None  # 21 tries, then RR
