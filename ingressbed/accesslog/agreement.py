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

#: A memo miss and a line the candidate cannot read (nginx refused it).
_MISS = object()
_UNREADABLE = object()


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


class _Hashing:
    """A hashing candidate: its upstream per period and a memo of its picks."""

    def __init__(
        self,
        candidate: Candidate,
        extractor: Extractor,
        periods: Sequence[Period],
        controller_version: str | None,
    ) -> None:
        assert candidate.hash_by is not None
        balance = candidate.balance(controller_version)
        reads = key_needs([candidate.hash_by]) if balance.reads_key else {"client"}
        if balance.reads_client:
            reads.add("client")
        self.groups = extractor.groups_for(sorted(reads))
        self.upstreams: list[Upstream] = [balance.upstream(p.endpoints) for p in periods]
        self.extractor = extractor
        self.memo: dict[tuple[int, Any], object] = {}
        #: Keys (period, value) whose pick differs on the previous period's pods.
        self.moved_keys: set[tuple[int, Any]] = set()
        self.last_value: Any = None

    def pick(self, period: int, match: re.Match[str]) -> object:
        """The endpoint (or None, or ``_UNREADABLE``) this candidate gives the line."""
        value: Any = match.group(*self.groups) if self.groups else ()
        memo_key = (period, value)
        self.last_value = value
        found = self.memo.get(memo_key, _MISS)
        if found is _MISS:
            try:
                record = self.extractor.record(self.groups, value)
            except ConfigError:
                found = _UNREADABLE
            else:
                found = self.upstreams[period].pick(record.request).exact
                if period and self.upstreams[period - 1].pick(record.request).exact != found:
                    self.moved_keys.add(memo_key)
            self.memo[memo_key] = found
        return found


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
        later = [0] * (len(periods) - 1)
        self.fits = [
            Fit(c.hash_by or ROUND_ROBIN, c.label if c.hash_by else ROUND_ROBIN, moved=list(later))
            for c in candidates
        ]
        self._hashing = [
            None if c.hash_by is None else _Hashing(c, extractor, periods, controller_version)
            for c in candidates
        ]
        self.actual: Counter[str] = Counter()
        self.unreadable = 0
        self._transitions: Counter[tuple[int, Endpoint, Endpoint]] = Counter()
        self._previous: tuple[int, Endpoint] | None = None

    def add(self, match: re.Match[str], period: int, actual: Endpoint) -> None:
        """Count one line of the selected backend.

        Args:
            match: the line matched by the extractor's regex.
            period: the index of its period.
            actual: the pod nginx tried first.
        """
        picks: list[object] = []
        for hashing in self._hashing:
            if hashing is None:
                picks.append(None)
                continue
            pick = hashing.pick(period, match)
            if pick is _UNREADABLE:
                self.unreadable += 1
                return
            picks.append(pick)
        self.actual[str(actual)] += 1
        for fit, hashing, pick in zip(self.fits, self._hashing, picks, strict=True):
            if hashing is None:
                continue
            fit.compared += 1
            if pick == actual:
                fit.agreed += 1
            if period and (period, hashing.last_value) in hashing.moved_keys:
                fit.moved[period - 1] += 1
            fit.predicted[str(pick) if pick is not None else ROUND_ROBIN] += 1
        previous = self._previous
        if previous is not None and previous[0] == period:
            self._transitions[(period, previous[1], actual)] += 1
        self._previous = (period, actual)

    def result(self) -> list[Fit]:
        """Every candidate's fit, in the order given (round robin's from the cycle test)."""
        cycle_agreed, cycle_compared = self._cycle()
        for fit, hashing in zip(self.fits, self._hashing, strict=True):
            if hashing is None:
                fit.agreed, fit.compared = cycle_agreed, cycle_compared
                fit.predicted = Counter()  # a cycle predicts no pod per request
        return self.fits

    def _cycle(self) -> tuple[int, int]:
        # A cycle gives each pod one successor, another pod, and each pod one predecessor:
        # per period, match pods to successors greedily, the most frequent pairs first.
        taken: set[tuple[int, Endpoint]] = set()
        given: set[tuple[int, Endpoint]] = set()
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
