"""What a scenario file means, once validated: plain frozen data, no behaviour.

``load.load()`` builds a ``Scenario``; ``run.execute()`` sends its steps;
``ingressbed.judge`` judges its expectations (``ingressbed.expectations``). Every step
and expectation keeps its file line so a verdict can point back into the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from ingressbed.expectations import (
    AnsweredExpect,
    Bound,
    CacheExpect,
    Expectation,
    PicksExpect,
    PodsExpect,
    PropertyExpect,
    SpreadExpect,
    StatusExpect,
)
from ingressbed.traffic import MixPlan as Plan
from ingressbed.vocabulary import Capability, Setup

__all__ = [
    "AnsweredExpect",
    "Bound",
    "CacheExpect",
    "CurlCommand",
    "Expectation",
    "PicksExpect",
    "PodsExpect",
    "PropertyExpect",
    "Scenario",
    "SpreadExpect",
    "StatusExpect",
    "Step",
]

#: Step kinds: the key that names what a step sends.
CURL, HTTP, WEBSOCKET, AGAIN, MIX = "curl", "http", "websocket", "again", "mix"
STEP_KINDS = (CURL, HTTP, WEBSOCKET, AGAIN, MIX)

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
    earlier step whose requests it sends once more; a mix step sends the property
    traffic of ``ingressbed.scenario.mix`` sized by ``mix``.
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
    mix: Plan | None = None


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
    needs: tuple[Capability, ...] = ()  # capabilities named in the file, beyond the Ingress's

    @property
    def id(self) -> str:
        """The file's name without its suffix (a catalog candidate's id)."""
        return PurePath(self.path).stem

    def expectations_for(self, plane: str) -> tuple[Expectation, ...]:
        """The expectations judged on data plane ``plane``."""
        return tuple(e for e in self.expect if e.applies_to(plane))

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)
