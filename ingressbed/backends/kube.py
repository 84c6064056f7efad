"""Kubernetes operations of the kind and cluster backends, through the ``kubernetes`` client.

``Kube`` wraps one API connection (one kubeconfig context): server-side apply, waits,
scale, pod deletion, exec in a pod (``/dbg backends get`` in the controller), logs and
events. Errors of the client are converted where they enter: every method raises
``SetupError`` (or ``ConfigError`` for a kubeconfig/context problem) with one line.

``poll`` and ``settle`` are the only way the backends wait: a condition checked until it
holds, never a fixed sleep, and a timeout that names what was seen last. Reading what the
controller says lives in ``ingress_nginx.py`` (pure).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from ingressbed.errors import ConfigError, SetupError

T = TypeVar("T")
Obj = dict[str, Any]
FIELD_MANAGER = "ingressbed"
#: Client-side bounds on every API call (the client sets none): seconds to connect and
#: to wait for an answer, so a stalled API server ends in a ``SetupError`` a poll can retry.
API_CONNECT_TIMEOUT = 10.0
API_READ_TIMEOUT = 60.0


@contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Turn client exceptions into ``SetupError("<what>: <reason>")``."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        raise SetupError(f"{what}: {exc.status} {_api_message(exc)}") from exc
    except (HTTPError, OSError) as exc:
        raise SetupError(f"{what}: the API server did not answer ({exc})") from exc


def _bound_calls(api_client: Any) -> None:
    """Give every call of ``api_client`` that names no timeout of its own a connect and a
    read timeout (the client's default is none: a stalled API server hangs the bed)."""
    rest = getattr(api_client, "rest_client", None)
    request = getattr(rest, "request", None)
    if rest is None or request is None:
        return

    def bounded(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = (API_CONNECT_TIMEOUT, API_READ_TIMEOUT)
        return request(*args, **kwargs)

    rest.request = bounded


def _api_message(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


def is_not_found(exc: BaseException) -> bool:
    return getattr(exc, "status", None) == 404


def poll(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
    detail: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` until it returns something other than None (a poll, not a sleep).

    Raises ``SetupError`` naming ``what`` (and ``detail()``, the last thing seen) at timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            seen = f"; last seen: {detail()}" if detail else ""
            raise SetupError(f"timed out after {timeout:.0f}s waiting for {what}{seen}")
        time.sleep(interval)


def settle(
    problems: Callable[[], list[str]], *, timeout: float, what: str, interval: float = 0.25
) -> None:
    """Poll ``problems`` until it returns an empty list; at timeout name the last ones."""
    last: list[str] = []

    def check() -> bool | None:
        last[:] = problems()
        return None if last else True

    poll(check, timeout=timeout, what=what, interval=interval, detail=lambda: "; ".join(last))


def _exit_code(resp: Any) -> int:
    """The exit status the exec stream reported (-1 when it reported none we can read)."""
    try:
        return int(resp.returncode)
    except (KeyError, IndexError, TypeError, ValueError):
        return -1


class Kube:
    """One connection to a cluster, from a kubeconfig and an explicit context."""

    def __init__(self, api_client: Any, context: str) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.context = context
        _bound_calls(api_client)
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.discovery = client.DiscoveryV1Api(api_client)
        self._dynamic: Any = None

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str) -> Kube:
        """Connect with ``context`` of ``kubeconfig`` (None: the default kubeconfig)."""
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION, KubeConfigMerger

        where = kubeconfig or "the default kubeconfig"
        try:
            # Read the context names directly: a kubeconfig needs no current-context here.
            merged = KubeConfigMerger(kubeconfig or KUBE_CONFIG_DEFAULT_LOCATION).config
        except (ConfigException, OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {where}: {exc}") from exc
        if merged is None:
            raise ConfigError(f"cannot read {where}: no kubeconfig found there")
        contexts = merged.safe_get("contexts") or []
        names = [c["name"] for c in contexts or []]
        if context not in names:
            raise ConfigError(
                f"context {context!r} is not in {where} (it has: {', '.join(names) or 'none'}); "
                "name one with --context"
            )
        try:
            api = config.new_client_from_config(config_file=kubeconfig, context=context)
        except (ConfigException, OSError) as exc:
            raise ConfigError(f"cannot use context {context!r} of {where}: {exc}") from exc
        return cls(api, context)

    def close(self) -> None:
        self.api_client.close()

    def server_version(self) -> str:
        from kubernetes import client

        with api_errors("reading the server version"):
            return str(client.VersionApi(self.api_client).get_code().git_version)

    def unready_nodes(self) -> list[str]:
        """Names of the nodes whose kubelet does not report Ready."""
        with api_errors("listing nodes"):
            nodes: list[Any] = self.core.list_node().items
        out = []
        for node in nodes:
            conditions = {c.type: c.status for c in node.status.conditions or []}
            if conditions.get("Ready") != "True":
                out.append(str(node.metadata.name))
        return out

    def to_dict(self, model: Any) -> Obj:
        """A client model as the JSON the API serves (camelCase keys)."""
        return dict(self.api_client.sanitize_for_serialization(model))

    # --- generic objects ---------------------------------------------------------------

    @property
    def dynamic(self) -> Any:
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            with api_errors("API discovery"):
                self._dynamic = DynamicClient(self.api_client)
        return self._dynamic

    def _resource(self, obj: Mapping[str, Any]) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError as exc:
            raise SetupError(
                f"the cluster does not serve {obj['apiVersion']} {obj['kind']}"
            ) from exc

    @staticmethod
    def describe(obj: Mapping[str, Any]) -> str:
        meta = obj.get("metadata", {})
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{obj['kind']} {ns}{meta.get('name')}"

    def apply(self, obj: Mapping[str, Any]) -> None:
        """Server-side apply ``obj`` (field manager ``ingressbed``, conflicts forced)."""
        res = self._resource(obj)
        meta = obj["metadata"]
        with api_errors(f"applying {self.describe(obj)}"):
            res.server_side_apply(
                body=dict(obj),
                name=meta["name"],
                namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )

    def dry_run_create(self, obj: Mapping[str, Any]) -> None:
        """Create ``obj`` with server-side dry run (admission webhooks run, nothing is stored)."""
        res = self._resource(obj)
        with api_errors(f"dry-run create of {self.describe(obj)}"):
            res.create(body=dict(obj), namespace=obj["metadata"].get("namespace"), dry_run="All")

    def delete(self, obj: Mapping[str, Any]) -> None:
        """Delete ``obj`` (background propagation); absent is fine."""
        from kubernetes.client.exceptions import ApiException

        res = self._resource(obj)
        meta = obj["metadata"]
        try:
            with api_errors(f"deleting {self.describe(obj)}"):
                res.delete(
                    name=meta["name"],
                    namespace=meta.get("namespace"),
                    body={"propagationPolicy": "Background"},
                )
        except SetupError as exc:
            if not isinstance(exc.__cause__, ApiException) or not is_not_found(exc.__cause__):
                raise

    def exists(self, obj: Mapping[str, Any]) -> bool:
        from kubernetes.client.exceptions import ApiException

        res = self._resource(obj)
        meta = obj["metadata"]
        try:
            res.get(name=meta["name"], namespace=meta.get("namespace"))
        except ApiException as exc:
            if is_not_found(exc):
                return False
            raise SetupError(
                f"reading {self.describe(obj)}: {exc.status} {_api_message(exc)}"
            ) from exc
        return True

    # --- namespaces, deployments, pods ---------------------------------------------------

    def namespaces(self, label_selector: str) -> list[str]:
        with api_errors("listing namespaces"):
            items: list[Any] = self.core.list_namespace(label_selector=label_selector).items
        return [str(ns.metadata.name) for ns in items]

    def delete_namespace(self, name: str, *, wait: float = 0.0) -> None:
        """Delete namespace ``name``; with ``wait`` > 0 return once it is gone."""
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.delete(ns)
        if wait > 0:
            poll(
                lambda: True if not self.exists(ns) else None,
                timeout=wait,
                what=f"namespace {name} to be deleted",
                interval=0.5,
            )

    def deployment(self, ns: str, name: str) -> Any:
        with api_errors(f"reading deployment {ns}/{name}"):
            return self.apps.read_namespaced_deployment(name, ns)

    def deployment_ready(self, ns: str, name: str) -> bool:
        """All replicas of the current generation ready and available, no old pods left."""
        dep = self.deployment(ns, name)
        want = dep.spec.replicas or 0
        st = dep.status
        return (
            (st.observed_generation or 0) >= (dep.metadata.generation or 0)
            and (st.updated_replicas or 0) == want
            and (st.ready_replicas or 0) == want
            and (st.available_replicas or 0) == want
            and (st.replicas or 0) == want
        )

    def wait_deployment(self, ns: str, name: str, timeout: float) -> None:
        poll(
            lambda: True if self.deployment_ready(ns, name) else None,
            timeout=timeout,
            what=f"deployment {ns}/{name} to be ready",
            interval=0.5,
        )

    def scale(self, ns: str, name: str, replicas: int) -> None:
        with api_errors(f"scaling deployment {ns}/{name}"):
            self.apps.patch_namespaced_deployment_scale(name, ns, {"spec": {"replicas": replicas}})

    def pods(self, ns: str, label_selector: str) -> list[Any]:
        with api_errors(f"listing pods in {ns}"):
            items: list[Any] = self.core.list_namespaced_pod(
                ns, label_selector=label_selector
            ).items
        return items

    def ready_pods(self, ns: str, label_selector: str) -> list[Any]:
        """Running, Ready pods that are not being deleted, sorted by name."""
        ready = []
        for pod in self.pods(ns, label_selector):
            if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
                continue
            conds = {c.type: c.status for c in pod.status.conditions or []}
            if conds.get("Ready") == "True" and pod.status.pod_ip:
                ready.append(pod)
        return sorted(ready, key=lambda p: p.metadata.name)

    def delete_pod(self, ns: str, name: str, *, grace: int = 0) -> None:
        with api_errors(f"deleting pod {ns}/{name}"):
            self.core.delete_namespaced_pod(name, ns, grace_period_seconds=grace)

    def exec(
        self,
        ns: str,
        pod: str,
        argv: list[str],
        *,
        container: str | None = None,
        timeout: float = 30.0,
    ) -> str:
        """Run ``argv`` in ``pod`` and return its stdout; ``SetupError`` on a non-zero exit."""
        from kubernetes.stream import stream

        what = f"running {' '.join(argv)!r} in pod {ns}/{pod}"
        with api_errors(what):
            resp = stream(
                self.core.connect_get_namespaced_pod_exec,
                pod,
                ns,
                command=argv,
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
            )
            out: list[str] = []
            err: list[str] = []
            deadline = time.monotonic() + timeout
            while resp.is_open() and time.monotonic() < deadline:
                resp.update(timeout=1)
                out.append(resp.read_stdout() if resp.peek_stdout() else "")
                err.append(resp.read_stderr() if resp.peek_stderr() else "")
            timed_out = resp.is_open()
            code = None if timed_out else _exit_code(resp)
            resp.close()
        if timed_out:
            raise SetupError(f"{what}: no answer within {timeout:.0f}s")
        if code:
            raise SetupError(f"{what}: exit {code}: {''.join(err).strip()[:300]}")
        return "".join(out)

    def logs(self, ns: str, pod: str, *, container: str | None = None, tail: int = 2000) -> str:
        with api_errors(f"reading logs of {ns}/{pod}"):
            return str(
                self.core.read_namespaced_pod_log(pod, ns, container=container, tail_lines=tail)
            )

    def events(self, ns: str) -> list[str]:
        """The namespace's events, oldest first, one line each."""
        with api_errors(f"listing events in {ns}"):
            items = self.core.list_namespaced_event(ns).items

        def when(ev: Any) -> str:
            t = ev.last_timestamp or ev.event_time or ev.metadata.creation_timestamp
            return t.isoformat() if t else ""

        lines = []
        for ev in sorted(items, key=when):
            obj = ev.involved_object
            lines.append(f"{when(ev)}\t{ev.type}\t{ev.reason}\t{obj.kind}/{obj.name}\t{ev.message}")
        return lines

    def endpoint_slices(self, ns: str, service: str) -> list[Obj]:
        with api_errors(f"listing EndpointSlices of {ns}/{service}"):
            items = self.discovery.list_namespaced_endpoint_slice(
                ns, label_selector=f"kubernetes.io/service-name={service}"
            ).items
        return [self.to_dict(s) for s in items]

    def configmap_data(self, ns: str, name: str) -> dict[str, str] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            cm = self.core.read_namespaced_config_map(name, ns)
        except ApiException as exc:
            if is_not_found(exc):
                return None
            raise SetupError(
                f"reading configmap {ns}/{name}: {exc.status} {_api_message(exc)}"
            ) from exc
        return dict(cm.data or {})

    def replace_configmap_data(self, ns: str, name: str, data: Mapping[str, str]) -> None:
        body: Any = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns},
            "data": dict(data),
        }
        with api_errors(f"replacing configmap {ns}/{name}"):
            self.core.replace_namespaced_config_map(name, ns, body)

    def ingress_class(self, name: str) -> Obj | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.to_dict(self.networking.read_ingress_class(name))
        except ApiException as exc:
            if is_not_found(exc):
                return None
            raise SetupError(
                f"reading IngressClass {name}: {exc.status} {_api_message(exc)}"
            ) from exc

    def ingresses(self) -> list[Obj]:
        """Every Ingress of the cluster (empty when not allowed to list them all)."""
        from kubernetes.client.exceptions import ApiException

        try:
            items = self.networking.list_ingress_for_all_namespaces().items
        except ApiException:
            return []
        return [self.to_dict(i) for i in items]
