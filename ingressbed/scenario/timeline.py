"""A scenario's objects over its steps: the setup before the first step and after each
live edit, every edit checked against the objects of its moment (pure).

``build`` walks the steps twice: once to learn every moment's objects (which decides the
report's mode, ``world.several``), then to make each moment's ``Setup`` in that mode and
put it on its edit (``Edit.after``). A problem is a ``ScenarioError`` at the step's line:
an edit naming an Ingress or Service that is not there at that moment, or objects
ingress-nginx would not know (an annotation typo in an ``apply`` or ``annotate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ingressbed import ingress_keys
from ingressbed.errors import ConfigError
from ingressbed.scenario import world as worlds
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.pasted import Block
from ingressbed.scenario.spec import ANNOTATE, APPLY, DELETE, SCALE, WAIT, Step
from ingressbed.scenario.world import World, WorldError
from ingressbed.vocabulary import SERVICE_NAME, Setup


@dataclass(frozen=True)
class Timeline:
    """The first setup, the steps with their edits' setups, and what was converted."""

    setup: Setup
    steps: tuple[Step, ...]
    several: bool
    notes: tuple[str, ...]
    services: tuple[str, ...]  # every Service the Ingresses name at some moment


def first_world(block: Block) -> World:
    """The objects of the ``ingress`` block."""
    return World().apply(block)


def scaled(src: Source, step: Step, world: World, several: bool) -> str:
    """The Service a ``scale`` step scales (hellogo in the one-Ingress mode)."""
    assert step.edit is not None
    target = step.edit.target
    if not several:
        named = set(world.service_names(True)) | {SERVICE_NAME, ""}
        if target not in named:
            known = ", ".join(sorted(named - {""}))
            raise src.error(step.line, f"scale: no Service named {target!r} (known: {known})")
        return SERVICE_NAME
    names = world.service_names(True)
    if not target:
        if len(names) != 1:
            raise src.error(
                step.line, f"scale: name the Service (service: NAME), one of {', '.join(names)}"
            )
        return names[0]
    if target not in names:
        raise src.error(
            step.line,
            f"scale: no Service named {target!r} at this step (the Ingresses name "
            f"{', '.join(names)})",
        )
    return target


def _next(
    src: Source, world: World, step: Step, blocks: Mapping[str, Block], several: bool
) -> World:
    edit = step.edit
    assert edit is not None
    try:
        if step.kind == APPLY:
            return world.apply(blocks[step.name])
        if step.kind == ANNOTATE:
            return world.annotate(edit.target, edit.set, edit.remove)
        if step.kind == DELETE:
            return world.delete(edit.target)
        if step.kind == SCALE:
            return world.scale(scaled(src, step, world, several), edit.replicas)
    except WorldError as exc:
        raise src.error(step.line, f"{step.kind}: {exc}") from None
    return world  # wait


def moments(
    src: Source, first: World, steps: Sequence[Step], blocks: Mapping[str, Block]
) -> list[World]:
    """The objects before the first step and after each edit (mode not yet known)."""
    found = [first]
    for step in steps:
        if step.edit is not None and step.kind != SCALE:  # scaling changes no object
            found.append(_next(src, found[-1], step, blocks, several=True))
    return found


def build(
    src: Source,
    first: World,
    base: Setup,
    steps: Sequence[Step],
    blocks: Mapping[str, Block],
) -> Timeline:
    """Every moment's setup (see the module docstring).

    Args:
        first: the objects of the ``ingress`` block.
        base: the file's other settings (controller keys, replicas, slow pods).
        steps: the parsed steps.
        blocks: the objects of each ``apply`` step, by step name.
    """
    all_worlds = moments(src, first, steps, blocks)
    several = worlds.several(all_worlds)
    served = worlds.setup(first, base, several_objects=several)
    notes = list(served.notes)
    world = first
    out: list[Step] = []
    for step in steps:
        edit = step.edit
        if edit is None or edit.kind == WAIT:
            out.append(step)
            continue
        if step.kind == SCALE:  # the Service it scales, as the backends name it
            edit = replace(edit, target=scaled(src, step, world, several))
            step = replace(step, edit=edit)
        world = _next(src, world, step, blocks, several)
        after = worlds.setup(world, base, several_objects=several)
        _check(src, step.line, after.setup)
        said = tuple(n for n in after.notes if n not in notes)
        notes += said
        edit = replace(edit, after=after.setup, notes=(*edit.notes, *said))
        out.append(replace(step, edit=edit))
    names = [n for w in all_worlds for n in w.service_names(True)]
    return Timeline(served.setup, tuple(out), several, tuple(notes), tuple(dict.fromkeys(names)))


def _check(src: Source, line: int, setup: Setup) -> None:
    try:
        ingress_keys.check(setup)
    except ConfigError as exc:
        raise src.error(line, str(exc)) from None
