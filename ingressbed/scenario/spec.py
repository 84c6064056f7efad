"""What a scenario file means, once validated: plain frozen data, no behaviour.

``load.load()`` builds a ``Scenario``; ``run.execute()`` sends its steps; ``verdict``
judges its expectations. Every step and expectation keeps its file line so a verdict
can point back into the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressbed.vocabulary import Setup

#: Step kinds: the key that names what a step sends.
CURL, HTTP, WEBSOCKET, AGAIN = "curl", "http", "websocket", "again"
STEP_KINDS = (CURL, HTTP, WEBSOCKET, AGAIN)

#: How pod expectations group observations.
PER_CLIENT, PER_URL, PER_ALL = "client", "url", "all"
PER_CHOICES = (PER_CLIENT, PER_URL, PER_ALL)

#: X-Cache-Status values (nginx's $upstream_cache_status set; hellogo sends the first four).
CACHE_STATUSES = ("HIT", "MISS", "EXPIRED", "BYPASS", "STALE", "UPDATING", "REVALIDATED")


@dataclass(frozen=True)
class CurlCommand:
    """A pasted curl command, reduced to what the bed runs (see ``curlargs``)."""

    url: str
    method: str | None = None
    headers: tuple[str, ...] = ()  # "Name: value", as given to -H
    data: str | None = None
    options: tuple[str, ...] = ()  # flags passed through to curl (--http1.1, -L, ...)
    client: str = ""  # from an X-Forwarded-For header in the command


@dataclass(frozen=True)
class Step:
    """One step: what to send, from which clients, how often.

    ``urls`` are templates (``{i}``, ``{run}`` expanded when the step runs) for http
    and websocket steps; a curl step has ``curl`` instead; an again step names the
    earlier step whose requests it sends once more.
    """

    name: str
    kind: str
    line: int
    urls: tuple[str, ...] = ()
    curl: CurlCommand | None = None
    again: str = ""
    shuffle: bool = False
    clients: tuple[str, ...] = ("",)  # "" = no X-Forwarded-For
    repeat: int = 1
    count: int = 0  # with {i} in the URLs: i = 0..count-1
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    data: str | None = None


@dataclass(frozen=True)
class Bound:
    """A number's allowed range: ``equals``, or ``at_least`` and/or ``at_most``."""

    equals: float | None = None
    at_least: float | None = None
    at_most: float | None = None

    def holds(self, figure: float) -> bool:
        if self.equals is not None:
            return abs(figure - self.equals) < 1e-9
        if self.at_least is not None and figure < self.at_least - 1e-9:
            return False
        return not (self.at_most is not None and figure > self.at_most + 1e-9)

    def __str__(self) -> str:
        def fmt(x: float) -> str:
            return f"{x:g}"

        if self.equals is not None:
            return f"= {fmt(self.equals)}"
        parts = []
        if self.at_least is not None:
            parts.append(f">= {fmt(self.at_least)}")
        if self.at_most is not None:
            parts.append(f"<= {fmt(self.at_most)}")
        return " and ".join(parts)


@dataclass(frozen=True)
class PodsExpect:
    """``same_pod``, ``different_pods`` or ``pods_count``, judged per group.

    Observations of ``steps`` are grouped ``per`` client, URL or all together; each
    group's number of distinct pods must be 1 (same_pod), 2 or more (different_pods)
    or within ``bound`` (pods_count), in at least ``min_share`` of the groups.
    """

    kind: str
    steps: tuple[str, ...]
    line: int
    per: str
    min_share: float = 1.0
    bound: Bound | None = None


@dataclass(frozen=True)
class CacheExpect:
    """``cache_status``: the ``last`` answer's status, ``every`` answer's, or a ``ratio``."""

    steps: tuple[str, ...]
    line: int
    status: str
    mode: str  # "last", "every" or "ratio"
    bound: Bound | None = None


@dataclass(frozen=True)
class StatusExpect:
    """``status``: every answer of ``steps`` has one of ``codes``."""

    steps: tuple[str, ...]
    line: int
    codes: tuple[int, ...]


@dataclass(frozen=True)
class SpreadExpect:
    """``spread``: the busiest pod's load over the mean load, over every pod of the bed."""

    steps: tuple[str, ...]
    line: int
    max_mean: Bound


Expectation = PodsExpect | CacheExpect | StatusExpect | SpreadExpect


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file."""

    path: str
    title: str
    setup: Setup
    steps: tuple[Step, ...]
    expect: tuple[Expectation, ...]
    description: str = ""
    notes: tuple[str, ...] = ()  # what was converted (API version, service ports, ...)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)
