"""converge.py: the traffic check every backend runs after apply, scale and kill.

The pure part (plan, disagreements) is tested with fake answers; the loop with a fake
sender and clock; and the whole thing for real on the local backend (nginx and HAProxy).
Plans for every data plane carry the pick of that plane's translation (``ingressbed.planes``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ingressbed import layouts, planes
from ingressbed.backends import converge
from ingressbed.backends.converge import Answer, Sample
from ingressbed.errors import SetupError
from ingressbed.placement import Predictor, Request
from ingressbed.vocabulary import Address, Endpoint, Flavor

PODS = [Endpoint(f"10.244.0.{i}", 8080) for i in range(2, 8)]
PODS_9090 = [Endpoint(e.address, 9090) for e in PODS]


def _endpoints(port: int) -> list[Endpoint]:
    return [Endpoint(e.address, port) for e in PODS]


def _truthful(samples: Sequence[Sample]) -> list[Answer]:
    """Answers of a data plane that serves exactly what the samples require."""
    out = []
    for s in samples:
        ip = sorted(s.allowed)[0] if s.allowed else PODS[0].address
        out.append(Answer(200, ip, s.port))
    return out


def test_hash_samples_carry_the_model_pick_for_the_endpoint_order_in_force():
    setup = layouts.setup("three-ports", {"upstream-hash-by": "$request_uri"})
    eps = {p: _endpoints(p) for p in setup.ingress.ports}
    plan = converge.plan(setup, eps, Flavor.INGRESS_NGINX, keys=5)
    assert len(plan.samples) == 15 and plan.notes == ()
    first = plan.samples[0]
    predictor = Predictor(Flavor.INGRESS_NGINX, eps[8080], "$request_uri")
    want = predictor.pick(Request(client_ip=first.client, host=first.host, request_uri=first.path))
    assert want is not None and first.allowed == frozenset({want.address})
    assert {s.port for s in plan.samples} == {8080, 9090, 8081}


def test_one_port_layout_expects_8080_on_every_path():
    setup = layouts.setup("one-port", {"upstream-hash-by": "$binary_remote_addr"})
    plan = converge.plan(setup, {8080: PODS}, Flavor.NGINX, keys=3)
    assert {(s.route.path, s.port) for s in plan.samples} == {
        ("/8080", 8080),
        ("/9090", 8080),
        ("/ws", 8080),
    }


def test_an_answer_from_the_old_port_is_a_disagreement():
    setup = layouts.setup("one-port")
    plan = converge.plan(setup, {8080: PODS}, Flavor.INGRESS_NGINX)
    answers = [Answer(200, PODS[0].address, 9090 if s.route.path == "/9090" else 8080)
               for s in plan.samples]  # fmt: skip
    problems = converge.disagreements(plan.samples, answers)
    assert len(problems) == 1 and "answered on port 9090" in problems[0]
    assert "round robin" in " ".join(plan.notes)


def test_a_pick_off_the_model_and_errors_are_disagreements():
    setup = layouts.setup("three-ports", {"upstream-hash-by": "$request_uri"})
    plan = converge.plan(setup, {p: _endpoints(p) for p in (8080, 9090, 8081)}, "ingress-nginx")
    answers = _truthful(plan.samples)
    assert converge.disagreements(plan.samples, answers) == []
    wrong = next(e.address for e in PODS if e.address not in (plan.samples[0].allowed or ()))
    answers[0] = Answer(200, wrong, 8080)
    answers[1] = Answer(0, error="ConnectionRefusedError")
    answers[2] = Answer(503)
    problems = converge.disagreements(plan.samples, answers)
    assert len(problems) == 3
    assert "the model says" in problems[0] and "Refused" in problems[1] and "503" in problems[2]


def test_subset_samples_allow_the_whole_group():
    setup = layouts.setup(
        "one-port",
        {"upstream-hash-by": "$request_uri", "upstream-hash-by-subset": "true",
         "upstream-hash-by-subset-size": "3"},
    )  # fmt: skip
    plan = converge.plan(setup, {8080: PODS}, Flavor.INGRESS_NGINX, keys=4)
    assert all(s.allowed is not None and len(s.allowed) == 3 for s in plan.samples)


@pytest.mark.parametrize(
    ("annotations", "reason"),
    [
        ({"affinity": "cookie"}, "cookie affinity"),
        ({"service-upstream": "true"}, "service-upstream"),
        ({"load-balance": "ewma"}, "ewma"),
    ],
)
def test_unpredictable_setups_are_checked_for_the_port_only(annotations, reason):
    setup = layouts.setup("one-port", annotations)
    plan = converge.plan(setup, {8080: PODS}, Flavor.INGRESS_NGINX)
    assert all(s.allowed is None for s in plan.samples) and len(plan.samples) == 3
    assert all(reason in note for note in plan.notes)


def test_client_keys_without_forwarded_headers_are_not_predicted_on_local():
    setup = layouts.setup("one-port", {"upstream-hash-by": "$remote_addr"})
    setup = type(setup)(setup.ingress, {}, setup.replicas)  # no use-forwarded-headers
    plan = converge.plan(setup, {8080: PODS}, Flavor.NGINX)
    assert all(s.allowed is None for s in plan.samples)
    assert "X-Forwarded-For" in plan.notes[0]
    assert converge.client_from_forwarded(setup, Flavor.INGRESS_NGINX)


def test_no_endpoints_means_nothing_to_check_for_that_route():
    setup = layouts.setup("three-ports", replicas=0)
    plan = converge.plan(setup, {}, Flavor.NGINX)
    assert plan.samples == () and len(plan.notes) == 3


class _Fake:
    data_plane = Flavor.INGRESS_NGINX

    def __init__(self) -> None:
        self.reads = 0

    def address(self) -> Address:
        return Address("127.0.0.1", 1)

    def endpoints(self, port: int) -> list[Endpoint]:
        self.reads += 1
        return _endpoints(port)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_converge_retries_until_the_traffic_agrees():
    setup = layouts.setup("one-port", {"upstream-hash-by": "$request_uri"})
    calls = []

    def sender(address: Address, samples: Sequence[Sample]) -> list[Answer]:
        calls.append(len(samples))
        if len(calls) < 3:  # the old config still answers: wrong port everywhere
            return [Answer(200, PODS[0].address, 9090) for _ in samples]
        return _truthful(samples)

    clock = _Clock()
    target = _Fake()
    converge.converge(target, setup, sender=sender, clock=clock, pause=clock.pause)
    assert len(calls) == 3 and target.reads == 3  # endpoints read again every round
    assert clock.pauses == [0.05, 0.1]


def test_converge_needs_rounds_in_a_row_and_times_out_showing_the_disagreement():
    setup = layouts.setup("one-port", {"upstream-hash-by": "$request_uri"})
    flip = [0]

    def flaky(address: Address, samples: Sequence[Sample]) -> list[Answer]:
        flip[0] += 1
        if flip[0] % 2:
            return _truthful(samples)
        return [Answer(200, PODS[0].address, 9090) for _ in samples]

    clock = _Clock()
    with pytest.raises(SetupError) as err:
        converge.converge(
            _Fake(), setup, rounds=2, timeout=3, sender=flaky, clock=clock, pause=clock.pause
        )
    message = str(err.value)
    assert "after 3s" in message and "answered on port 9090" in message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plane", "key"), [("nginx", "$binary_remote_addr"), ("haproxy", "$remote_addr")]
)
def test_local_backend_converges_and_a_wrong_endpoint_list_is_caught(tmp_path, plane, key):
    from ingressbed.backends.local import LocalBackend
    from ingressbed.options import BedOptions

    bed = LocalBackend(
        BedOptions(backend="local", quiet=True, artifacts=tmp_path, data_plane=plane)
    )
    bed.start()
    try:
        setup = layouts.setup("three-ports", {"upstream-hash-by": key})
        bed.apply(setup)  # converges inside
        done = converge.converge(bed, setup, timeout=5)
        assert sum(s.allowed is not None for s in done.samples) == 3 * converge.DEFAULT_KEYS

        class MissingOnePod:
            data_plane = bed.data_plane

            def address(self) -> Address:
                return bed.address()

            def endpoints(self, port: int) -> list[Endpoint]:
                return bed.endpoints(port)[1:]

        with pytest.raises(SetupError, match="the model says"):
            converge.converge(MissingOnePod(), setup, timeout=0.5)
    finally:
        bed.close()


@pytest.mark.parametrize(
    ("plane", "key"),
    [
        ("haproxy", "$remote_addr"),
        ("haproxy:pod-ids", "$request_uri"),
        ("haproxy:map-based", "$host"),
        ("nginx:ip-hash", "$request_uri"),
        ("nginx:hash", "$binary_remote_addr"),
    ],
)
def test_samples_carry_the_pick_of_the_planes_translation(plane, key):
    setup = layouts.setup("three-ports", {"upstream-hash-by": key})
    eps = {p: _endpoints(p) for p in setup.ingress.ports}
    plan = converge.plan(setup, eps, plane, keys=4)
    assert len(plan.samples) == 12 and plan.notes == ()
    balance = planes.translate(plane, setup)
    for s in plan.samples:
        want = balance.upstream(eps[s.port]).pick(
            Request(client_ip=s.client, host=s.host, request_uri=s.path, headers=s.headers())
        )
        assert want.exact is not None and s.allowed == frozenset({want.exact.address})


def test_haproxy_ids_by_position_and_ids_per_pod_are_planned_apart():
    setup = layouts.setup("one-port", {"upstream-hash-by": "$request_uri"})
    fewer = {8080: PODS[:2] + PODS[3:]}  # the third pod is gone: later pods are renumbered
    by_position = converge.plan(setup, fewer, "haproxy", keys=40)
    per_pod = converge.plan(setup, fewer, "haproxy:pod-ids", keys=40)
    assert [s.allowed for s in by_position.samples] != [s.allowed for s in per_pod.samples]


def test_a_key_haproxy_cannot_hash_is_checked_for_the_port_only():
    setup = layouts.setup("one-port", {"upstream-hash-by": "$arg_user"})
    plan = converge.plan(setup, {8080: PODS}, "haproxy")
    assert all(s.allowed is None for s in plan.samples) and len(plan.samples) == 3
    assert all("has no HAProxy balance" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("plane", "key"), [("nginx:ip-hash", "$request_uri"), ("haproxy", "$remote_addr")]
)
def test_a_plane_reading_the_client_is_port_only_without_forwarded_headers(plane, key):
    setup = layouts.setup("one-port", {"upstream-hash-by": key})
    plain = type(setup)(setup.ingress, {}, setup.replicas)  # no use-forwarded-headers
    assert not converge.client_from_forwarded(plain, plane)
    assert converge.client_from_forwarded(setup, plane)  # the local backend follows the setup
    plan = converge.plan(plain, {8080: PODS}, plane)
    assert all(s.allowed is None for s in plan.samples)
    assert all("X-Forwarded-For" in note for note in plan.notes)
