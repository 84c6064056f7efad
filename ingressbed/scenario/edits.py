"""Live edit steps of a scenario file, validated into ``Edit`` values (pure).

Between traffic steps, in order::

    - apply: |                 # an Ingress or a Service, created or replaced by name
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        ...
    - annotate: {ingress: web, set: {upstream-hash-by: $request_uri}, remove: [affinity]}
    - delete: web              # an Ingress, by name
    - scale: {service: app, replicas: 3}    # or `scale: 3` with one Service
    - wait: 2                  # seconds

Annotation names may be short (``upstream-hash-by``: ingress-nginx's prefix is added) or
full. What each edit does to the objects, and whether it fits the objects of its
moment, is ``ingressbed.scenario.world``'s; the loader checks it.
"""

from __future__ import annotations

from types import MappingProxyType

import yaml

from ingressbed import ingress_keys, yamlsource
from ingressbed.errors import ConfigError
from ingressbed.objects import Ingress, Service
from ingressbed.scenario import pasted
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.spec import ANNOTATE, APPLY, DELETE, SCALE, WAIT, Edit
from ingressbed.vocabulary import ANNOTATION_PREFIX
from ingressbed.yamlsource import Mapping, Node

#: Keys an edit step may have besides its kind.
EDIT_KEYS = ("name", "note")
MAX_WAIT = 300.0
MAX_REPLICAS = 50


def full_name(short: str) -> str:
    """``upstream-hash-by`` -> ``nginx.ingress.kubernetes.io/upstream-hash-by``; a name with a
    ``/`` is kept."""
    return short if "/" in short else ANNOTATION_PREFIX + short


def parse(src: Source, kind: str, step: Mapping) -> tuple[Edit, pasted.Block | None]:
    """The edit of a step whose kind key is ``kind``; for ``apply`` also its objects.

    Raises:
        ScenarioError: at the line of the problem.
    """
    node = step.require(kind)
    if kind == APPLY:
        block = pasted.read(src, node, "apply")
        objects: list[Ingress | Service] = [p.ingress for p in block.ingresses]
        objects += [p.service for p in block.services]
        return Edit(APPLY, objects=tuple(objects), notes=block.notes), block
    if kind == ANNOTATE:
        return _annotate(src, node), None
    if kind == DELETE:
        name = yamlsource.string(src, node, "delete (the Ingress's name)")
        return Edit(DELETE, target=name), None
    if kind == SCALE:
        return _scale(src, node), None
    assert kind == WAIT
    seconds = yamlsource.number(src, node, "wait (seconds)")
    if not 0 < seconds <= MAX_WAIT:
        raise src.error(node, f"wait must be more than 0 and at most {MAX_WAIT:g} seconds")
    return Edit(WAIT, seconds=seconds), None


def _annotate(src: Source, node: Node) -> Edit:
    found = Mapping(src, node, ANNOTATE)
    found.only(("ingress", "set", "remove"))
    target = yamlsource.string(
        src, found.require("ingress", " (the Ingress to annotate)"), "ingress"
    )
    if "set" not in found and "remove" not in found:
        raise src.error(node, "annotate needs set and/or remove")
    values: dict[str, str] = {}
    if "set" in found:
        given = Mapping(src, found.require("set"), "annotate.set")
        if not given.values:
            raise src.error(given.node, "annotate.set is empty")
        for key, value in given.values.items():
            values[full_name(key)] = yamlsource.text(src, value, f"annotation {key!r}")
        try:
            ingress_keys.check_annotations(values)
        except ConfigError as exc:
            raise src.error(given.node, str(exc)) from None
    removed: list[str] = []
    if "remove" in found:
        for name, name_node in yamlsource.names(src, found.require("remove"), "annotate.remove"):
            if full_name(name) in values:
                raise src.error(name_node, f"annotate sets and removes {name!r}: choose one")
            removed.append(full_name(name))
    return Edit(ANNOTATE, target=target, set=MappingProxyType(values), remove=tuple(removed))


def _scale(src: Source, node: Node) -> Edit:
    if isinstance(node, yaml.ScalarNode):
        replicas = yamlsource.integer(src, node, "scale (replicas)", 0, MAX_REPLICAS)
        return Edit(SCALE, replicas=replicas)
    found = Mapping(src, node, SCALE)
    found.only(("service", "replicas"))
    target = ""
    if "service" in found:
        target = yamlsource.string(src, found.require("service"), "scale.service")
    replicas = yamlsource.integer(src, found.require("replicas"), "scale.replicas", 0, MAX_REPLICAS)
    return Edit(SCALE, target=target, replicas=replicas)
