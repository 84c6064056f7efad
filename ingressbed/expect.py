"""Assertions on observations that fail with the evidence, not just a verdict.

Used by the e2e tests, the catalog test and scenario files alike. Each helper raises
``AssertionError`` whose message shows what was observed (a few examples, the figures),
so a failure in nightly CI explains itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

from ingressbed import measure
from ingressbed.backends.base import Backend
from ingressbed.placement import Request, Ring, hash_key
from ingressbed.stats import binomial_bounds
from ingressbed.vocabulary import Endpoint, Observation


def _show(o: Observation) -> str:
    where = f"{o.pod}@{o.pod_ip}:{o.port}" if o.pod else "no pod"
    extra = f" cache={o.cache_status}" if o.cache_status else ""
    error = f" error={o.error}" if o.error else ""
    return f"{o.protocol} {o.client or '-'} {o.host}{o.key} -> {o.status} {where}{extra}{error}"


def all_answered(observations: Sequence[Observation]) -> None:
    """Every request was answered by a pod with a success status."""
    bad = [o for o in observations if not o.ok]
    assert not bad, f"{len(bad)} of {len(observations)} requests failed, e.g.:\n" + "\n".join(
        _show(o) for o in bad[:5]
    )


def sticky(
    observations: Iterable[Observation], key: measure.Key = measure.by_client_and_route
) -> None:
    """Every key always landed on the same pod."""
    result = measure.stickiness(observations, key)
    assert result.keys, "no observations to judge stickiness on"
    assert result.sticky == result.keys, (
        f"{result.keys - result.sticky} of {result.keys} keys moved between pods, e.g. "
        + "; ".join(f"{k} on {', '.join(p)}" for k, p in result.loose)
    )


def within(count: int, n: int, p: float, what: str, sigmas: float = 4.0) -> None:
    """``count`` of ``n`` is inside the exact binomial bounds around ``p``."""
    lo, hi = binomial_bounds(n, p, sigmas)
    assert lo <= count <= hi, (
        f"{what}: {count} of {n} ({count / n:.3f}); expected {lo}..{hi} "
        f"(p={p:.3f}, {sigmas:g} sigma binomial bounds)"
    )


class Model:
    """Predicts picks for observations with the placement model of a backend's data plane.

    Endpoints are snapshotted per port at construction, in the balancer's order, so a
    prediction describes the bed as it was when the traffic ran.
    """

    def __init__(
        self,
        flavor: str,
        endpoints: Mapping[int, Sequence[Endpoint]],
        hash_by: str,
        *,
        controller_version: str | None = None,
    ) -> None:
        self.flavor = flavor
        self.hash_by = hash_by
        self.controller_version = controller_version
        self.endpoints = {port: list(eps) for port, eps in endpoints.items()}
        self._rings = {port: Ring.build(flavor, eps) for port, eps in self.endpoints.items()}

    @classmethod
    def of(cls, bed: Backend, ports: Iterable[int], hash_by: str) -> Model:
        return cls(bed.data_plane, {p: bed.endpoints(p) for p in set(ports)}, hash_by)

    def key(self, request: Request) -> bytes:
        return hash_key(
            self.hash_by, request, controller_version=self.controller_version, flavor=self.flavor
        )

    def pick(self, port: int, request: Request) -> Endpoint | None:
        """The endpoint the model picks (None: nginx's round-robin fallback on an empty key)."""
        key = self.key(request)
        if not key and self.flavor == "nginx":
            return None
        return self._rings[port].lookup(key)

    def predict(self, o: Observation) -> str | None:
        request = Request(client_ip=o.client, host=o.host, request_uri=o.key)
        pick = self.pick(o.port, request)
        return None if pick is None else str(pick)

    def _random_clients(self, samples: int, seed: int) -> list[Request]:
        rng = random.Random(seed)
        return [
            Request(client_ip=".".join(str(rng.randrange(1, 255)) for _ in range(4)))
            for _ in range(samples)
        ]

    def share_same(self, port_a: int, port_b: int, samples: int = 20000, seed: int = 7) -> float:
        """Probability that a random client gets the same pod address on both ports."""
        same = 0
        for request in self._random_clients(samples, seed):
            a, b = self.pick(port_a, request), self.pick(port_b, request)
            same += a is not None and b is not None and a.address == b.address
        return same / samples

    def ring_share(self, port: int, address: str) -> float:
        """Share of the hash space the ring for ``port`` gives the pod at ``address``."""
        shares = self._rings[port].shares()
        return sum(share for ep, share in shares.items() if ep.address == address)


def agrees(model: Model, observations: Iterable[Observation]) -> measure.Agreement:
    """Every observed pick equals the model's prediction; returns the agreement."""
    result = measure.agreement(observations, model.predict)
    assert result.total, "no observation had a prediction"
    assert result.agree == result.total, (
        f"{result.total - result.agree} of {result.total} picks differ from the "
        f"{model.flavor} model of {model.hash_by!r}, e.g.:\n"
        + "\n".join(f"{_show(o)} (model: {p})" for o, p in result.mismatches)
    )
    return result


def moved_only_to(
    before: Mapping[Hashable, str],
    after: Mapping[Hashable, str],
    allowed: Callable[[str, str], bool],
    what: str,
) -> int:
    """Every key that changed pod did so in an allowed way; returns how many moved."""
    moved = [
        (k, before[k], after[k]) for k in before.keys() & after.keys() if before[k] != after[k]
    ]
    wrong = [(k, a, b) for k, a, b in moved if not allowed(a, b)]
    assert not wrong, f"{len(wrong)} keys moved in a way {what} forbids, e.g. " + "; ".join(
        f"{k}: {a} -> {b}" for k, a, b in wrong[:5]
    )
    return len(moved)
