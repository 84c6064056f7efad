"""What a scenario file means, once validated: plain frozen data, no behaviour.

``load.load()`` builds a ``Scenario``; ``run.execute()`` sends its steps;
``ingressbed.judge`` judges its expectations (``ingressbed.expectations``). Every step
and expectation keeps its file line so a verdict can point back into the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from types import MappingProxyType

from ingressbed.expectations import (
    AnsweredExpect,
    Bound,
    CacheExpect,
    CookieExpect,
    Expectation,
    HeaderExpect,
    PicksExpect,
    PodsExpect,
    PropertyExpect,
    SpreadExpect,
    StatusExpect,
    VersionRange,
)
from ingressbed.objects import Ingress, Service
from ingressbed.traffic import MixPlan as Plan
from ingressbed.vocabulary import Capability, DataPlane, Setup

__all__ = [
    "AnsweredExpect",
    "Bound",
    "CacheExpect",
    "CookieExpect",
    "CurlCommand",
    "Edit",
    "Expectation",
    "HeaderExpect",
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
TRAFFIC_KINDS = (CURL, HTTP, WEBSOCKET, AGAIN, MIX)
#: Live edits: steps that change the objects (or wait) between traffic steps.
APPLY, ANNOTATE, DELETE, SCALE, WAIT = "apply", "annotate", "delete", "scale", "wait"
EDIT_KINDS = (APPLY, ANNOTATE, DELETE, SCALE, WAIT)
STEP_KINDS = (*TRAFFIC_KINDS, *EDIT_KINDS)

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
    cookies: tuple[str, ...] = ()  # from -b NAME=VALUE and Cookie headers, in order
    jar: bool = False  # -c FILE or -b FILE: the user kept a cookie file (cookies: keep)


_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Edit:
    """A live edit: what an ``apply``, ``annotate``, ``delete``, ``scale`` or ``wait`` step
    does, and the setup in force after it (``after``; None for ``wait``).

    ``objects`` (apply) are the Ingress or Service created or replaced by name; ``target``
    names the Ingress (annotate, delete) or Service (scale); ``annotate`` sets ``set`` and
    removes ``remove`` (full annotation names); ``scale`` runs ``replicas`` pods; ``wait``
    waits ``seconds``. ``notes`` say what was converted, as for the ``ingress`` block.
    """

    kind: str
    after: Setup | None = None
    objects: tuple[Ingress | Service, ...] = ()
    target: str = ""
    set: Mapping[str, str] = field(default_factory=lambda: _NO_ANNOTATIONS)
    remove: tuple[str, ...] = ()
    replicas: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: ``annotate Ingress web: set upstream-hash-by=$request_uri``."""
        if self.kind == APPLY:
            return "apply " + ", ".join(
                f"{'Ingress' if isinstance(o, Ingress) else 'Service'} {o.name}"
                for o in self.objects
            )
        if self.kind == ANNOTATE:
            parts = [f"set {k}={v!r}" for k, v in self.set.items()]
            parts += [f"remove {k}" for k in self.remove]
            return f"annotate Ingress {self.target}: {', '.join(parts)}"
        if self.kind == DELETE:
            return f"delete Ingress {self.target}"
        if self.kind == SCALE:
            return f"scale Service {self.target} to {self.replicas}"
        return f"wait {self.seconds:g} s"


@dataclass(frozen=True)
class Step:
    """One step: what to send, from which clients, how often.

    ``urls`` are templates (``{i}``, ``{run}`` expanded when the step runs) for http
    and websocket steps; a curl step has ``curl`` instead; an again step names the
    earlier step whose requests it sends once more; a mix step sends the property
    traffic of ``ingressbed.scenario.mix`` sized by ``mix``; a live edit has ``edit``.
    ``cookies`` (``cookies: keep``) sends and keeps cookies in each client's jar.
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
    cookies: bool = False
    edit: Edit | None = None

    @property
    def sends(self) -> bool:
        """True for a step that sends traffic (not a live edit)."""
        return self.edit is None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file.

    ``setup`` is what is served before the first step; a live edit step carries the
    setup after it (``Step.edit.after``). ``versions`` lists, per data plane, the
    controller version ranges the expectations state (``on: ingress-nginx@>=1.11``).
    """

    path: str
    title: str
    setup: Setup
    steps: tuple[Step, ...]
    expect: tuple[Expectation, ...]
    description: str = ""
    notes: tuple[str, ...] = ()  # what was converted (API version, service ports, ...)
    needs: tuple[Capability, ...] = ()  # capabilities named in the file, beyond the Ingress's

    @property
    def setups(self) -> tuple[Setup, ...]:
        """Every setup the scenario serves: the first, then one per live edit."""
        after = [s.edit.after for s in self.steps if s.edit is not None and s.edit.after]
        return (self.setup, *after)

    def ranges(self, plane: str) -> tuple[VersionRange, ...]:
        """The version ranges the expectations of data plane ``plane`` state."""
        found = [r for e in self.expect for p, r in e.versions if p == plane]
        return tuple(dict.fromkeys(found))

    @property
    def id(self) -> str:
        """The file's name without its suffix (a catalog candidate's id)."""
        return PurePath(self.path).stem

    def expectations_for(
        self, plane: str | DataPlane, version: str | None = None
    ) -> tuple[Expectation, ...]:
        """The expectations judged on data plane ``plane`` (of controller ``version``;
        None: whatever version)."""
        return tuple(e for e in self.expect if e.applies_to(plane, version))

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)
