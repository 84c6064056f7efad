"""What ingress-nginx builds from a scenario's objects, explained (``repro --explain``).

The controller model (``ingressbed.controller``) is built from the objects the bed served
before the first step, on the pods that ran, then taken through every live edit
(``controller.apply``: reload or not, and the posted settings a running balancer does not
use yet, such as a new hash key). On a backend that runs the real controller (kind,
cluster: ``ShowsController``) its ``/dbg backends all`` is compared with the model,
backend by backend, and the model's locations are looked up in its ``nginx -T``.

``explain`` returns the full text and the short notes every verdict carries: what the
controller ignored, replaced or refused, what a running balancer keeps stale, and where
the real controller and the model differ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ingressbed import controller
from ingressbed.backends.base import ControllerState
from ingressbed.backends.cluster_objects import live_backends
from ingressbed.controller import Configuration, NoteKind
from ingressbed.errors import BedError
from ingressbed.evidence import Evidence, Moment
from ingressbed.objects import DEFAULT_NAMESPACE
from ingressbed.scenario.spec import Scenario
from ingressbed.vocabulary import SERVICE_NAME, Endpoint, Pod, Setup

#: Notes worth a line in every verdict (the rest are in the full explanation).
VERDICT_NOTES = (NoteKind.IGNORED, NoteKind.OVERRIDDEN, NoteKind.REJECTED, NoteKind.DEFAULTED)
_SERVER = re.compile(r"^\s*## start server (\S+)")
_LOCATION = re.compile(r"^\s*location ((?:~\* |= )?\".*\") \{\s*$")


@dataclass(frozen=True)
class Explanation:
    """The explanation's text, and the notes a verdict shows."""

    text: str
    notes: tuple[str, ...] = ()


def configuration(
    setup: Setup,
    pods: Sequence[Pod],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    version: str | None = None,
) -> Configuration:
    """The controller model of ``setup`` on ``pods`` (objects in ``namespace``).

    A one-Ingress setup is its Ingress on the hellogo Service (ports 8080, 9090, 8081).
    """
    if setup.ingresses:
        ingresses = [replace(i, namespace=namespace) for i in setup.ingresses]
        services = [replace(s, namespace=namespace) for s in setup.services]
    else:
        ingress, service = controller.from_ingress_spec(setup.ingress, namespace=namespace)
        ingresses, services = [ingress], [service]
    endpoints: dict[tuple[str, str, int], tuple[Endpoint, ...]] = {}
    for service in services:
        for port in service.ports:
            target = port.target if isinstance(port.target, int) else 0
            mine = [p for p in pods if (p.service or SERVICE_NAME) == service.name]
            endpoints[(namespace, service.name, port.port)] = tuple(
                Endpoint(p.ip, target) for p in mine
            )
    return controller.build(ingresses, services, endpoints, setup.controller, version=version)


def nginx_locations(text: str) -> dict[str, set[str]]:
    """The Ingress locations of each server in ``nginx -T`` output (by ``## start server``)."""
    found: dict[str, set[str]] = {}
    server = ""
    for line in text.splitlines():
        start = _SERVER.match(line)
        if start:
            server = start.group(1)
            found.setdefault(server, set())
            continue
        location = _LOCATION.match(line)
        if location and server:
            found[server].add(location.group(1))
    return found


def compare_nginx(config: Configuration, text: str) -> list[str]:
    """Model locations the controller's ``nginx -T`` lacks, one line each."""
    live = nginx_locations(text)
    lines = []
    for server in config.servers:
        have = live.get(server.hostname)
        if have is None:
            lines.append(f"nginx -T: no server {server.hostname} (the model has one)")
            continue
        lines += [
            f"nginx -T: server {server.hostname} has no location {loc.nginx} (the model has it)"
            for loc in server.locations
            if loc.nginx not in have
        ]
    return lines


def explain(
    scenario: Scenario,
    run: Evidence,
    state: ControllerState | None = None,
    *,
    version: str | None = None,
) -> Explanation:
    """The configuration in force at each moment of ``run``, and the verdict's notes.

    Args:
        scenario: the scenario played.
        run: its evidence (``timeline``: what was served, when, on which pods).
        state: the real controller's view after the run, when the backend has one.
        version: the controller release to model (None: the modelled one).

    Raises:
        ConfigError: a release the model does not cover.
    """
    namespace = state.namespace if state is not None else DEFAULT_NAMESPACE
    moments = run.timeline or (("", _first(run)),)
    notes: list[str] = []
    config = configuration(
        moments[0][1].setup, moments[0][1].pods, namespace=namespace, version=version
    )
    notes += [n.text() for n in config.notes if n.kind in VERDICT_NOTES]
    parts = [controller.explain(config)]
    held: Mapping[str, controller.Balancer] = controller.balancers(config)
    edits = {s.name: s for s in scenario.steps if s.edit is not None}
    for name, moment in moments[1:]:
        after = configuration(moment.setup, moment.pods, namespace=namespace, version=version)
        change = controller.apply(config, after, held)
        edit = edits[name].edit
        described = edit.describe() if edit is not None else name
        parts.append(f"after step {name} ({described}):\n{controller.explain_change(change)}")
        notes += [f"after step {name}: stale: {s.text()}" for s in change.stale]
        notes += [
            n.text() for n in after.notes if n.kind in VERDICT_NOTES and n.text() not in notes
        ]
        config, held = after, change.balancers
    if len(moments) > 1:
        parts.append("in force after the last edit:\n" + controller.explain(config))
    if state is not None:
        differences = _against(config, state, namespace)
        shown = "\n".join(f"  {d}" for d in differences) or "  none: they agree"
        parts.append(
            f"the real controller against the model (/dbg backends all, nginx -T):\n{shown}\n"
        )
        notes += [f"controller vs model: {d}" for d in differences]
    return Explanation("\n".join(p.rstrip("\n") + "\n" for p in parts), tuple(dict.fromkeys(notes)))


def placeholder_pods(setup: Setup) -> tuple[Pod, ...]:
    """Pods for a dry run: ``<service>-<n>`` on ``10.0.<service index>.<n>``."""
    return tuple(
        Pod(f"{service}-{n}", f"10.0.{index}.{n}", service=service)
        for index, service in enumerate(setup.service_names, start=1)
        for n in range(1, setup.replicas_of(service) + 1)
    )


def dry_run(scenario: Scenario) -> Explanation:
    """The explanation of ``scenario`` with nothing running: placeholder pods."""
    moments = [("", Moment(scenario.setup, {}, placeholder_pods(scenario.setup)))]
    for step in scenario.steps:
        if step.edit is not None and step.edit.after is not None:
            after = step.edit.after
            moments.append((step.name, Moment(after, {}, placeholder_pods(after))))
    found = explain(scenario, Evidence(setup=scenario.setup, timeline=tuple(moments)))
    head = "dry run: nothing ran; pod addresses are placeholders (10.0.<Service>.<pod>)\n"
    return replace(found, text=head + found.text)


def _first(run: Evidence) -> Moment:
    assert run.setup is not None
    return Moment(run.setup, run.endpoints, ())


def _against(config: Configuration, state: ControllerState, namespace: str) -> list[str]:
    try:
        theirs = live_backends(state.backends, namespace)
    except BedError as exc:
        return [str(exc)]
    ours = [b for b in config.backends if b.name != controller.DEFAULT_BACKEND]
    return [*controller.compare(ours, theirs), *compare_nginx(config, state.nginx_conf)]
