"""Reading pasted Kubernetes objects into the controller model's types (pure).

Ingresses of any API version users have: ``extensions/v1beta1`` and
``networking.k8s.io/v1beta1`` (``serviceName`` / ``servicePort``, ``spec.backend``) and
``networking.k8s.io/v1`` (``service.name`` / ``service.port``, ``spec.defaultBackend``);
v1 Services. Input is plain YAML values (``yaml.safe_load``). A malformed object is a
``ConfigError`` of one line that names the object and the field (the scenario loader adds
the file and line).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.objects import (
    CLASS_ANNOTATION,
    DEFAULT_NAMESPACE,
    INGRESS_VERSIONS,
    PATH_TYPES,
    SERVICE_TYPES,
    V1,
    BackendRef,
    Ingress,
    IngressPath,
    IngressRule,
    Service,
    ServicePort,
)


class _Reader:
    """Field access on one object's dict; every error names the object and the field."""

    def __init__(self, kind: str, name: str) -> None:
        self.what = f"{kind} {name}" if name else kind

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.what}: {where}: {message}")

    def mapping(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {_type_name(value)}")
        return value

    def items(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {_type_name(value)}")
        return value

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {_type_name(value)}")
        return value

    def port(self, value: object, where: str) -> int | str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(where, f"expected a port number or name, got {_type_name(value)}")
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not 1 <= value <= 65535:
            raise self.fail(where, f"port {value} is not in 1..65535")
        if isinstance(value, str) and not value:
            raise self.fail(where, "the port name is empty")
        return value

    def only(self, block: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        extra = sorted(set(block) - set(allowed))
        if extra:
            raise self.fail(where, f"unknown field {extra[0]!r}; known: {', '.join(allowed)}")


def _type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "a mapping"
    )


def _metadata(r: _Reader, doc: dict[str, Any], namespace: str) -> tuple[str, str, dict[str, Any]]:
    meta = r.mapping(doc.get("metadata"), "metadata")
    name = r.string(meta.get("name"), "metadata.name")
    if not name:
        raise r.fail("metadata.name", "the name is empty")
    r.what = f"{r.what.split()[0]} {name}"
    ns = meta.get("namespace", namespace)
    return r.string(ns, "metadata.namespace") or namespace, name, meta


def _annotations(r: _Reader, meta: dict[str, Any]) -> dict[str, str]:
    found = meta.get("annotations")
    if found is None:
        return {}
    out: dict[str, str] = {}
    for key, value in r.mapping(found, "metadata.annotations").items():
        if not isinstance(value, str):
            raise r.fail(
                f"annotation {key}",
                f"the value must be a string, got {_type_name(value)}: quote it "
                f"(kubectl refuses it too)",
            )
        out[str(key)] = value
    return out


def _backend(r: _Reader, value: object, where: str, version: str) -> BackendRef | None:
    block = r.mapping(value, where)
    if "resource" in block:
        return None
    if version == V1:
        if "serviceName" in block or "servicePort" in block:
            raise r.fail(where, f"{V1} uses service.name and service.port, not serviceName")
        r.only(block, ("service",), where)
        service = r.mapping(block.get("service"), f"{where}.service")
        r.only(service, ("name", "port"), f"{where}.service")
        name = r.string(service.get("name"), f"{where}.service.name")
        port = r.mapping(service.get("port"), f"{where}.service.port")
        r.only(port, ("number", "name"), f"{where}.service.port")
        if ("number" in port) == ("name" in port):
            raise r.fail(f"{where}.service.port", "give number or name (exactly one)")
        if "number" in port:
            number = port["number"]
            if isinstance(number, bool) or not isinstance(number, int):
                raise r.fail(f"{where}.service.port.number", "expected an integer")
            return BackendRef(name, r.port(number, f"{where}.service.port.number"))
        return BackendRef(name, r.string(port["name"], f"{where}.service.port.name"))
    if "service" in block:
        raise r.fail(where, f"{version} uses serviceName and servicePort, not service")
    r.only(block, ("serviceName", "servicePort"), where)
    name = r.string(block.get("serviceName"), f"{where}.serviceName")
    return BackendRef(name, r.port(block.get("servicePort"), f"{where}.servicePort"))


def _path(r: _Reader, value: object, where: str, version: str) -> IngressPath:
    item = r.mapping(value, where)
    r.only(item, ("path", "pathType", "backend"), where)
    path = r.string(item.get("path", ""), f"{where}.path")
    if path and not path.startswith("/"):
        raise r.fail(f"{where}.path", f"{path!r} must start with /")
    path_type = item.get("pathType")
    if path_type is not None:
        path_type = r.string(path_type, f"{where}.pathType")
        if path_type not in PATH_TYPES:
            raise r.fail(
                f"{where}.pathType", f"{path_type!r} is not one of {', '.join(PATH_TYPES)}"
            )
    elif version == V1:
        raise r.fail(where, f"{V1} needs a pathType on every path")
    else:
        path_type = "ImplementationSpecific"  # the API server's default for v1beta1
    return IngressPath(
        path, path_type, _backend(r, item.get("backend"), f"{where}.backend", version)
    )


def _rules(r: _Reader, value: object, version: str) -> tuple[IngressRule, ...]:
    rules: list[IngressRule] = []
    for i, rule_value in enumerate(r.items(value, "spec.rules")):
        where = f"spec.rules[{i}]"
        rule = r.mapping(rule_value, where)
        r.only(rule, ("host", "http"), where)
        host = rule.get("host") or ""
        host = r.string(host, f"{where}.host")
        if "http" not in rule or rule["http"] is None:
            rules.append(IngressRule(host, (), http=False))
            continue
        http = r.mapping(rule["http"], f"{where}.http")
        r.only(http, ("paths",), f"{where}.http")
        paths = r.items(http.get("paths") or [], f"{where}.http.paths")
        rules.append(
            IngressRule(
                host,
                tuple(
                    _path(r, p, f"{where}.http.paths[{j}]", version) for j, p in enumerate(paths)
                ),
            )
        )
    return tuple(rules)


def ingress_from_dict(
    doc: Mapping[str, Any], *, order: int = 0, namespace: str = DEFAULT_NAMESPACE
) -> Ingress:
    """Read one Ingress object.

    Args:
        doc: the object as ``yaml.safe_load`` gives it.
        order: its creation order (smaller is older).
        namespace: the namespace when the object names none.

    Returns:
        The Ingress.

    Raises:
        ConfigError: not an Ingress, an unknown API version or a malformed field.
    """
    r = _Reader("Ingress", "")
    top = r.mapping(dict(doc), "the object")
    if top.get("kind") != "Ingress":
        raise r.fail("kind", f"{top.get('kind')!r} is not Ingress")
    version = top.get("apiVersion")
    if version not in INGRESS_VERSIONS:
        raise r.fail("apiVersion", f"{version!r} is not one of {', '.join(INGRESS_VERSIONS)}")
    r.only(top, ("apiVersion", "kind", "metadata", "spec", "status"), "the object")
    ns, name, meta = _metadata(r, top, namespace)
    annotations = _annotations(r, meta)
    spec = r.mapping(top.get("spec") or {}, "spec")
    default_key = "defaultBackend" if version == V1 else "backend"
    r.only(spec, ("rules", "tls", "ingressClassName", default_key), "spec")
    default = spec.get(default_key)
    tls_hosts: list[str] = []
    for i, tls in enumerate(r.items(spec.get("tls") or [], "spec.tls")):
        tls_block = r.mapping(tls, f"spec.tls[{i}]")
        for host in r.items(tls_block.get("hosts") or [], f"spec.tls[{i}].hosts"):
            tls_hosts.append(r.string(host, f"spec.tls[{i}].hosts"))
    return Ingress(
        namespace=ns,
        name=name,
        rules=_rules(r, spec.get("rules") or [], version),
        annotations=MappingProxyType(annotations),
        default_backend=None
        if default is None
        else _backend(r, default, f"spec.{default_key}", version),
        ingress_class=r.string(spec.get("ingressClassName", ""), "spec.ingressClassName")
        or annotations.get(CLASS_ANNOTATION, ""),
        tls_hosts=tuple(tls_hosts),
        order=order,
        api_version=version,
    )


def service_from_dict(doc: Mapping[str, Any], *, namespace: str = DEFAULT_NAMESPACE) -> Service:
    """Read one Service object.

    Args:
        doc: the object as ``yaml.safe_load`` gives it.
        namespace: the namespace when the object names none.

    Returns:
        The Service.

    Raises:
        ConfigError: not a v1 Service or a malformed field.
    """
    r = _Reader("Service", "")
    top = r.mapping(dict(doc), "the object")
    if top.get("kind") != "Service" or top.get("apiVersion") != "v1":
        raise r.fail("kind", f"{top.get('apiVersion')}/{top.get('kind')} is not a v1 Service")
    ns, name, _ = _metadata(r, top, namespace)
    spec = r.mapping(top.get("spec") or {}, "spec")
    kind = r.string(spec.get("type", "ClusterIP"), "spec.type")
    if kind not in SERVICE_TYPES:
        raise r.fail("spec.type", f"{kind!r} is not one of {', '.join(SERVICE_TYPES)}")
    ports: list[ServicePort] = []
    for i, value in enumerate(r.items(spec.get("ports") or [], "spec.ports")):
        where = f"spec.ports[{i}]"
        item = r.mapping(value, where)
        number = r.port(item.get("port"), f"{where}.port")
        if not isinstance(number, int):
            raise r.fail(f"{where}.port", "expected a port number")
        target = item.get("targetPort", number)
        ports.append(
            ServicePort(
                port=number,
                name=r.string(item.get("name", ""), f"{where}.name"),
                target_port=r.port(target, f"{where}.targetPort"),
                protocol=r.string(item.get("protocol", "TCP"), f"{where}.protocol"),
            )
        )
    cluster_ip = r.string(spec.get("clusterIP", ""), "spec.clusterIP")
    return Service(ns, name, tuple(ports), kind, cluster_ip)


@dataclass(frozen=True)
class Objects:
    """The Ingresses and Services of a pasted document list; ``skipped`` names the rest."""

    ingresses: tuple[Ingress, ...] = ()
    services: tuple[Service, ...] = ()
    skipped: tuple[str, ...] = ()


def read_objects(
    docs: Sequence[Mapping[str, Any] | None], *, namespace: str = DEFAULT_NAMESPACE
) -> Objects:
    """Read pasted objects: Ingresses in the order written (the first is the oldest), Services.

    Args:
        docs: the documents as ``yaml.safe_load_all`` gives them (``None`` for an empty one).
        namespace: the namespace of objects that name none.

    Returns:
        The Ingresses (``order`` = position among them), the Services, and
        ``kind name`` of every other object (a Deployment, a ConfigMap...).

    Raises:
        ConfigError: a malformed Ingress or Service, or a document that is not an object.
    """
    ingresses: list[Ingress] = []
    services: list[Service] = []
    skipped: list[str] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise ConfigError(f"document {index + 1}: expected a Kubernetes object (a mapping)")
        kind = doc.get("kind")
        if kind == "Ingress":
            ingresses.append(ingress_from_dict(doc, order=len(ingresses), namespace=namespace))
        elif kind == "Service":
            services.append(service_from_dict(doc, namespace=namespace))
        else:
            meta = doc.get("metadata")
            name = meta.get("name", "") if isinstance(meta, Mapping) else ""
            skipped.append(f"{kind} {name}".strip())
    return Objects(tuple(ingresses), tuple(services), tuple(skipped))
