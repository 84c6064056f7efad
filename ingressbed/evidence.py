"""What a run observed: the evidence every expectation is judged on (plain data).

A scenario's run (``ingressbed.scenario.run.execute``) and an e2e helper
(``ingressbed.expect``) both build an ``Evidence``; ``ingressbed.judge`` reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ingressbed.properties import Traffic
from ingressbed.vocabulary import DataPlane, Endpoint, Observation, Pod, Setup


@dataclass(frozen=True)
class Moment:
    """What the bed served while one step ran: the setup, the balancer peers per port
    (one-Ingress setups), and the pods."""

    setup: Setup
    endpoints: Mapping[int, Sequence[Endpoint]]
    pods: tuple[Pod, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """Observations in sending order, and the bed as it was.

    observations  every answer of the plain steps, ``Observation.step`` naming the step
    pods          names of the pods serving when the steps started
    token         what ``{run}`` became in URLs
    plane         the data plane whose model predicts the picks (None: not said)
    setup         what the bed served (the model reads its hash key)
    endpoints     balancer peers per Service port when the steps started
    mixes         per ``mix`` step name, the traffic it observed
    moments       per step that ran after a live edit, what was served then
    timeline      what was served before the first step ("") and after each live edit
    notes         what the run did besides sending (live edits, cookies a jar refused)
    version       the controller release the data plane follows (None: not ingress-nginx)
    """

    observations: tuple[Observation, ...] = ()
    pods: tuple[str, ...] = ()
    token: str = ""
    plane: DataPlane | None = None
    setup: Setup | None = None
    endpoints: Mapping[int, Sequence[Endpoint]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    mixes: Mapping[str, Traffic] = field(default_factory=lambda: MappingProxyType({}))
    moments: Mapping[str, Moment] = field(default_factory=lambda: MappingProxyType({}))
    timeline: tuple[tuple[str, Moment], ...] = ()
    notes: tuple[str, ...] = ()
    version: str | None = None

    def of(self, steps: Sequence[str]) -> list[Observation]:
        """Observations of the named steps, in sending order (a mix's included)."""
        wanted = set(steps)
        out = [o for o in self.observations if o.step in wanted]
        for name in steps:
            if name in self.mixes:
                out += self.mixes[name].all()
        return out
