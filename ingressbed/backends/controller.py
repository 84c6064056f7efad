"""The ingress-nginx controller of a kind or cluster bed, as the bed talks to it.

``Controller`` finds the cluster's controller (IngressClass ``nginx``) or installs the pinned
one, waits for its admission webhook, changes its ConfigMap when the bed owns it (and waits
until nginx.conf shows the change), and runs ``/dbg`` and ``nginx`` in its pod. The backends
in cluster.py and kind.py hold one each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml

from ingressbed import ingress_keys
from ingressbed import k8s_manifests as km
from ingressbed.backends.ingress_nginx import (
    controller_location,
    nginx_conf_checksum,
    parse_backend_names,
)
from ingressbed.backends.ingress_nginx import parse_dbg_backend as _parse_dbg
from ingressbed.backends.kube import Kube, api_errors, poll
from ingressbed.errors import ConfigError, SetupError
from ingressbed.progress import Steps
from ingressbed.tools import ControllerRelease, controller_manifest

SELECTOR = "app.kubernetes.io/name=ingress-nginx,app.kubernetes.io/component=controller"
ROLLOUT_TIMEOUT = 300.0
RELOAD_TIMEOUT = 120.0
UNKNOWN_DEFAULT_WAIT = 15.0
BACKEND_GONE_TIMEOUT = 120.0


class Controller:
    """Where the controller runs, whether the bed owns its ConfigMap, and how to ask it."""

    def __init__(self, kube: Kube, steps: Steps) -> None:
        self.kube = kube
        self.steps = steps
        self.namespace = km.CONTROLLER_NAMESPACE
        self.configmap = km.CONTROLLER_CONFIGMAP
        self.version = ""
        #: True when the bed installed the controller and may change its ConfigMap.
        self.controls_config = False
        #: The ConfigMap data the bed starts from (upstream's, or the cluster's live data).
        self.base_config: dict[str, str] = {}

    # --- finding or installing -------------------------------------------------------------

    def find(self, context: str) -> bool:
        """Locate the cluster's ingress-nginx; False when there is no IngressClass nginx."""
        klass = self.kube.ingress_class(km.INGRESS_CLASS)
        if klass is None:
            return False
        owner = (klass.get("spec") or {}).get("controller")
        if owner != "k8s.io/ingress-nginx":
            raise SetupError(
                f"IngressClass nginx in context {context} belongs to {owner!r}, not "
                "ingress-nginx (k8s.io/ingress-nginx); the bed measures ingress-nginx"
            )
        with api_errors("listing ingress-nginx controller deployments"):
            deps = self.kube.apps.list_deployment_for_all_namespaces(label_selector=SELECTOR).items
        if not deps:
            raise SetupError(
                f"no Deployment labelled {SELECTOR} in context {context}; the bed needs to "
                "read the controller (pods, ConfigMap)"
            )
        self.namespace, self.configmap, self.version = controller_location(
            self.kube.to_dict(deps[0])
        )
        return True

    def check_forwarded_headers(self) -> None:
        """Refuse a controller that would not take clients from X-Forwarded-For."""
        data = self.kube.configmap_data(self.namespace, self.configmap) or {}
        self.base_config = data
        value = data.get("use-forwarded-headers", "false")
        if value.lower() != "true":
            raise SetupError(
                f"ConfigMap {self.namespace}/{self.configmap} has use-forwarded-headers="
                f"{value!r}: the bed simulates clients with X-Forwarded-For and does not change a "
                "controller it did not install; set it there with `kubectl -n "
                f"{self.namespace} patch configmap {self.configmap} --type merge -p "
                """'{"data":{"use-forwarded-headers":"true"}}'`"""
            )

    def install(
        self,
        release: ControllerRelease,
        flavor: str,
        *,
        on_kind: bool,
        on_cleanup: Callable[[str, Callable[[], None], str], None] | None = None,
    ) -> None:
        """Apply the pinned manifest (images by digest, bed ConfigMap keys).

        ``on_cleanup`` is given how to remove it again (registered before anything is applied).
        ``wait_ready`` waits for the controller afterwards (its own bring-up step).
        """
        objs = self.install_objects(release, flavor, on_kind=on_kind)
        if on_cleanup is not None:
            on_cleanup(
                f"Removing ingress-nginx {release.version}",
                lambda: self._delete_all(objs),
                f"ingress-nginx {release.version} in namespace {km.CONTROLLER_NAMESPACE}",
            )
        for obj in objs:
            self._apply_replacing_jobs(obj)
        self.namespace = km.CONTROLLER_NAMESPACE
        self.configmap = km.CONTROLLER_CONFIGMAP
        self.controls_config = True
        self.version = release.version

    def install_objects(
        self, release: ControllerRelease, flavor: str, *, on_kind: bool
    ) -> list[dict[str, Any]]:
        """The rewritten upstream manifest (verified download, cache or local mirror)."""
        objs, self.base_config = install_objects(release, flavor, on_kind=on_kind)
        return objs

    def wait_ready(self) -> None:
        """Until the controller Deployment is rolled out."""
        self.kube.wait_deployment(self.namespace, km.CONTROLLER_DEPLOYMENT, ROLLOUT_TIMEOUT)

    def _delete_all(self, objs: list[dict[str, Any]]) -> None:
        for obj in reversed(objs):
            self.kube.delete(obj)

    def _apply_replacing_jobs(self, obj: dict[str, Any]) -> None:
        """Apply; a Job whose (immutable) template changed is deleted and created again."""
        try:
            self.kube.apply(obj)
        except SetupError:
            if obj.get("kind") != "Job":
                raise
            self.kube.delete(obj)
            poll(
                lambda: True if not self.kube.exists(obj) else None,
                timeout=60,
                what=f"{Kube.describe(obj)} to be replaced",
            )
            self.kube.apply(obj)

    def wait_webhook(self, namespace: str) -> None:
        """Until the admission webhook accepts a server-side dry-run Ingress in ``namespace``."""
        probe = km.webhook_probe(namespace)
        last = [""]

        def accepted() -> bool | None:
            try:
                self.kube.dry_run_create(probe)
            except SetupError as exc:
                last[0] = str(exc)
                return None
            return True

        poll(
            accepted,
            timeout=ROLLOUT_TIMEOUT,
            what="the admission webhook to answer",
            interval=1.0,
            detail=lambda: last[0],
        )

    # --- the ConfigMap -----------------------------------------------------------------------

    def live_config(self) -> dict[str, str]:
        return self.kube.configmap_data(self.namespace, self.configmap) or {}

    def apply_keys(self, keys: Mapping[str, str], backend_name: str) -> None:
        """Serve ConfigMap ``keys``: change the ConfigMap if the bed owns it, else check them."""
        if not self.controls_config:
            live = self.base_config
            wrong = {k: v for k, v in keys.items() if live.get(k) != str(v)}
            if wrong:
                raise ConfigError(
                    f"the {backend_name} backend cannot change the controller ConfigMap "
                    f"{self.namespace}/{self.configmap}: the setup needs "
                    + ", ".join(f"{k}={v!r} (is {live.get(k)!r})" for k, v in wrong.items())
                )
            return
        data = km.controller_config(keys, self.base_config)
        live = self.kube.configmap_data(self.namespace, self.configmap) or {}
        if live == data:
            return
        changed, unknown = ingress_keys.config_changes(live, data)
        with self.steps.step("Updating the controller ConfigMap"):
            before = nginx_conf_checksum(self.nginx_conf())
            self.kube.replace_configmap_data(self.namespace, self.configmap, data)
            if not changed and not unknown:
                return  # values equal to their defaults: nginx.conf stays as it is
            # With only keys of unknown default, nginx.conf may legitimately stay the same:
            # wait a bounded while, then rely on the traffic check that follows every apply.
            timeout = RELOAD_TIMEOUT if changed else UNKNOWN_DEFAULT_WAIT
            try:
                poll(
                    lambda: True if nginx_conf_checksum(self.nginx_conf()) != before else None,
                    timeout=timeout,
                    what=f"the controller to reload nginx.conf for {', '.join(changed)}",
                    interval=0.5,
                )
            except SetupError:
                if changed:
                    raise
                self.steps.note(
                    f"  nginx.conf unchanged after {', '.join(unknown)} (their default may be "
                    "the value set); the traffic check decides"
                )

    # --- asking the controller pod -------------------------------------------------------------

    def pod(self) -> str:
        pods = self.kube.ready_pods(self.namespace, SELECTOR)
        if not pods:
            raise SetupError(f"no ready ingress-nginx controller pod in {self.namespace}")
        return str(pods[0].metadata.name)

    def run(self, argv: list[str]) -> str:
        """Run ``argv`` in the (first ready) controller pod; its stdout."""
        return self.kube.exec(self.namespace, self.pod(), argv)

    def nginx_conf(self) -> str:
        return self.run(["cat", "/etc/nginx/nginx.conf"])

    def backend(self, name: str) -> dict[str, Any] | None:
        """``/dbg backends get NAME`` (None: the controller has no such backend)."""
        return _parse_dbg(self.run(["/dbg", "backends", "get", name]))

    def backend_names(self) -> set[str] | None:
        """``/dbg backends list``: the names of the backends the controller holds (None:
        the output was not a list of names, e.g. an error ``/dbg`` printed)."""
        return parse_backend_names(self.run(["/dbg", "backends", "list"]))

    def wait_backends_gone(self, names: set[str]) -> None:
        """Until none of ``names`` is a backend any more (their balancers are dropped).

        Only a list that parses counts; a failed exec or an error printed by ``/dbg`` is
        asked again until the deadline (shown as the last thing seen)."""
        seen = ["nothing yet"]

        def gone() -> bool | None:
            try:
                listed = self.backend_names()
            except SetupError as exc:
                seen[0] = str(exc)
                return None
            if listed is None:
                seen[0] = "/dbg backends list printed no list of names"
                return None
            seen[0] = ", ".join(sorted(names & listed)) or "none of them"
            return True if not names & listed else None

        poll(
            gone,
            timeout=BACKEND_GONE_TIMEOUT,
            what=f"the controller to drop backends {', '.join(sorted(names))}",
            interval=0.5,
            detail=lambda: seen[0],
        )

    def logs(self) -> str:
        return self.kube.logs(self.namespace, self.pod())


def install_objects(
    release: ControllerRelease, flavor: str, *, on_kind: bool, fetch: bool = True
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The upstream manifest of ``release`` rewritten for the bed, and its ConfigMap data."""
    path = controller_manifest(release, flavor, fetch=fetch)
    upstream = [d for d in yaml.safe_load_all(path.read_text()) if d]
    base = km.configmap_data(upstream)
    objs = km.rewrite_controller_manifest(
        upstream, release.images, km.controller_config({}, base), on_kind=on_kind
    )
    return objs, base
