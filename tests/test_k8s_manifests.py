"""Rendering of the bed's Kubernetes objects and kind config (pure, no cluster)."""

from __future__ import annotations

import pytest

from ingressbed import k8s_manifests as km
from ingressbed.errors import ConfigError
from ingressbed.vocabulary import IngressSpec, Route

NODE = "kindest/node:v1.36.1@sha256:" + "a" * 64

# The fields kind v1alpha4 knows (pkg/apis/config/v1alpha4/types.go at kind v0.32.0).
KIND_CLUSTER_FIELDS = {
    "kind",
    "apiVersion",
    "name",
    "nodes",
    "networking",
    "featureGates",
    "runtimeConfig",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
    "containerdConfigPatches",
    "containerdConfigPatchesJSON6902",
}
KIND_NODE_FIELDS = {
    "role",
    "image",
    "labels",
    "extraMounts",
    "extraPortMappings",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
}
KIND_MAPPING_FIELDS = {"containerPort", "hostPort", "listenAddress", "protocol"}


def test_kind_config_maps_80_and_443_on_loopback_from_the_ingress_node():
    cfg = km.kind_config("bed", NODE)
    assert set(cfg) <= KIND_CLUSTER_FIELDS
    assert cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    (node,) = cfg["nodes"]
    assert set(node) <= KIND_NODE_FIELDS
    assert node["image"] == NODE
    assert node["labels"]["ingress-ready"] == "true"
    mappings = node["extraPortMappings"]
    assert [m["containerPort"] for m in mappings] == [80, 443]
    for m in mappings:
        assert set(m) <= KIND_MAPPING_FIELDS
        assert m["listenAddress"] == "127.0.0.1"
        assert "hostPort" not in m  # kind picks a free host port


def test_kind_config_hash_is_stable_and_follows_the_config():
    a = km.kind_config("bed", NODE)
    assert a == km.kind_config("bed", NODE)
    label = a["nodes"][0]["labels"][km.CONFIG_HASH_LABEL]
    assert label == km.config_hash(a)  # the label itself is not hashed
    assert len(label) == 16
    other = km.kind_config("bed", NODE.replace("a" * 64, "b" * 64))
    assert other["nodes"][0]["labels"][km.CONFIG_HASH_LABEL] != label


def test_kind_config_refuses_an_unpinned_node_image():
    with pytest.raises(ConfigError, match="not pinned by digest"):
        km.kind_config("bed", "kindest/node:v1.36.1")


