"""A bug report's own objects for kind and cluster, rendered as plain dicts (pure).

For a setup of several objects (``Setup.ingresses``, ``Setup.services``) the bed applies,
in its namespace, each pasted Service as written (port numbers and names kept, target
ports already hellogo's; type ClusterIP, since the bed reaches pods through the
controller only) selecting pods of its own, one hellogo Deployment per Service, and every
Ingress as ``networking.k8s.io/v1`` with the bed's ingress class, its annotations, rules
and default backend as pasted.

Pods of a Service carry ``ingressbed.dev/service: <name>``; a Service selects on it. The
Service called ``hellogo`` keeps the bed's own Deployment (its selector cannot change),
whose pods get the label too. Every object carries the bed's labels, so cleanup finds it.
"""

from __future__ import annotations

from typing import Any

from ingressbed import k8s_manifests as km
from ingressbed.errors import ConfigError
from ingressbed.objects import BackendRef, Ingress, Service
from ingressbed.vocabulary import SERVICE_NAME

Obj = dict[str, Any]

#: The label that names a pod's Service (``Pod.service``).
SERVICE_LABEL = "ingressbed.dev/service"
#: The variant label of a report Service's pods (the bed's own are normal or slow).
SERVICE_VARIANT = "service"
_PART_OF = {"app.kubernetes.io/part-of": "ingressbed"}


def deployment_name(service: str) -> str:
    """The Deployment that runs ``service``'s pods."""
    return service


def pod_labels(service: str) -> dict[str, str]:
    """The labels of ``service``'s pods (the hellogo Service's include the bed's own)."""
    if service == SERVICE_NAME:
        return {**km.HELLOGO_LABELS, km.VARIANT_LABEL: "normal", SERVICE_LABEL: service}
    return {**km.HELLOGO_LABELS, km.VARIANT_LABEL: SERVICE_VARIANT, SERVICE_LABEL: service}


def service(found: Service, ns: str) -> Obj:
    """A pasted Service: its ports as written (target ports hellogo's), its own pods."""
    if not found.ports:
        raise ConfigError(f"Service {found.name} has no ports")
    ports: list[Obj] = []
    for port in found.ports:
        item: Obj = {"port": port.port, "targetPort": port.target, "protocol": port.protocol}
        if port.name:
            item["name"] = port.name
        ports.append(item)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": found.name,
            "namespace": ns,
            "labels": {**km.HELLOGO_LABELS, km.BED_LABEL: "true"},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {**_PART_OF, SERVICE_LABEL: found.name},
            "ports": ports,
        },
    }


def deployment(name: str, ns: str, image: str, replicas: int, pull_policy: str) -> Obj:
    """The hellogo Deployment of Service ``name`` (the bed's own for ``hellogo``)."""
    obj = km.hellogo_deployment(ns, image, replicas, pull_policy)
    labels = pod_labels(name)
    obj["metadata"]["name"] = deployment_name(name)
    obj["spec"]["template"]["metadata"]["labels"] = labels
    if name != SERVICE_NAME:
        obj["spec"]["selector"]["matchLabels"] = {**_PART_OF, SERVICE_LABEL: name}
    return obj


def _backend(ref: BackendRef) -> Obj:
    port: Obj = {"number": ref.port} if isinstance(ref.port, int) else {"name": ref.port}
    return {"service": {"name": ref.service, "port": port}}


def ingress(found: Ingress, ns: str) -> Obj:
    """A pasted Ingress as ``networking.k8s.io/v1``, in the bed's namespace and class."""
    rules: list[Obj] = []
    for rule in found.rules:
        item: Obj = {"host": rule.host} if rule.host else {}
        if rule.http:
            item["http"] = {
                "paths": [
                    {
                        "path": p.path or "/",
                        "pathType": p.path_type or "ImplementationSpecific",
                        "backend": _backend(p.backend),
                    }
                    for p in rule.paths
                    if p.backend is not None
                ]
            }
        if item:
            rules.append(item)
    spec: Obj = {"ingressClassName": km.INGRESS_CLASS}
    if rules:
        spec["rules"] = rules
    if found.default_backend is not None:
        spec["defaultBackend"] = _backend(found.default_backend)
    metadata: Obj = {"name": found.name, "namespace": ns, "labels": {km.BED_LABEL: "true"}}
    kept = {k: v for k, v in found.annotations.items() if k != "kubernetes.io/ingress.class"}
    if kept:
        metadata["annotations"] = kept
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": spec,
    }
