"""Pasted Kubernetes objects: the ``ingress:`` block and ``apply:`` steps (pure).

A block holds one or more YAML documents. Each Ingress is checked node by node (every
error at its line, ``ingress.convert``) and read into the controller model's ``Ingress``;
each Service into a ``Service``; other kinds (a Deployment, a ConfigMap) are left out
with a note. Every object runs in the bed's own namespace: a namespace the report names
is noted and dropped.

``hellogo_services`` maps the Services a report's Ingresses name onto hellogo: each keeps
its port numbers and names, and each target port becomes one of hellogo's (8080, 9090,
8081: kept; the names ``http``, ``http2``, ``ws``: hellogo's ports of those names; any
other: 8080), with a note for every change. A Service the Ingresses name but the report
does not paste is made with one port per port the Ingresses name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import yaml

from ingressbed.controller.read import ingress_from_dict, service_from_dict
from ingressbed.errors import ConfigError
from ingressbed.objects import (
    DEFAULT_NAMESPACE,
    HELLOGO_PORT_NAMES,
    BackendRef,
    Ingress,
    Service,
    ServicePort,
)
from ingressbed.scenario import ingress
from ingressbed.scenario.ingress import Converted
from ingressbed.scenario.nodes import Source
from ingressbed.vocabulary import HELLOGO_PORTS, HTTP_PORT
from ingressbed.yamlsource import Node

_BY_NAME: Mapping[str, int] = {name: port for port, name in HELLOGO_PORT_NAMES.items()}


@dataclass(frozen=True)
class PastedIngress:
    """One pasted Ingress: the controller's object, the one-Ingress conversion, its line."""

    ingress: Ingress
    converted: Converted
    line: int


@dataclass(frozen=True)
class PastedService:
    """One pasted Service and its line."""

    service: Service
    line: int


@dataclass(frozen=True)
class Block:
    """Every object of one block, in the order written, and what was left out."""

    ingresses: tuple[PastedIngress, ...] = ()
    services: tuple[PastedService, ...] = ()
    notes: tuple[str, ...] = ()


def _value(node: Node) -> object:
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _namespace(node: Node) -> str:
    """The namespace an object names ("" for none)."""
    for key, value in node.value:
        if key.value == "metadata" and isinstance(value, yaml.MappingNode):
            for k, v in value.value:
                if k.value == "namespace" and isinstance(v, yaml.ScalarNode):
                    return str(v.value)
    return ""


def read(src: Source, node: Node, what: str) -> Block:
    """Every Ingress and Service of a block (``what`` names it in errors).

    Raises:
        ScenarioError: a malformed object (at its line), or no Ingress nor Service at all.
    """
    inner, docs = ingress.documents(src, node, what)
    ingresses: list[PastedIngress] = []
    services: list[PastedService] = []
    notes: list[str] = []
    for doc in docs:
        kind = ingress.kind_of(doc)
        if kind not in ("Ingress", "Service") and len(docs) > 1:
            notes.append(f"{kind or 'an object without a kind'} left out (the bed runs hellogo)")
            continue
        if kind and kind not in ("Ingress", "Service"):
            raise inner.error(doc, f"{what} takes Ingresses and Services, not a {kind}")
        line = inner.line(doc)
        space = _namespace(doc)
        if space and space != DEFAULT_NAMESPACE:
            notes.append(f"namespace {space} left out (the bed runs every object in its own)")
        try:
            if kind == "Service":
                service = service_from_dict(_as_dict(inner, doc))
                services.append(PastedService(replace(service, namespace=DEFAULT_NAMESPACE), line))
                continue
            converted = ingress.convert(inner, doc)  # every field checked, at its line
            read_one = ingress_from_dict(_as_dict(inner, doc))
        except ConfigError as exc:
            raise inner.error(line, str(exc)) from None
        ingresses.append(
            PastedIngress(replace(read_one, namespace=DEFAULT_NAMESPACE), converted, line)
        )
    if not ingresses and not services:
        raise src.error(node, f"the {what} block holds no Ingress and no Service")
    return Block(tuple(ingresses), tuple(services), tuple(dict.fromkeys(notes)))


def _as_dict(src: Source, node: Node) -> dict[str, object]:
    value = _value(node)
    if not isinstance(value, dict):
        raise src.error(node, "expected a Kubernetes object (a mapping)")
    return value


def references(ingresses: Iterable[Ingress]) -> list[BackendRef]:
    """Every Service port the Ingresses name (paths, then default backends), in order."""
    refs: list[BackendRef] = []
    for ing in ingresses:
        found = [p.backend for r in ing.rules for p in r.paths] + [ing.default_backend]
        refs += [b for b in found if b is not None]
    return list(dict.fromkeys(refs))


def hellogo_services(
    refs: Iterable[BackendRef], pasted: Mapping[str, Service]
) -> tuple[tuple[Service, ...], tuple[str, ...]]:
    """The Services the references name, in the order first named, mapped onto hellogo.

    Returns:
        ``(services, notes)``.
    """
    order: dict[str, list[BackendRef]] = {}
    for ref in refs:
        order.setdefault(ref.service, []).append(ref)
    services: list[Service] = []
    notes: list[str] = []
    for name, named in order.items():
        if name in pasted:
            service, said = _mapped(pasted[name])
        else:
            service, said = _made(name, named)
        services.append(service)
        notes += said
    return tuple(services), tuple(notes)


def _pod_port(target: int | str) -> tuple[int, bool]:
    """The hellogo port behind ``target``, and whether that is the target itself."""
    if isinstance(target, int):
        return (target, True) if target in HELLOGO_PORTS else (HTTP_PORT, False)
    return (_BY_NAME[target], True) if target in _BY_NAME else (HTTP_PORT, False)


def _mapped(service: Service) -> tuple[Service, list[str]]:
    ports: list[ServicePort] = []
    notes: list[str] = []
    for port in service.ports:
        pod, same = _pod_port(port.target)
        if not same:
            notes.append(
                f"Service {service.name} port {port.port}: targetPort {port.target} -> "
                f"hellogo's {pod} (hellogo serves {', '.join(map(str, HELLOGO_PORTS))})"
            )
        ports.append(replace(port, target_port=pod))
    return replace(service, ports=tuple(ports)), notes


def _made(name: str, refs: list[BackendRef]) -> tuple[Service, list[str]]:
    ports: list[ServicePort] = []
    used: set[int] = set()
    for ref in refs:
        if isinstance(ref.port, int):
            number, port_name = ref.port, HELLOGO_PORT_NAMES.get(ref.port, "")
        else:
            number, port_name = _BY_NAME.get(ref.port, HTTP_PORT), ref.port
            while number in used:
                number += 1
        if number in used:
            continue
        used.add(number)
        pod, _ = _pod_port(number if isinstance(ref.port, int) else port_name)
        ports.append(ServicePort(number, port_name, pod))
    if len(ports) > 1:  # Kubernetes wants every port of a multi-port Service named
        ports = [p if p.name else replace(p, name=f"port-{p.port}") for p in ports]
    shown = ", ".join(f"{p.port}{f' ({p.name})' if p.name else ''} -> {p.target}" for p in ports)
    note = f"Service {name} is not pasted: made with port {shown} on hellogo"
    return Service(DEFAULT_NAMESPACE, name, tuple(ports)), [note]
