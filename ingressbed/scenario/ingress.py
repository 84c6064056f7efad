"""A user's Ingress, in any API version they had, to the bed's ``IngressSpec`` (pure).

Accepted: ``extensions/v1beta1`` and ``networking.k8s.io/v1beta1`` (``serviceName`` /
``servicePort``) and ``networking.k8s.io/v1`` (``service.name`` / ``service.port``).
Every backend service, whatever its name, becomes hellogo: a port that is one of
hellogo's (8080, 9090, 8081) is kept, any other port number or a named port becomes
8080. ``notes`` say what was converted, so a verdict can show it.

Left out on purpose: ``tls`` (the bed serves plain HTTP), the namespace (the bed uses
its own), the ingress class (``spec.ingressClassName`` and the
``kubernetes.io/ingress.class`` annotation: the bed sets its own class).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import yaml

from ingressbed import yamlsource
from ingressbed.scenario.nodes import Source
from ingressbed.vocabulary import HELLOGO_PORTS, HTTP_PORT, SERVICE_NAME, IngressSpec, Route
from ingressbed.yamlsource import Mapping, Node

V1 = "networking.k8s.io/v1"
BETA_VERSIONS = ("extensions/v1beta1", "networking.k8s.io/v1beta1")
API_VERSIONS = (*BETA_VERSIONS, V1)
PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True)
class Converted:
    """The Ingress as the bed serves it, what was changed, and where its annotations are.

    ``notes`` say what was converted; those about Service ports becoming hellogo's are the
    last ``service_notes`` of them (a report with several Services replaces them with its
    own, ``ingressbed.scenario.pasted``).
    """

    spec: IngressSpec
    notes: tuple[str, ...]
    annotation_lines: dict[str, int]
    service_notes: int = 0

    @property
    def object_notes(self) -> tuple[str, ...]:
        """The notes that are not about Service ports."""
        return self.notes[: len(self.notes) - self.service_notes]


class _Converter:
    def __init__(self, src: Source, version: str) -> None:
        self.src = src
        self.version = version
        self.notes: dict[str, None] = {}  # ordered, without repeats

    def port(self, service: str, port: int | str) -> int:
        if isinstance(port, int) and port in HELLOGO_PORTS:
            if service != SERVICE_NAME:
                self.notes[f"service {service}:{port} -> {SERVICE_NAME}:{port}"] = None
            return port
        why = "a named port" if isinstance(port, str) else "not a hellogo port"
        self.notes[
            f"service {service}:{port} -> {SERVICE_NAME}:{HTTP_PORT} ({why}; hellogo serves "
            f"{', '.join(map(str, HELLOGO_PORTS))})"
        ] = None
        return HTTP_PORT

    def _port_value(self, node: Node, what: str) -> int | str:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
            return yamlsource.integer(self.src, node, what, 1, 65535)
        return yamlsource.string(self.src, node, what)

    def backend(self, node: Node, what: str) -> int:
        """The hellogo port a backend block goes to."""
        block = Mapping(self.src, node, what)
        if self.version == V1:
            if "serviceName" in block or "servicePort" in block:
                raise self.src.error(
                    node, f"{what}: {V1} uses service.name and service.port, not serviceName"
                )
            if "resource" in block:
                raise self.src.error(node, f"{what}: resource backends are not supported")
            block.only(("service",))
            service = Mapping(self.src, block.require("service"), f"{what}.service")
            service.only(("name", "port"))
            name = yamlsource.string(self.src, service.require("name"), f"{what}.service.name")
            port = Mapping(self.src, service.require("port"), f"{what}.service.port")
            port.only(("number", "name"))
            if ("number" in port) == ("name" in port):
                raise self.src.error(port.node, f"{what}.service.port needs number or name")
            if "number" in port:
                number = port.require("number")
                return self.port(
                    name, yamlsource.integer(self.src, number, "port number", 1, 65535)
                )
            return self.port(name, yamlsource.string(self.src, port.require("name"), "port name"))
        if "service" in block:
            raise self.src.error(
                node, f"{what}: {self.version} uses serviceName and servicePort, not service"
            )
        if "resource" in block:
            raise self.src.error(node, f"{what}: resource backends are not supported")
        block.only(("serviceName", "servicePort"))
        name = yamlsource.string(self.src, block.require("serviceName"), f"{what}.serviceName")
        service_port = self._port_value(block.require("servicePort"), f"{what}.servicePort")
        return self.port(name, service_port)

    def path(self, node: Node, host: str | None) -> Route:
        item = Mapping(self.src, node, "ingress path")
        item.only(("path", "pathType", "backend"))
        path = "/"
        if "path" in item:
            path = yamlsource.string(self.src, item.require("path"), "path")
            if not path.startswith("/"):
                raise self.src.error(item.require("path"), f"path {path!r} must start with /")
        if "pathType" in item:
            path_type = yamlsource.string(self.src, item.require("pathType"), "pathType")
            if path_type not in PATH_TYPES:
                raise self.src.error(
                    item.require("pathType"),
                    f"pathType {path_type!r} is not one of {', '.join(PATH_TYPES)}",
                )
        elif self.version == V1:
            raise self.src.error(node, f"{V1} needs a pathType on every path")
        else:
            path_type = "ImplementationSpecific"  # what the API server defaulted it to
        port = self.backend(item.require("backend"), "backend")
        return Route(path, port, host, path_type)

    def rules(self, node: Node) -> list[Route]:
        routes: list[Route] = []
        for rule_node in yamlsource.items(self.src, node, "spec.rules"):
            rule = Mapping(self.src, rule_node, "ingress rule")
            rule.only(("host", "http"))
            host: str | None = None
            host_node = rule.get("host")
            if host_node is not None and value_of(host_node) is not None:
                host = yamlsource.string(self.src, host_node, "host", empty=True) or None
            if "http" not in rule:
                continue  # a host without paths routes nothing
            http = Mapping(self.src, rule.require("http"), "http")
            http.only(("paths",))
            for path_node in yamlsource.items(self.src, http.require("paths"), "http.paths"):
                routes.append(self.path(path_node, host))
        return routes


def value_of(node: Node) -> object:
    """A scalar's value (None for null); non-scalars are returned as the node."""
    return yamlsource.value(node) if isinstance(node, yaml.ScalarNode) else node


