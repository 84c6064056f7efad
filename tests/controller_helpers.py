"""Small builders for the controller model's tests: Ingresses, Services and endpoints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ingressbed.controller import (
    Configuration,
    Ingress,
    Service,
    build,
    ingress_from_dict,
    service_from_dict,
)
from ingressbed.vocabulary import ANNOTATION_PREFIX, Endpoint

Path = tuple[str, str, str, int | str]  # host, path, service, port
APP_ENDPOINTS = [Endpoint(f"10.0.0.{i}", 8080) for i in (1, 2, 3)]


def ingress(
    name: str,
    paths: Iterable[Path],
    annotations: Mapping[str, str] | None = None,
    *,
    order: int = 0,
    path_type: str = "Prefix",
    default: tuple[str, int] | None = None,
) -> Ingress:
    """A networking.k8s.io/v1 Ingress; short annotation names get the prefix."""
    by_host: dict[str, list[dict[str, object]]] = {}
    for host, path, service, port in paths:
        key = "number" if isinstance(port, int) else "name"
        by_host.setdefault(host, []).append(
            {
                "path": path,
                "pathType": path_type,
                "backend": {"service": {"name": service, "port": {key: port}}},
            }
        )
    spec: dict[str, object] = {
        "rules": [
            {**({"host": host} if host else {}), "http": {"paths": items}}
            for host, items in by_host.items()
        ]
    }
    if default is not None:
        spec["defaultBackend"] = {"service": {"name": default[0], "port": {"number": default[1]}}}
    doc = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "annotations": {
                (k if "/" in k else ANNOTATION_PREFIX + k): v
                for k, v in (annotations or {}).items()
            },
        },
        "spec": spec,
    }
    return ingress_from_dict(doc, order=order)


def service(name: str, port: int = 80, target: int | str = 8080, **extra: str) -> Service:
    """A v1 ClusterIP Service with one port named http."""
    spec: dict[str, object] = {"ports": [{"name": "http", "port": port, "targetPort": target}]}
    spec.update(extra)
    return service_from_dict(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}
    )


def endpoints(service_name: str, count: int = 3, port: int = 80, target: int = 8080, net: int = 0):
    """Endpoints of one Service port: 10.<net>.0.1.. on ``target``."""
    return {
        ("default", service_name, port): [
            Endpoint(f"10.{net}.0.{i}", target) for i in range(1, count + 1)
        ]
    }


def build_all(
    ingresses: list[Ingress], services: list[Service], eps=None, **kwargs
) -> Configuration:
    """Build with endpoints for every Service (3 each, distinct addresses) unless given."""
    if eps is None:
        eps = {}
        for n, svc in enumerate(services):
            eps.update(endpoints(svc.name, net=n))
    return build(ingresses, services, eps, **kwargs)
