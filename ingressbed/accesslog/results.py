"""What goes into a simulation and what comes out of it (plain data, no behaviour).

Inputs: ``Candidate`` (a data plane and its hash key, or round robin) and ``Settings``
(endpoints, cache, time, output sizes). Outputs: ``Result`` with one ``CandidateResult``
per candidate, each ``to_dict`` for ``--json``; ``Sampled`` requests for a replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingressbed import planes
from ingressbed.accesslog.records import Record
from ingressbed.errors import ConfigError
from ingressbed.planes import Balance
from ingressbed.vocabulary import DataPlane, Endpoint

#: The candidate without hashing: a strict cycle over the endpoints.
ROUND_ROBIN = "round-robin"


@dataclass(frozen=True)
class Candidate:
    """One placement to compare: a data plane and its hash key, or round robin.

    ``flavor`` is a data plane (``ingressbed.vocabulary.DataPlane``): ``ingress-nginx``
    and ``nginx`` hash on a CRC-32 ring; the others (``nginx:hash``, ``nginx:ip-hash``,
    ``haproxy``, ``haproxy:pod-ids``, ``haproxy:map-based``) balance the key as that
    plane translates it (``ingressbed.planes``).
    """

    flavor: str
    hash_by: str | None = None

    @property
    def label(self) -> str:
        """``plane hash-by``, the translation where it changes the key, or ``round-robin``."""
        if self.hash_by is None:
            return ROUND_ROBIN
        shown = f"{self.flavor} {self.hash_by}"
        rendering = self.balance().translated_key()
        return f"{shown} ({rendering})" if rendering else shown

    @property
    def reads_client(self) -> bool:
        """Whether the pick reads the client address whatever the key (ip_hash)."""
        return self.hash_by is not None and self.balance().reads_client

    def balance(self, controller_version: str | None = None) -> Balance:
        """The data plane's translation of the key.

        Raises:
            ConfigError: an unknown data plane or a key it cannot translate.
        """
        plane = planes.plane(self.flavor)
        return plane.for_key(self.hash_by, controller_version=controller_version)

    def translation(self) -> str | None:
        """The data plane's rendering of the key where it is not the key as written."""
        return self.balance().translation()

    @staticmethod
    def parse(text: str) -> Candidate:
        """Parse ``PLANE=EXPR`` or ``round-robin``.

        Args:
            text: e.g. ``ingress-nginx=$host$request_uri``, ``haproxy=$remote_addr``,
                ``nginx:ip-hash=$request_uri``.

        Returns:
            The candidate.

        Raises:
            ConfigError: an unknown data plane, an empty key, or a key the data plane
                cannot translate (one line naming it).
        """
        if text.strip() == ROUND_ROBIN:
            return Candidate(ROUND_ROBIN)
        plane, sep, expr = text.partition("=")
        planes = [p.value for p in DataPlane]
        if not sep or plane.strip() not in planes or not expr:
            raise ConfigError(
                f"--candidate {text!r}: give FLAVOR=EXPR with FLAVOR one of "
                f"{', '.join(planes)} (e.g. ingress-nginx=$host$request_uri), or {ROUND_ROBIN}"
            )
        candidate = Candidate(plane.strip(), expr)
        try:
            candidate.balance()
        except ConfigError as exc:
            raise ConfigError(f"--candidate {text!r}: {exc}") from None
        return candidate


@dataclass(frozen=True)
class Settings:
    """What every candidate shares: endpoints, cache, time and output sizes."""

    endpoints: tuple[Endpoint, ...]
    cache_ttl: float = 100.0
    cache_entries: int = 100_000
    rate: float | None = None
    controller_version: str | None = None
    top: int = 5


@dataclass(frozen=True)
class HotKey:
    """One of the hottest keys of a candidate."""

    key: str
    requests: int
    share: float
    endpoint: str


@dataclass(frozen=True)
class PodLoad:
    """One endpoint's requests, share and cache hits."""

    endpoint: str
    requests: int
    share: float
    hits: int
    hit_ratio: float | None


@dataclass(frozen=True)
class Moved:
    """What moves when one pod is added or removed (shares of keys and of requests)."""

    added: str
    keys_on_add: float
    requests_on_add: float
    removed: str | None
    keys_on_remove: float | None
    requests_on_remove: float | None


@dataclass(frozen=True)
class CandidateResult:
    """Everything measured for one candidate."""

    label: str
    flavor: str
    hash_by: str | None
    pods: list[PodLoad]
    max_over_mean: float
    cache_hit_ratio: float
    distinct_keys: int | None
    hottest: list[HotKey]
    moved: Moved | None
    round_robin_requests: int
    #: Why ``moved`` is None for a hashing candidate (the figure would not be exact).
    moved_unknown: str | None = None
    #: The data plane's rendering (``Balance.translation``) for planes without a ring.
    translation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "label": self.label,
            "flavor": self.flavor,
            "hash_by": self.hash_by,
            "pods": [
                {
                    "endpoint": p.endpoint,
                    "requests": p.requests,
                    "share": p.share,
                    "cache_hits": p.hits,
                    "cache_hit_ratio": p.hit_ratio,
                }
                for p in self.pods
            ],
            "max_over_mean": self.max_over_mean,
            "cache_hit_ratio": self.cache_hit_ratio,
            "distinct_keys": self.distinct_keys,
            "hottest_keys": [vars(h) for h in self.hottest],
            "moved": None if self.moved is None else vars(self.moved),
            "round_robin_requests": self.round_robin_requests,
            "moved_unknown": self.moved_unknown,
            "translation": self.translation,
        }


@dataclass(frozen=True)
class Skipped:
    """A line that did not parse."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class Result:
    """The whole analysis: counts, time span, and one result per candidate."""

    requests: int
    skipped: int
    skipped_examples: list[Skipped]
    distinct_pages: int
    seconds: float
    endpoints: list[str]
    candidates: list[CandidateResult]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the first candidate's figures at the top, every candidate listed."""
        first = self.candidates[0].to_dict()
        return {
            "requests": self.requests,
            "skipped": self.skipped,
            "skipped_examples": [vars(s) for s in self.skipped_examples],
            "pods": [
                {"endpoint": p["endpoint"], "requests": p["requests"], "share": p["share"]}
                for p in first["pods"]
            ],
            "max_over_mean": first["max_over_mean"],
            "cache_hit_ratio": first["cache_hit_ratio"],
            "candidate": first["label"],
            "distinct_pages": self.distinct_pages,
            "seconds": self.seconds,
            "endpoints": self.endpoints,
            **self.settings,
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass(frozen=True)
class Sampled:
    """A request picked for the replay, with its line number."""

    line: int
    record: Record