def _annotations(src: Source, meta: Mapping) -> tuple[dict[str, str], dict[str, int], list[str]]:
    node = meta.get("annotations")
    if node is None or value_of(node) is None:
        return {}, {}, []
    found = Mapping(src, node, "metadata.annotations")
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    notes: list[str] = []
    for key, value_node in found.values.items():
        if key == CLASS_ANNOTATION:
            notes.append(f"annotation {key} left out (the bed sets its own ingress class)")
            continue
        values[key] = yamlsource.text(src, value_node, f"annotation {key!r}")
        lines[key] = found.line(key)
    return values, lines, notes


def convert(src: Source, node: Node) -> Converted:
    """Validate one Ingress object node and convert it.

    Raises:
        ScenarioError: not an Ingress, an unknown API version, a malformed field.
    """
    top = Mapping(src, node, "ingress")
    top.only(("apiVersion", "kind", "metadata", "spec", "status"))
    kind = yamlsource.string(src, top.require("kind"), "kind")
    if kind != "Ingress":
        raise src.error(top.require("kind"), f"kind is {kind!r}; the ingress needs an Ingress")
    version = yamlsource.string(src, top.require("apiVersion"), "apiVersion")
    if version not in API_VERSIONS:
        raise src.error(
            top.require("apiVersion"),
            f"apiVersion {version!r} is not an Ingress version; "
            f"use one of {', '.join(API_VERSIONS)}",
        )
    meta = Mapping(src, top.require("metadata"), "metadata")
    name = yamlsource.string(src, meta.require("name"), "metadata.name")
    annotations, lines, notes = _annotations(src, meta)

    spec = Mapping(src, top.require("spec"), "spec")
    default_key = "defaultBackend" if version == V1 else "backend"
    spec.only(("rules", "tls", "ingressClassName", default_key))
    converter = _Converter(src, version)
    routes = converter.rules(spec.require("rules")) if "rules" in spec else []
    if default_key in spec:
        port = converter.backend(spec.require(default_key), f"spec.{default_key}")
        routes.append(Route("/", port, None, "Prefix"))
    if not routes:
        raise src.error(spec.node, "the Ingress routes nothing: no paths, no default backend")
    if "tls" in spec:
        notes.append("tls left out (the bed serves plain HTTP)")
    if "ingressClassName" in spec:
        notes.append("spec.ingressClassName left out (the bed sets its own ingress class)")
    if version != V1:
        notes.insert(0, f"{version} Ingress converted to {V1}")
    notes.extend(converter.notes)
    ingress = IngressSpec(name, tuple(routes), MappingProxyType(annotations))
    return Converted(ingress, tuple(notes), lines, len(converter.notes))


def documents(src: Source, node: Node, what: str) -> tuple[Source, list[Node]]:
    """The documents of a block of pasted objects, and the ``Source`` their lines are in.

    ``node`` is YAML text (a ``|`` block, as pasted: its lines are the file's, starting
    on the line after ``|``; in any other string errors point at the string's line) or a
    mapping (one object).
    """
    if isinstance(node, yaml.MappingNode):
        return src, [node]
    text = yamlsource.string(src, node, what)
    if isinstance(node, yaml.ScalarNode) and node.style == "|":
        inner = Source(src.path, offset=src.line(node))
    else:
        inner = Source(src.path, fixed=src.line(node))
    return inner, inner.compose_all(text)


def kind_of(node: Node) -> str:
    """The ``kind:`` of a pasted object node ("" when it names none)."""
    if not isinstance(node, yaml.MappingNode):
        return ""
    return next(
        (
            str(v.value)
            for k, v in node.value
            if k.value == "kind" and isinstance(v, yaml.ScalarNode)
        ),
        "",
    )


def from_block(src: Source, node: Node) -> Converted:
    """The ``ingress:`` value holding one Ingress: YAML text (a ``|`` block, as pasted)
    or a mapping. Documents of other kinds (a Service, a Deployment) are ignored.
    """
    inner, docs = documents(src, node, "ingress")
    ingresses = [d for d in docs if kind_of(d) == "Ingress"]
    if len(ingresses) == 1:
        return convert(inner, ingresses[0])
    if not ingresses and len(docs) == 1:
        return convert(inner, docs[0])  # says what is wrong with it
    found = "no Ingress" if not ingresses else f"{len(ingresses)} Ingress objects"
    raise src.error(node, f"the ingress block holds {found}; it needs exactly one")
