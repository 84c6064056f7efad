"""The data planes, one module per family, behind one registry.

``plane(name)`` gives the ``Plane`` of a data plane name (``nginx``, ``haproxy:pod-ids``,
``ingress-nginx`` ...): its translation of an ingress-nginx candidate (``translate``,
``for_key``), whose ``upstream(endpoints).pick(request)`` is the one place picks come from,
and what the local backend needs to run it (``program``, ``render``, ``workers``,
``local_capabilities``). Typical use::

    from ingressbed import planes

    balance = planes.plane("haproxy").translate(setup)
    pick = balance.upstream(endpoints).pick(request)   # a Pick: one endpoint, a group, or any

Adding a data plane is one module here (its ``PLANES``), listed in ``_FAMILIES``, plus its
catalog expectations and docs (docs/layout.md, "Adding a data plane").
"""

from __future__ import annotations

from collections.abc import Sequence

from ingressbed.errors import ConfigError
from ingressbed.planes import envoy, haproxy, ingress_nginx, nginx
from ingressbed.planes.base import Balance, FlavorOptions, Listen, Plane, Program, Target
from ingressbed.vocabulary import DataPlane, Flavor, Setup

__all__ = [
    "Balance",
    "FlavorOptions",
    "Listen",
    "Plane",
    "Program",
    "Target",
    "all_planes",
    "flavor_balance",
    "local_planes",
    "plane",
    "translate",
]

#: The plane modules; each lists its planes in ``PLANES``.
_FAMILIES = (ingress_nginx, nginx, haproxy, envoy)
_REGISTRY: dict[DataPlane, Plane] = {p.name: p for family in _FAMILIES for p in family.PLANES}
_missing = set(DataPlane) - set(_REGISTRY)
assert not _missing, f"data planes without a module: {sorted(_missing)}"


def plane(name: str | DataPlane) -> Plane:
    """The data plane called ``name``.

    Raises:
        ConfigError: no such data plane (the known ones are listed).
    """
    try:
        return _REGISTRY[DataPlane(name)]
    except ValueError:
        known = ", ".join(p.value for p in DataPlane)
        raise ConfigError(f"unknown data plane {name!r}; known: {known}") from None


def all_planes() -> tuple[Plane, ...]:
    """Every data plane, ingress-nginx first."""
    return tuple(_REGISTRY.values())


def local_planes() -> tuple[Plane, ...]:
    """The data planes the local backend runs (those with a program)."""
    return tuple(p for p in _REGISTRY.values() if p.program is not None)


def translate(
    name: str | DataPlane, setup: Setup, *, controller_version: str | None = None
) -> Balance:
    """How data plane ``name`` balances ``setup`` (``plane(name).translate``).

    Raises:
        ConfigError: an unknown plane, or a candidate it cannot express (named).
    """
    return plane(name).translate(setup, controller_version=controller_version)


def flavor_balance(flavor: str, options: FlavorOptions, count: int) -> Balance:
    """A balance from a placement flavor's own knobs (``ingressbed predict --flavor F``),
    for ``count`` endpoints.

    Raises:
        ConfigError: an unknown flavor, or an option that flavor does not take (named).
    """
    for family in _FAMILIES:
        if family.FLAVOR.value == flavor:
            _refuse_foreign(options, family)
            return family.flavor_balance(options, count)
    known = ", ".join(f.value for f in Flavor)
    raise ConfigError(f"unknown flavor {flavor!r}; known: {known}")


def _refuse_foreign(options: FlavorOptions, chosen: object) -> None:
    """Refuse the knobs another family declares its own (``OWN_OPTIONS``).

    Raises:
        ConfigError: ``--NAME applies to the F flavor only (give --flavor F)``.
    """
    for family in _FAMILIES:
        if family is chosen:
            continue
        flavor = family.FLAVOR.value
        options.refuse(
            getattr(family, "OWN_OPTIONS", ()),
            f"applies to the {flavor} flavor only (give --flavor {flavor})",
        )


def names(planes: Sequence[Plane]) -> str:
    """``nginx, haproxy, ...`` for messages."""
    return ", ".join(p.name.value for p in planes)
