"""Hashing when pods come and go.

Consistent hashing: adding a 7th pod to 6 moves only the keys the new pod takes over
(about 1/7 of them), and every moved key moves to the new pod. Killing a pod moves its
keys and, once its replacement is in, the keys the replacement takes; nobody else moves.

Data planes that pick by position (nginx ``ip_hash`` and plain ``hash``, HAProxy's
map-based table, or a ring keyed by server ids given by position) re-deal keys between
pods that stayed; the model says which (``Balance.consistent``, ``minimal_moves``),
and every pick before and after is asserted against it either way. Envoy's Maglev table
also moves a few keys between old pods when one joins (its fill order changes a few
slots), and its ring hash re-deals every pod's entries; those are the keys the model moves
between old pods, and no others.
"""

from __future__ import annotations

import pytest

from ingressbed import expect, layouts, measure, traffic
from ingressbed.clients.http import HttpRequest, probe
from ingressbed.placement import Request
from ingressbed.vocabulary import HTTP_PORT, Capability

HOST = layouts.DEFAULT_HOST
HASH_BY = "$binary_remote_addr"
CLIENTS = traffic.clients(1500, seed=23)


def placements(bed):
    requests = [HttpRequest("/8080/scale", HOST, c, route="/8080") for c in CLIENTS]
    observations = probe(bed.address(), requests, concurrency=8)
    expect.all_answered(observations)
    expect.agrees(expect.model(bed, (HTTP_PORT,), HASH_BY), observations)
    return measure.assignment(observations, lambda o: o.client)


@pytest.mark.needs(Capability.SCALE)
def test_adding_a_seventh_pod_moves_about_one_in_seven_keys_all_to_it(serve):
    bed = serve(layouts.setup("three-ports", {"upstream-hash-by": HASH_BY}, replicas=6))
    before_pods = {p.name for p in bed.pods()}
    before_model = expect.model(bed, (HTTP_PORT,), HASH_BY)
    before = placements(bed)

    bed.scale(7)
    (new_pod,) = {p.name for p in bed.pods()} - before_pods
    after = placements(bed)

    model = expect.model(bed, (HTTP_PORT,), HASH_BY)
    if not model.balance.consistent:
        # The hash modulo the server count (nginx ip_hash / plain hash, HAProxy map-based):
        # both passes agree with the model pick for pick, and most keys are re-dealt.
        moved = sum(1 for key, pod in before.items() if after.get(key) != pod)
        assert moved / len(CLIENTS) > 0.5, f"only {moved} of {len(CLIENTS)} keys moved"
        return
    new_ip = next(p.ip for p in bed.pods() if p.name == new_pod)
    between_old = set()  # keys the model moves between old pods (Maglev: a few; ring hash: 8 %)
    for client in CLIENTS:
        request = Request(client_ip=client)
        first, then = before_model.pick(HTTP_PORT, request), model.pick(HTTP_PORT, request)
        if first != then and then.addresses() != {new_ip}:
            between_old.add(client)
    assert len(between_old) < 0.15 * len(CLIENTS), f"{len(between_old)} keys between old pods"
    kept = {key: pod for key, pod in before.items() if key not in between_old}
    moved = expect.moved_only_to(kept, after, lambda a, b: b == new_pod, "scaling up")
    share = model.ring_share(HTTP_PORT, new_ip)
    expect.within(moved, len(CLIENTS), share, "keys moved to the 7th pod")
    assert 0.05 < moved / len(CLIENTS) < 0.3, f"{moved} of {len(CLIENTS)} moved, not about 1/7"


@pytest.mark.needs(Capability.KILL)
def test_killing_a_pod_moves_only_its_keys_and_those_its_replacement_takes(serve):
    bed = serve(layouts.setup("three-ports", {"upstream-hash-by": HASH_BY}, replicas=6))
    model = expect.model(bed, (HTTP_PORT,), HASH_BY)
    before_pods = {p.name for p in bed.pods()}
    before = placements(bed)
    if model.balance.minimal_moves:
        victim = max(before_pods, key=lambda name: list(before.values()).count(name))
    else:
        # Ids by position or the hash modulo the server count: kill the first pod in the
        # balancer's order, so every survivor is renumbered or re-dealt.
        first = bed.endpoints(HTTP_PORT)[0].address
        victim = next(p.name for p in bed.pods() if p.ip == first)

    bed.kill(victim)
    after_pods = {p.name for p in bed.pods()}
    assert victim not in after_pods and len(after_pods) == len(before_pods)
    replacements = after_pods - before_pods
    after = placements(bed)  # every pick as the model's, before and after

    victims_keys = sum(1 for pod in before.values() if pod == victim)
    if not model.balance.minimal_moves:
        moved = sum(1 for key, pod in before.items() if after.get(key) != pod)
        assert moved > victims_keys > 0, "survivors' keys must move too on this data plane"
        return
    moved = expect.moved_only_to(
        before, after, lambda a, b: a == victim or b in replacements, "killing one pod"
    )
    assert moved >= victims_keys > 0, "every key of the killed pod must move"
