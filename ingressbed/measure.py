"""Basic figures from observations (pure): who answered what, load per pod, agreement.

Each function takes observations and returns a small frozen value with the figures and
the evidence behind them. ``placement`` (per key, how often each pod answered) is the
one way "on the same pod" is computed: a key is on one pod when one pod answered all of
its requests. The catalog's properties (``ingressbed.properties``) and the judge
(``ingressbed.judge``) build on these.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ingressbed.placement.upstream import Pick
from ingressbed.vocabulary import Observation

Key = Callable[[Observation], Hashable]


def by_client_and_route(o: Observation) -> Hashable:
    return (o.client, o.route)


def by_url(o: Observation) -> Hashable:
    return (o.host, o.key)


def answered(observations: Iterable[Observation]) -> list[Observation]:
    """Observations a pod answered."""
    return [o for o in observations if o.pod]


def placement(observations: Iterable[Observation], key: Key) -> dict[Hashable, Counter[str]]:
    """Per key, how often each pod answered."""
    table: dict[Hashable, Counter[str]] = defaultdict(Counter)
    for o in answered(observations):
        table[key(o)][o.pod] += 1
    return dict(table)


def assignment(observations: Iterable[Observation], key: Key) -> dict[Hashable, str]:
    """Per key, the pod that answered it most often."""
    return {k: c.most_common(1)[0][0] for k, c in placement(observations, key).items()}


@dataclass(frozen=True)
class Stickiness:
    """How many keys always landed on one pod."""

    keys: int
    sticky: int
    loose: tuple[tuple[Hashable, tuple[str, ...]], ...]  # first few non-sticky keys

    @property
    def share(self) -> float:
        return self.sticky / self.keys if self.keys else 0.0


def stickiness(observations: Iterable[Observation], key: Key = by_client_and_route) -> Stickiness:
    table = placement(observations, key)
    loose = [(k, tuple(sorted(c))) for k, c in table.items() if len(c) > 1]
    return Stickiness(len(table), len(table) - len(loose), tuple(loose[:5]))


@dataclass(frozen=True)
class Spread:
    """Load per pod."""

    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def max_mean(self) -> float:
        """Busiest pod's load over the mean load (1.0 = perfectly even)."""
        if not self.counts or not self.total:
            return 0.0
        return max(self.counts.values()) / (self.total / len(self.counts))

    @property
    def cv(self) -> float:
        """Coefficient of variation of the per-pod load."""
        values = list(self.counts.values())
        if len(values) < 2 or not self.total:
            return 0.0
        return statistics.pstdev(values) / statistics.fmean(values)

    @property
    def pods_used(self) -> int:
        return sum(1 for v in self.counts.values() if v)


def spread(observations: Iterable[Observation], pods: Sequence[str] = ()) -> Spread:
    """Per-pod load; ``pods`` lists pods that should count even with no request."""
    counts: Counter[str] = Counter({p: 0 for p in pods})
    counts.update(o.pod for o in answered(observations))
    return Spread(dict(counts))


@dataclass(frozen=True)
class Agreement:
    """How many observed picks are what the placement model predicts.

    ``total`` counts every answered request judged; ``unpredictable`` those the model gave
    no fixed pick for (round robin, no cookie yet, no hash value): they count against the
    agreement, never for it. ``mismatches`` holds the first few (observation, predicted).
    """

    total: int
    agree: int
    mismatches: tuple[tuple[Observation, str], ...]
    unpredictable: int = 0
    unpredictable_example: str = ""

    @property
    def share(self) -> float:
        return self.agree / self.total if self.total else math.nan


def agreement(
    observations: Iterable[Observation], predict: Callable[[Observation], Pick]
) -> Agreement:
    """Compare each answer (``pod_ip``, ``port``) with the model's ``Pick`` for it.

    An answer agrees when the pick allows it (the one endpoint, or a member of the group).
    An answer whose pick is not fixed is unpredictable and counts against.
    """
    total = agree = unpredictable = 0
    why = ""
    mismatches: list[tuple[Observation, str]] = []
    for o in answered(observations):
        pick = predict(o)
        total += 1
        if not pick.fixed:
            unpredictable += 1
            why = why or str(pick)
        elif pick.allows(o.pod_ip, o.port):
            agree += 1
        elif len(mismatches) < 5:
            mismatches.append((o, str(pick)))
    return Agreement(total, agree, tuple(mismatches), unpredictable, why)
