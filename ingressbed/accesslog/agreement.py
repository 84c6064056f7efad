"""How well each candidate explains the picks a log shows (pure).

For the selected backend, every line with a first attempt (``upstreams.first_attempt``)
is a pick the controller really made. A candidate's agreement is the share of those
picks it predicts exactly, over the endpoint list of the line's period (``Period``):
1.0 means the log is what that key gives, on those pods.

Round robin has no pick to predict: its test is the cycle. Within a period, each pod is
given one successor (another pod, and no pod is the successor of two), the most frequent
pairs of successive requests first; the agreement is the share of successive requests
that follow it. A strict cycle scores 1.0; a hash key about 1/pods (what a fixed
successor gets by chance), whatever its ring's uneven shares.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ingressbed.accesslog.records import Extractor, key_needs
from ingressbed.accesslog.results import ROUND_ROBIN, Candidate
from ingressbed.accesslog.upstreams import Period
from ingressbed.errors import ConfigError
from ingressbed.placement.upstream import Upstream
from ingressbed.vocabulary import Endpoint


@dataclass
class Fit:
    """One candidate's agreement with the log, and the load it predicts per pod."""

    candidate: str  # the annotation value ($request_uri) or round-robin
    label: str
    agreed: int = 0
    compared: int = 0
    predicted: Counter[str] = field(default_factory=Counter)
    #: Per period after the first: its requests this candidate sends elsewhere than the
    #: previous period's pods would have (the real pod change's remapping).
    moved: list[int] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        """The share of the log's picks this candidate predicts (0.0 with none)."""
        return self.agreed / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``candidate`` and ``agreement`` first, as in ``which_key``."""
        return {
            "candidate": self.candidate,
            "agreement": self.agreement,
            "label": self.label,
            "agreed": self.agreed,
            "compared": self.compared,
            "predicted": dict(self.predicted),
            "moved_per_period": self.moved,
        }


#: A memo entry for a line the candidate cannot read (nginx would have refused it).
_UNREADABLE = (-2, False)


class _Hashing:
    """A hashing candidate: its upstream per period and, per period, a memo from the
    captured values its key reads to ``(pod index, moved)``: the pod (the index of
    ``pods``, ``len(pods)`` for no fixed pod) and whether the previous period's pods
    would have given another."""

    def __init__(
        self,
        slot: int,
        candidate: Candidate,
        extractor: Extractor,
        periods: Sequence[Period],
        index: dict[Endpoint | None, int],
        controller_version: str | None,
    ) -> None:
        assert candidate.hash_by is not None
        balance = candidate.balance(controller_version)
        reads = key_needs([candidate.hash_by]) if balance.reads_key else {"client"}
        if balance.reads_client:
            reads.add("client")
        self.slot = slot
        self.groups = extractor.groups_for(sorted(reads))
        self.upstreams: list[Upstream] = [balance.upstream(p.endpoints) for p in periods]
        self.extractor = extractor
        self.index = index
        self.memos: list[dict[Any, tuple[int, bool]]] = [{} for _ in periods]

    def fill(self, period: int, value: Any) -> tuple[int, bool]:
        """Compute (and remember) the entry of ``value`` in ``period``."""
        try:
            record = self.extractor.record(self.groups, value)
        except ConfigError:
            entry = _UNREADABLE
        else:
            pick = self.upstreams[period].pick(record.request).exact
            moved = bool(period) and self.upstreams[period - 1].pick(record.request).exact != pick
            entry = (self.index[pick], moved)
        self.memos[period][value] = entry
        return entry


class Agreement:
    """Compares each candidate's picks with the log's, line by line."""

    def __init__(
        self,
        extractor: Extractor,
        candidates: Sequence[Candidate],
        periods: Sequence[Period],
        controller_version: str | None = None,
    ) -> None:
        """Build each hashing candidate's upstreams over each period's endpoints.

        Args:
            extractor: reads the request parts the keys need from a matched line.
            candidates: hashing candidates and ``round-robin``.
            periods: the selected backend's periods (``upstreams.periods``).
            controller_version: the ingress-nginx release whose rules apply.

        Raises:
            ConfigError: a key a candidate's data plane cannot translate.
        """
        #: Every period's pods, each once: ``add`` takes the log's pick as an index of it.
        self.pods: list[Endpoint] = list(dict.fromkeys(e for p in periods for e in p.endpoints))
        index: dict[Endpoint | None, int] = {e: i for i, e in enumerate(self.pods)}
        index[None] = len(self.pods)
        self._candidates = list(candidates)
        self._periods = len(periods)
        self._hashing = [
            _Hashing(slot, c, extractor, periods, index, controller_version)
            for slot, c in enumerate(candidates)
            if c.hash_by is not None
        ]
        count = len(candidates)
        self._agreed = [0] * count
        self._predicted = [[0] * (len(self.pods) + 1) for _ in range(count)]
        self._moved = [[0] * max(0, len(periods) - 1) for _ in range(count)]
        self._actual = [0] * len(self.pods)
        self.compared = 0
        self.unreadable = 0
        self._transitions: Counter[tuple[int, int, int]] = Counter()
        self._previous = (-1, -1)

    def add(self, match: re.Match[str], period: int, actual: int) -> None:
        """Count one line of the selected backend.

        Args:
            match: the line matched by the extractor's regex.
            period: the index of its period.
            actual: the pod nginx tried first, as an index of ``pods``.
        """
        entries = []
        for hashing in self._hashing:
            value = match.group(*hashing.groups) if hashing.groups else ()
            entry = hashing.memos[period].get(value)
            if entry is None:
                entry = hashing.fill(period, value)
            if entry is _UNREADABLE:
                self.unreadable += 1
                return
            entries.append(entry)
        self.compared += 1
        self._actual[actual] += 1
        agreed, predicted, moved = self._agreed, self._predicted, self._moved
        for hashing, (pick, shifted) in zip(self._hashing, entries, strict=True):
            slot = hashing.slot
            if pick == actual:
                agreed[slot] += 1
            predicted[slot][pick] += 1
            if shifted:
                moved[slot][period - 1] += 1
        if self._previous[0] == period:
            self._transitions[(period, self._previous[1], actual)] += 1
        self._previous = (period, actual)

    @property
    def actual(self) -> Counter[str]:
        """The log's first attempts per pod."""
        return Counter({str(e): n for e, n in zip(self.pods, self._actual, strict=True) if n})

    def result(self) -> list[Fit]:
        """Every candidate's fit, in the order given (round robin's from the cycle test)."""
        names = [*(str(e) for e in self.pods), ROUND_ROBIN]
        fits = []
        for slot, c in enumerate(self._candidates):
            if c.hash_by is None:
                agreed, compared = self._cycle()
                fits.append(Fit(ROUND_ROBIN, ROUND_ROBIN, agreed, compared))
                continue
            predicted = Counter({names[i]: n for i, n in enumerate(self._predicted[slot]) if n})
            fits.append(
                Fit(c.hash_by, c.label, self._agreed[slot], self.compared, predicted,
                    list(self._moved[slot]))
            )  # fmt: skip
        return fits

    def _cycle(self) -> tuple[int, int]:
        # A cycle gives each pod one successor, another pod, and each pod one predecessor:
        # per period, match pods to successors greedily, the most frequent pairs first.
        taken: set[tuple[int, int]] = set()
        given: set[tuple[int, int]] = set()
        agreed = 0
        pairs = sorted(self._transitions.items(), key=lambda item: -item[1])
        for (period, before, after), count in pairs:
            if before == after or (period, before) in taken or (period, after) in given:
                continue
            taken.add((period, before))
            given.add((period, after))
            agreed += count
        return agreed, sum(self._transitions.values())


def ranked(fits: Sequence[Fit]) -> list[Fit]:
    """Fits best first (ties in the order given).

    Args:
        fits: from ``Agreement.result``.

    Returns:
        A new list.
    """
    return sorted(fits, key=lambda f: -f.agreement)
