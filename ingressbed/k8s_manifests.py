"""Kubernetes objects of the bed, rendered as plain dicts. Pure: no I/O, no client.

The kind and cluster backends apply exactly these objects, and ``ingressbed up --dry-run``
writes them out, so the plan and the run cannot drift apart. Self-tests validate every
object here against the Kubernetes schemas of the pinned node image.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import HTTP2_PORT, HTTP_PORT, SERVICE_NAME, WS_PORT, IngressSpec

Obj = dict[str, Any]

#: Labels and annotations the bed puts on what it creates.
BED_LABEL = "ingressbed.dev/bed"
RUN_LABEL = "ingressbed.dev/run"
KEPT_LABEL = "ingressbed.dev/kept"
CONFIG_HASH_LABEL = "ingressbed.dev/config-hash"
INGRESS_READY_LABEL = "ingress-ready"
HELLOGO_LABELS: dict[str, str] = {
    "app.kubernetes.io/name": SERVICE_NAME,
    "app.kubernetes.io/part-of": "ingressbed",
}
#: The label that tells a Deployment's own pods apart (the Service selects both kinds).
VARIANT_LABEL = "ingressbed.dev/variant"
#: On slow pods: their extra latency in milliseconds (``Pod.slow_ms``).
DELAY_LABEL = "ingressbed.dev/delay-ms"
#: The Deployment of slow pods (``Setup.slow_pods``), beside ``hellogo``.
SLOW_DEPLOYMENT = f"{SERVICE_NAME}-slow"
#: Service port names, by port (the names EndpointSlices carry).
PORT_NAMES: dict[int, str] = {HTTP_PORT: "http", HTTP2_PORT: "http2", WS_PORT: "ws"}

#: ingress-nginx objects the bed reads or changes.
CONTROLLER_NAMESPACE = "ingress-nginx"
CONTROLLER_DEPLOYMENT = "ingress-nginx-controller"
CONTROLLER_CONFIGMAP = "ingress-nginx-controller"
INGRESS_CLASS = "nginx"
#: ConfigMap keys the bed always sets: clients are simulated through X-Forwarded-For, and
#: one worker makes round-robin counts exact.
FORCED_CONTROLLER_KEYS: dict[str, str] = {"use-forwarded-headers": "true"}
DEFAULT_CONTROLLER_KEYS: dict[str, str] = {"worker-processes": "1"}

_SECCOMP = {"type": "RuntimeDefault"}
_NON_ROOT_ID = 65532


# --- kind -----------------------------------------------------------------------------------


def kind_config(name: str, node_image: str) -> Obj:
    """The kind cluster config: one node that runs the controller and maps ports 80/443.

    Host ports are left out on purpose: kind then picks a free port on ``127.0.0.1`` for
    each mapping, and the bed reads the chosen one from the node container. The node
    carries the config's hash as a label, so a later run can tell whether an existing
    cluster of the same name was made from the same config.
    """
    if "@sha256:" not in node_image:
        raise ConfigError(
            f"node image {node_image!r} is not pinned by digest; use kindest/node:vX.Y.Z@sha256:..."
        )
    mappings = [
        {"containerPort": port, "listenAddress": "127.0.0.1", "protocol": "TCP"}
        for port in (80, 443)
    ]
    node: Obj = {
        "role": "control-plane",
        "image": node_image,
        "labels": {INGRESS_READY_LABEL: "true"},
        "extraPortMappings": mappings,
    }
    config: Obj = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": name,
        "nodes": [node],
    }
    node["labels"][CONFIG_HASH_LABEL] = config_hash(config)
    return config


def config_hash(config: Mapping[str, Any]) -> str:
    """A short stable hash of a kind config, ignoring its own hash label."""
    clean = copy.deepcopy(dict(config))
    for node in clean.get("nodes", []):
        node.get("labels", {}).pop(CONFIG_HASH_LABEL, None)
    canonical = json.dumps(clean, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- the bed's namespace, hellogo and the Ingress ---------------------------------------------


def namespace(name: str, run_id: str, kept: str = "") -> Obj:
    """A bed namespace; ``kept`` (the ``--keep`` value that kept it) marks one a run left
    on purpose, which a later run on the same cluster leaves alone."""
    labels = {BED_LABEL: "true", RUN_LABEL: run_id}
    if kept:
        labels[KEPT_LABEL] = kept
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def hellogo_service(ns: str) -> Obj:
    """One Service ``hellogo`` with ports 8080 (http), 9090 (http2) and 8081 (ws)."""
    ports = [
        {"name": PORT_NAMES[p], "port": p, "targetPort": p, "protocol": "TCP"}
        for p in (HTTP_PORT, HTTP2_PORT, WS_PORT)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": ns, "labels": dict(HELLOGO_LABELS)},
        "spec": {"type": "ClusterIP", "selector": dict(HELLOGO_LABELS), "ports": ports},
    }


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def hellogo_deployment(
    ns: str, image: str, replicas: int, pull_policy: str = "Never", *, delay_ms: int = 0
) -> Obj:
    """The hellogo Deployment: non-root, read-only root, no capabilities, ready on /healthz.

    With ``delay_ms`` it is ``hellogo-slow``: pods that answer that many milliseconds late
    (``DELAY_MS``), labelled with it, behind the same Service as the normal ones. Each
    Deployment selects only its own variant, so the two never adopt each other's pods.
    """
    if replicas < 0:
        raise ConfigError(f"replicas must be >= 0, not {replicas}")
    if delay_ms < 0:
        raise ConfigError(f"delay_ms must be >= 0, not {delay_ms}")
    variant = "slow" if delay_ms else "normal"
    selector = {**HELLOGO_LABELS, VARIANT_LABEL: variant}
    pod_labels = {**selector, **({DELAY_LABEL: str(delay_ms)} if delay_ms else {})}
    name = SLOW_DEPLOYMENT if delay_ms else SERVICE_NAME
    container = {
        "name": SERVICE_NAME,
        "image": image,
        "imagePullPolicy": pull_policy,
        "ports": [
            {"name": PORT_NAMES[p], "containerPort": p, "protocol": "TCP"}
            for p in (HTTP_PORT, HTTP2_PORT, WS_PORT)
        ],
        "env": [
            _field_env("POD_NAME", "metadata.name"),
            _field_env("POD_NAMESPACE", "metadata.namespace"),
            _field_env("POD_IP", "status.podIP"),
            _field_env("NODE_NAME", "spec.nodeName"),
            *([{"name": "DELAY_MS", "value": str(delay_ms)}] if delay_ms else []),
        ],
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": HTTP_PORT},
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _NON_ROOT_ID,
            "runAsGroup": _NON_ROOT_ID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": dict(_SECCOMP),
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_spec = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 5,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _NON_ROOT_ID,
            "runAsGroup": _NON_ROOT_ID,
            "seccompProfile": dict(_SECCOMP),
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": dict(HELLOGO_LABELS)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }


def ingress(spec: IngressSpec, ns: str) -> Obj:
    """The Ingress of a setup: networking.k8s.io/v1, class ``nginx``, routes grouped by host."""
    if not spec.routes:
        raise ConfigError(f"ingress {spec.name!r} has no routes")
    by_host: dict[str | None, list[Obj]] = {}
    for route in spec.routes:
        if route.service_port not in PORT_NAMES:
            raise ConfigError(
                f"route {route.path!r} targets port {route.service_port}; hellogo serves "
                f"{', '.join(str(p) for p in PORT_NAMES)}"
            )
        by_host.setdefault(route.host, []).append(
            {
                "path": route.path,
                "pathType": route.path_type,
                "backend": {
                    "service": {"name": SERVICE_NAME, "port": {"number": route.service_port}}
                },
            }
        )
    rules: list[Obj] = []
    for host, paths in by_host.items():
        rule: Obj = {"host": host} if host else {}
        rule["http"] = {"paths": paths}
        rules.append(rule)
    metadata: Obj = {"name": spec.name, "namespace": ns, "labels": {BED_LABEL: "true"}}
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {"ingressClassName": INGRESS_CLASS, "rules": rules},
    }


def upstream_name(ns: str, port: int) -> str:
    """The controller's backend name for hellogo ``port`` (``<ns>-hellogo-<port>``)."""
    return f"{ns}-{SERVICE_NAME}-{port}"