def test_hellogo_deployment_is_locked_down_and_knows_its_identity():
    dep = km.hellogo_deployment("ns", "ingressbed/hellogo:abc", 4)
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and pod["securityContext"]["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env["POD_NAME"] == "metadata.name"
    assert env["POD_IP"] == "status.podIP"
    assert env["NODE_NAME"] == "spec.nodeName"
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    assert c["imagePullPolicy"] == "Never"
    assert dep["spec"]["replicas"] == 4
    assert [p["containerPort"] for p in c["ports"]] == [8080, 9090, 8081]
    assert dep["spec"]["selector"]["matchLabels"] == dep["spec"]["template"]["metadata"]["labels"]


def test_slow_pods_are_their_own_deployment_behind_the_same_service():
    normal = km.hellogo_deployment("ns", "ingressbed/hellogo:abc", 5)
    slow = km.hellogo_deployment("ns", "ingressbed/hellogo:abc", 1, delay_ms=200)
    assert (normal["metadata"]["name"], slow["metadata"]["name"]) == ("hellogo", "hellogo-slow")
    (container,) = slow["spec"]["template"]["spec"]["containers"]
    assert {"name": "DELAY_MS", "value": "200"} in container["env"]
    labels = slow["spec"]["template"]["metadata"]["labels"]
    assert labels[km.DELAY_LABEL] == "200"
    # the Service selects both; each Deployment selects only its own pods
    service = km.hellogo_service("ns")["spec"]["selector"]
    for dep in (normal, slow):
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert service.items() <= pod_labels.items()
        assert dep["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    normal_selector = normal["spec"]["selector"]["matchLabels"].items()
    assert not normal_selector <= labels.items(), "the normal Deployment would adopt slow pods"
    with pytest.raises(ConfigError, match="delay_ms must be >= 0"):
        km.hellogo_deployment("ns", "i", 1, delay_ms=-1)


def test_hellogo_service_has_the_three_named_ports():
    svc = km.hellogo_service("ns")
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("http", 8080, 8080),
        ("http2", 9090, 9090),
        ("ws", 8081, 8081),
    ]
    assert svc["spec"]["selector"] == km.HELLOGO_LABELS


def test_ingress_groups_routes_by_host_and_keeps_annotations():
    spec = IngressSpec(
        "inc1",
        (Route("/8080", 8080, "a.test"), Route("/9090", 9090, "a.test"), Route("/", 8081)),
        {"nginx.ingress.kubernetes.io/upstream-hash-by": "$binary_remote_addr"},
    )
    ing = km.ingress(spec, "ns")
    assert ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["metadata"]["annotations"] == dict(spec.annotations)
    rules = ing["spec"]["rules"]
    assert rules[0]["host"] == "a.test" and "host" not in rules[1]
    paths = rules[0]["http"]["paths"]
    assert [p["backend"]["service"]["port"]["number"] for p in paths] == [8080, 9090]
    assert paths[0]["pathType"] == "Prefix"


def test_ingress_rejects_a_port_hellogo_does_not_serve():
    with pytest.raises(ConfigError, match="targets port 7000"):
        km.ingress(IngressSpec("x", (Route("/", 7000),)), "ns")


def test_upstream_name_is_what_dbg_calls_the_backend():
    assert km.upstream_name("ingressbed-1234", 8080) == "ingressbed-1234-hellogo-8080"


def test_controller_config_forces_forwarded_headers_and_one_worker():
    data = km.controller_config({"load-balance": "ewma"}, {"allow-snippet-annotations": "false"})
    assert data == {
        "allow-snippet-annotations": "false",
        "load-balance": "ewma",
        "use-forwarded-headers": "true",
        "worker-processes": "1",
    }
    assert km.controller_config({"worker-processes": "4"})["worker-processes"] == "4"
    with pytest.raises(ConfigError, match="use-forwarded-headers"):
        km.controller_config({"use-forwarded-headers": "false"})


CERTGEN_UPSTREAM = "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1@sha256:" + "0" * 64


def _mini_manifest():
    """A small manifest of my own with the shapes of the upstream one."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ingress-nginx"}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "data": None,
            "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
            "spec": {
                "template": {
                    "spec": {
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "containers": [
                            {
                                "name": "controller",
                                "image": "registry.k8s.io/ingress-nginx/controller:v9.9.9",
                            }
                        ],
                    }
                }
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "ingress-nginx-admission-create", "namespace": "ingress-nginx"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "create",
                                "image": CERTGEN_UPSTREAM,
                            }
                        ]
                    }
                }
            },
        },
        None,
    ]


PINNED = {
    "controller": "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:" + "1" * 64,
    "certgen": "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:" + "2" * 64,
}


def test_rewrite_pins_images_merges_keys_and_keeps_the_controller_on_the_mapped_node():
    upstream = _mini_manifest()
    out = km.rewrite_controller_manifest(upstream, PINNED, {"a": "b"}, on_kind=True)
    assert km.images(out) == [PINNED["controller"], PINNED["certgen"]]
    assert out[1]["data"] == {"a": "b"}
    assert out[2]["spec"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/os": "linux",
        "ingress-ready": "true",
    }
    assert len(out) == 4  # the empty document is dropped
    assert upstream[1]["data"] is None  # the input is not changed
    cloud = km.rewrite_controller_manifest(upstream, PINNED, None, on_kind=False)
    assert "ingress-ready" not in cloud[2]["spec"]["template"]["spec"]["nodeSelector"]
    assert cloud[1]["data"] is None


def test_rewrite_refuses_an_image_the_lock_does_not_pin():
    upstream = _mini_manifest()
    upstream[2]["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/x/y:1"
    with pytest.raises(ConfigError, match=r"docker\.io/x/y:1"):
        km.rewrite_controller_manifest(upstream, PINNED, None, on_kind=True)


def test_webhook_probe_is_an_ingress_of_class_nginx():
    probe = km.webhook_probe("ns")
    assert probe["kind"] == "Ingress" and probe["spec"]["ingressClassName"] == "nginx"
