"""Run a scenario's steps on a backend, in file order: traffic and live edits.

Traffic steps are sent as ``ingressbed.scenario.sending`` says (rounds, ``{run}``,
``again``, each client's cookie jar with ``cookies: keep``); every answer keeps the
headers the scenario judges (``Set-Cookie``, ``Date`` and those its ``header``
expectations name). A ``mix`` step sends the property traffic (``ingressbed.scenario.mix``).

A live edit changes what the bed serves before the next step:

- ``apply``, ``annotate``, ``delete``: the setup after the edit goes to
  ``bed.apply_keeping_balancers`` where the backend has ``Capability.RAW_APPLY`` (kind and
  cluster: the real API call, so the controller keeps what it would keep, a hash key
  included), else to ``bed.apply`` (the data plane re-renders, as its controllers do);
- ``scale``: ``bed.scale`` of the Service;
- ``wait``: the given seconds pass (the report's own wait, not a test's timing).

The evidence records, for every step after an edit, the setup and balancer peers then in
force (``Evidence.moments``), and what each edit did (``Evidence.notes``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingressbed.backends.base import Backend
from ingressbed.clients.cookies import Jar
from ingressbed.evidence import Evidence, Moment
from ingressbed.expectations import HeaderExpect
from ingressbed.progress import Steps
from ingressbed.properties import Traffic
from ingressbed.scenario import mix
from ingressbed.scenario.sending import (
    ALWAYS_KEPT,
    CurlCall,
    Request,
    Round,
    expand,
    plan,
    replay,
    send,
    send_with_jars,
    target,
)
from ingressbed.scenario.spec import AGAIN, MIX, SCALE, WAIT, Scenario, Step
from ingressbed.vocabulary import SERVICE_NAME, Capability, Endpoint, Observation, Setup

__all__ = [
    "CurlCall",
    "Request",
    "Round",
    "Run",
    "execute",
    "expand",
    "perform",
    "plan",
    "replay",
    "send",
    "target",
]

#: What a scenario's steps observed (``ingressbed.evidence.Evidence``).
Run = Evidence


class _Lines:
    """A progress writer that hands each line to a callback (or drops it)."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip() and self.progress is not None:
                self.progress(line.strip())
        return len(text)

    def flush(self) -> None:
        pass


def peers(bed: Backend, setup: Setup) -> dict[int, tuple[Endpoint, ...]]:
    """The balancer's peers of each port the setup's one-Ingress view routes to."""
    if setup.ingresses:
        return {}  # several Services: the model of a port alone says nothing
    return {port: tuple(bed.endpoints(port)) for port in setup.ingress.ports}


def perform(bed: Backend, step: Step) -> str:
    """Do a live edit on ``bed``; a line saying what was done."""
    edit = step.edit
    assert edit is not None
    if edit.kind == WAIT:
        time.sleep(edit.seconds)
        return f"step {step.name}: waited {edit.seconds:g} s"
    assert edit.after is not None
    if edit.kind == SCALE:
        if edit.target in ("", SERVICE_NAME):
            bed.scale(edit.replicas)
        else:
            bed.scale(edit.replicas, edit.target)
        return f"step {step.name}: {edit.describe()}"
    if Capability.RAW_APPLY in bed.capabilities:
        bed.apply_keeping_balancers(edit.after)
        how = "applied as kubectl applies it (the controller keeps what it keeps)"
    else:
        bed.apply(edit.after)
        how = f"the {bed.data_plane} data plane re-rendered"
    return f"step {step.name}: {edit.describe()}: {how}"


def kept_headers(scenario: Scenario) -> frozenset[str]:
    """The answer headers the scenario's steps keep."""
    named = {e.name for e in scenario.expect if isinstance(e, HeaderExpect)}
    return ALWAYS_KEPT | named


@dataclass
class _State:
    """What a run collects as it goes."""

    observations: list[Observation] = field(default_factory=list)
    rounds: dict[str, list[Round]] = field(default_factory=dict)
    jars: dict[str, Jar] = field(default_factory=dict)
    notes: dict[str, None] = field(default_factory=dict)
    moments: dict[str, Moment] = field(default_factory=dict)

    def note(self, lines: Iterable[str]) -> None:
        self.notes.update(dict.fromkeys(lines))


def execute(
    scenario: Scenario,
    bed: Backend,
    *,
    token: str | None = None,
    progress: Callable[[str], None] | None = None,
    steps: Steps | None = None,
) -> Run:
    """Run every step on ``bed`` (already serving ``scenario.setup``).

    Args:
        token: what ``{run}`` becomes (default: fresh random hex).
        progress: called with one line per step.
        steps: where a mix step's progress lines go (default: to ``progress``).

    Returns:
        The evidence: observations, pods, balancer peers, each mix's traffic, the moment
        of every step after a live edit, and notes.
    """
    token = token or secrets.token_hex(4)
    running = tuple(bed.pods())
    endpoints = peers(bed, scenario.setup)
    keep = kept_headers(scenario)
    state = _State()
    timeline = [("", Moment(scenario.setup, endpoints, running))]
    moment: Moment | None = None
    mixes: dict[str, Traffic] = {}
    for step in scenario.steps:
        if step.edit is not None:
            line = perform(bed, step)
            if step.edit.kind != WAIT:
                state.note([line])
            if progress is not None:
                progress(line)
            if step.edit.after is not None:
                after = step.edit.after
                moment = Moment(after, peers(bed, after), tuple(bed.pods()))
                timeline.append((step.name, moment))
            continue
        if moment is not None:
            state.moments[step.name] = moment
        if step.kind == MIX:
            assert step.mix is not None
            lines = steps or Steps(_Lines(progress), quiet=progress is None)
            label = f"{scenario.id}: {step.name}"
            served = moment.setup if moment is not None else scenario.setup
            mixes[step.name] = mix.drive(served, bed, step.mix, lines, label)
            if progress is not None:
                progress(f"step {step.name}: {mixes[step.name].requests} requests (mix)")
            continue
        _traffic(step, bed, token, keep, state, progress)
    return Evidence(
        tuple(state.observations),
        tuple(p.name for p in running),
        token,
        plane=bed.data_plane,
        setup=scenario.setup,
        endpoints=endpoints,
        mixes=mixes,
        moments=state.moments,
        timeline=tuple(timeline),
        notes=tuple(state.notes),
    )


def _traffic(
    step: Step,
    bed: Backend,
    token: str,
    keep: frozenset[str],
    state: _State,
    progress: Callable[[str], None] | None,
) -> None:
    if step.kind == AGAIN:
        state.rounds[step.name] = replay(state.rounds[step.again], step)
    else:
        state.rounds[step.name] = plan(step, token, keep)
    address = bed.address()
    before = len(state.observations)
    for requests in state.rounds[step.name]:
        if step.cookies:
            state.observations += send_with_jars(address, requests, state.jars, state.note)
        else:
            state.observations += send(address, requests)
    if progress is not None:
        sent = len(state.observations) - before
        progress(f"step {step.name}: {sent} request{'' if sent == 1 else 's'}")