# --- ingress-nginx ---------------------------------------------------------------------------


def controller_config(
    keys: Mapping[str, str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The controller ConfigMap data: upstream ``base``, bed defaults, candidate ``keys``.

    ``use-forwarded-headers`` is always "true" (clients are simulated through
    X-Forwarded-For); a candidate that turns it off is a ``ConfigError``.
    """
    for key, value in FORCED_CONTROLLER_KEYS.items():
        if key in keys and str(keys[key]).lower() != value:
            raise ConfigError(
                f"controller key {key}={keys[key]!r}: the bed needs {key}={value!r} to simulate "
                "clients through X-Forwarded-For; drop the key from the candidate"
            )
    data = {**(base or {}), **DEFAULT_CONTROLLER_KEYS, **{k: str(v) for k, v in keys.items()}}
    data.update(FORCED_CONTROLLER_KEYS)
    return dict(sorted(data.items()))


def _image_repo(image: str) -> str:
    """``registry/x/y:tag@sha256:...`` -> ``registry/x/y``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def _pod_specs(obj: Obj) -> Iterator[Obj]:
    spec = obj.get("spec") or {}
    if obj.get("kind") in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
        yield spec.get("template", {}).get("spec", {})
    elif obj.get("kind") == "Pod":
        yield spec


def images(objs: Iterable[Obj]) -> list[str]:
    """Every container image the objects reference, in order."""
    found: list[str] = []
    for obj in objs:
        for pod in _pod_specs(obj):
            for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                found.append(c["image"])
    return found


def rewrite_controller_manifest(
    objs: Iterable[Obj],
    pinned_images: Mapping[str, str],
    config_data: Mapping[str, str] | None,
    *,
    on_kind: bool,
) -> list[Obj]:
    """The upstream ingress-nginx manifest as the bed applies it.

    Every image is replaced by the lock's digest-pinned reference for the same repository
    (an image the lock does not pin is a ``ConfigError``); the controller ConfigMap gets
    ``config_data`` (None: left as upstream has it); on kind the controller is kept on
    the node labelled ``ingress-ready=true``, the one whose ports 80/443 reach the host.
    """
    by_repo = {_image_repo(ref): ref for ref in pinned_images.values()}
    out: list[Obj] = []
    for original in objs:
        if not original:
            continue
        obj = copy.deepcopy(original)
        for pod in _pod_specs(obj):
            for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                repo = _image_repo(c["image"])
                if repo not in by_repo:
                    raise ConfigError(
                        f"the ingress-nginx manifest uses {c['image']}, which the lock does "
                        "not pin; add its digest to manifests/lock.yaml"
                    )
                c["image"] = by_repo[repo]
        meta = obj.get("metadata", {})
        if (
            config_data is not None
            and obj.get("kind") == "ConfigMap"
            and meta.get("name") == CONTROLLER_CONFIGMAP
        ):
            obj["data"] = dict(config_data)
        if (
            on_kind
            and obj.get("kind") == "Deployment"
            and meta.get("name") == CONTROLLER_DEPLOYMENT
        ):
            pod = obj["spec"]["template"]["spec"]
            pod.setdefault("nodeSelector", {})[INGRESS_READY_LABEL] = "true"
        out.append(obj)
    return out


def configmap_data(objs: Iterable[Obj]) -> dict[str, str]:
    """The upstream controller ConfigMap's data (``data: null`` -> {})."""
    for obj in objs:
        if (
            obj
            and obj.get("kind") == "ConfigMap"
            and obj["metadata"]["name"] == CONTROLLER_CONFIGMAP
        ):
            return dict(obj.get("data") or {})
    return {}


def webhook_probe(ns: str) -> Obj:
    """An Ingress sent with server-side dry run: accepted only once the admission webhook
    answers (the webhook is called for dry runs, it declares no side effects)."""
    spec = {
        "ingressClassName": INGRESS_CLASS,
        "rules": [
            {
                "host": "webhook-probe.ingressbed.invalid",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": SERVICE_NAME, "port": {"number": HTTP_PORT}}
                            },
                        }
                    ]
                },
            }
        ],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "ingressbed-webhook-probe", "namespace": ns},
        "spec": spec,
    }
