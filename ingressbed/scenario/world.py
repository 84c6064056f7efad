"""The objects a scenario serves, moment by moment (pure).

A ``World`` is what the API server holds at one moment: the Ingresses (each with its
creation order: an Ingress applied again keeps its place, one deleted and applied again
is the youngest), the pasted Services, and the replicas of each Service. The
``ingress`` block makes the first world; every live edit (``apply``, ``annotate``,
``delete``, ``scale``) makes the next.

``setup`` turns a world into the ``Setup`` a backend serves. A report is read in one of
two modes for all its moments (``several``): one Ingress on one Service, as the bed has
always served it (the Ingress converted onto hellogo, ``Setup.ingress``); or several
objects (two or more Ingresses or Services at some moment, a canary Ingress, or a pasted
Service the Ingress names), where ``Setup.ingresses`` and ``Setup.services`` carry them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ingressbed.objects import Ingress, Service, spec_view
from ingressbed.scenario.pasted import Block, hellogo_services, references
from ingressbed.vocabulary import SERVICE_NAME, IngressSpec, Setup

_NO_SPECS: Mapping[str, IngressSpec] = MappingProxyType({})
_NO_SERVICES: Mapping[str, Service] = MappingProxyType({})
_NO_COUNTS: Mapping[str, int] = MappingProxyType({})


class WorldError(ValueError):
    """A live edit that does not fit the world it is applied to (the message says why)."""


@dataclass(frozen=True)
class World:
    """The objects at one moment (see the module docstring).

    ``specs`` holds each Ingress converted onto hellogo (the one-Ingress mode's view);
    ``replicas`` the pods of each Service a ``scale`` step set.
    """

    ingresses: tuple[Ingress, ...] = ()
    specs: Mapping[str, IngressSpec] = field(default_factory=lambda: _NO_SPECS)
    services: Mapping[str, Service] = field(default_factory=lambda: _NO_SERVICES)
    replicas: Mapping[str, int] = field(default_factory=lambda: _NO_COUNTS)
    serial: int = 0

    def apply(self, block: Block) -> World:
        """Create or replace every object of ``block`` by name."""
        ingresses = list(self.ingresses)
        specs = dict(self.specs)
        serial = self.serial
        for pasted in block.ingresses:
            names = [i.name for i in ingresses]
            if pasted.ingress.name in names:
                at = names.index(pasted.ingress.name)
                ingresses[at] = replace(pasted.ingress, order=ingresses[at].order)
            else:
                ingresses.append(replace(pasted.ingress, order=serial))
                serial += 1
            specs[pasted.ingress.name] = pasted.converted.spec
        services = {**self.services, **{p.service.name: p.service for p in block.services}}
        return replace(
            self,
            ingresses=tuple(ingresses),
            specs=MappingProxyType(specs),
            services=MappingProxyType(services),
            serial=serial,
        )

    def ingress(self, name: str) -> Ingress:
        """The Ingress called ``name``.

        Raises:
            WorldError: none is, at this moment (the ones there are, named).
        """
        for found in self.ingresses:
            if found.name == name:
                return found
        known = ", ".join(i.name for i in self.ingresses) or "none"
        raise WorldError(f"no Ingress named {name!r} at this step (there are: {known})")

    def annotate(self, name: str, set_: Mapping[str, str], remove: Iterable[str]) -> World:
        """Set and remove annotations of Ingress ``name``."""
        found = self.ingress(name)
        annotations = {**found.annotations, **set_}
        for key in remove:
            annotations.pop(key, None)
        changed = replace(found, annotations=MappingProxyType(annotations))
        spec = self.specs[name]
        specs = {**self.specs, name: replace(spec, annotations=changed.annotations)}
        ingresses = tuple(changed if i.name == name else i for i in self.ingresses)
        return replace(self, ingresses=ingresses, specs=MappingProxyType(specs))

    def delete(self, name: str) -> World:
        """Delete Ingress ``name`` (never the last one: the bed serves at least one)."""
        self.ingress(name)
        if len(self.ingresses) == 1:
            raise WorldError(
                f"Ingress {name} is the only one: the bed always serves an Ingress "
                "(apply another before deleting it)"
            )
        specs = {k: v for k, v in self.specs.items() if k != name}
        ingresses = tuple(i for i in self.ingresses if i.name != name)
        return replace(self, ingresses=ingresses, specs=MappingProxyType(specs))

    def scale(self, service: str, replicas: int) -> World:
        """Run ``replicas`` pods of ``service``."""
        return replace(self, replicas=MappingProxyType({**self.replicas, service: replicas}))

    def service_names(self, several: bool) -> tuple[str, ...]:
        """The Services whose pods run: those the Ingresses name (several), or hellogo."""
        if not several:
            return (SERVICE_NAME,)
        return tuple(dict.fromkeys(r.service for r in references(self.ingresses)))


def several(worlds: Iterable[World]) -> bool:
    """Whether a report needs the several-objects mode (see the module docstring)."""
    for world in worlds:
        named = {r.service for r in references(world.ingresses)}
        if len(world.ingresses) > 1 or any(i.is_canary for i in world.ingresses):
            return True
        if len(named) > 1 or named & set(world.services):
            return True
    return False


@dataclass(frozen=True)
class Served:
    """A world as a backend serves it, and what was converted to get there."""

    setup: Setup
    notes: tuple[str, ...] = ()


def setup(world: World, base: Setup, *, several_objects: bool) -> Served:
    """The ``Setup`` of ``world``.

    Args:
        world: the objects.
        base: the file's other settings (controller keys, replicas, slow pods,
            ``service_replicas``); its ``ingress`` is replaced.
        several_objects: the report's mode (``several``).
    """
    if not several_objects:
        (only,) = world.ingresses
        replicas = world.replicas.get(SERVICE_NAME, base.replicas)
        return Served(replace(base, ingress=world.specs[only.name], replicas=replicas))
    services, notes = hellogo_services(references(world.ingresses), world.services)
    mains = [i for i in world.ingresses if not i.is_canary] or list(world.ingresses)
    view = spec_view(mains[0], services)
    counts = {**base.service_replicas, **world.replicas}
    return Served(
        replace(
            base,
            ingress=view,
            ingresses=world.ingresses,
            services=services,
            service_replicas=MappingProxyType(counts),
        ),
        notes,
    )
