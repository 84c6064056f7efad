"""Several objects on a kind or cluster bed: a bug report's Services and Ingresses.

``ReportObjects`` applies a setup with ``Setup.ingresses`` in the bed's namespace, as a
user's ``kubectl apply`` would: each Service (``k8s_objects.service``) with its own hellogo
Deployment at ``setup.replicas_of(name)`` pods, then every Ingress, oldest first. The
controller orders Ingresses by their creation time, which has one-second resolution, so a
new Ingress is created only once the clock has passed the second of the one before it;
an Ingress that already exists is updated in place and keeps its age. An Ingress the
admission webhook refuses is noted, as ``kubectl apply`` would print it, and left out.
Objects of the last setup that the new one no longer has are deleted, and the bed's own
hellogo Deployment runs no pods unless the report names a Service ``hellogo``.

Serving is confirmed from the controller itself: ``/dbg backends all`` compared, backend by
backend, with the controller model of the same objects on the pods that run
(``ingressbed.controller.compare``); no traffic check (the model's picks are per backend).
With ``fresh_balancers`` (the bed's ``apply``), a backend whose hash key changed on a
hash balancer gets a new balancer (its Ingresses are deleted until the controller drops
it); ``apply_keeping_balancers`` leaves the controller to keep what it keeps.

``clear`` removes the report's objects again and restores the bed's own hellogo Service.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from ingressbed import controller
from ingressbed import k8s_objects as ko
from ingressbed.backends import cluster_waits
from ingressbed.backends.kube import poll, settle
from ingressbed.errors import ConfigError, SetupError
from ingressbed.objects import Ingress
from ingressbed.vocabulary import SERVICE_NAME, Endpoint, Pod, Setup

if TYPE_CHECKING:
    from ingressbed.backends.cluster import ClusterBackend

ROLLOUT_TIMEOUT = 300.0
SERVE_TIMEOUT = 120.0
HASHING = ("chash", "chashsubset")


def model(setup: Setup, ns: str, pods: Iterable[Pod]) -> controller.Configuration:
    """The controller model of ``setup`` in namespace ``ns`` on ``pods``."""
    by_service: dict[str, list[Pod]] = {}
    for pod in pods:
        by_service.setdefault(pod.service, []).append(pod)
    endpoints: dict[tuple[str, str, int], tuple[Endpoint, ...]] = {}
    for service in setup.services:
        for port in service.ports:
            target = port.target if isinstance(port.target, int) else 0
            found = by_service.get(service.name, [])
            endpoints[(ns, service.name, port.port)] = tuple(Endpoint(p.ip, target) for p in found)
    ingresses = [replace(i, namespace=ns) for i in setup.ingresses]
    services = [replace(s, namespace=ns) for s in setup.services]
    return controller.build(ingresses, services, endpoints, setup.controller)


def live_backends(text: str, ns: str) -> tuple[controller.Backend, ...]:
    """The backends of namespace ``ns`` in ``/dbg backends all`` output.

    Raises:
        SetupError: the output is not a backends document.
    """
    try:
        found = controller.from_backends_json(json.loads(text))
    except (ValueError, ConfigError) as exc:
        raise SetupError(f"/dbg backends all printed no backends document: {exc}") from exc
    return tuple(b for b in found if b.name.startswith(f"{ns}-"))


def stale_backends(before: Setup | None, after: Setup, ns: str) -> set[str]:
    """Backends whose hash balancer would keep ``before``'s key if ``after`` were applied."""
    if before is None or not before.ingresses:
        return set()
    old = {b.name: b for b in model(before, ns, ()).backends}
    stale = set()
    for backend in model(after, ns, ()).backends:
        was = old.get(backend.name)
        if was is None:
            continue
        hashing = was.implementation in HASHING and backend.implementation in HASHING
        if hashing and was.hash_by != backend.hash_by:
            stale.add(backend.name)
    return stale


def _after_second(when: float) -> None:
    """Until the clock is past the whole second of ``when`` (creationTimestamp's unit)."""
    next_second = int(when) + 1
    poll(
        lambda: True if time.time() >= next_second else None,
        timeout=5,
        what="the next second, so the next Ingress is younger",
        interval=0.05,
    )


class ReportObjects:
    """The several-objects side of one kind or cluster bed (see the module docstring)."""

    def __init__(self, bed: ClusterBackend) -> None:
        self.bed = bed
        self.applied: Setup | None = None
        #: What the live hash balancers were made from (differs after a kubectl-like apply).
        self.balancers: Setup | None = None
        self.notes: list[str] = []

    @property
    def ns(self) -> str:
        return self.bed.namespace

    def apply(self, setup: Setup, *, fresh_balancers: bool) -> None:
        """Serve ``setup`` (several objects) and wait until the controller shows it."""
        bed = self.bed
        image, policy = bed.hellogo_image()
        old = self.applied
        gone = set(old.service_names) - set(setup.service_names) if old else set()
        for name in gone:
            self._delete_service(name)
        if SERVICE_NAME not in setup.service_names:
            bed.k.scale(self.ns, SERVICE_NAME, 0)
        for service in setup.services:
            replicas = setup.replicas_of(service.name)
            with bed.steps.step(f"Serving Service {service.name} ({replicas} pods)"):
                bed.k.apply(ko.service(service, self.ns))
                bed.k.apply(ko.deployment(service.name, self.ns, image, replicas, policy))
                bed.k.wait_deployment(self.ns, ko.deployment_name(service.name), ROLLOUT_TIMEOUT)
        stale = stale_backends(self.balancers, setup, self.ns)
        if stale and fresh_balancers and old is not None:
            with bed.steps.step(f"Dropping the hash balancers of {', '.join(sorted(stale))}"):
                for ingress in old.ingresses:
                    bed.k.delete(ko.ingress(ingress, self.ns))
                bed.ctl.wait_backends_gone(stale)
            old = None  # every Ingress is made anew, oldest first
        if fresh_balancers or not stale:
            self.balancers = setup
        names = {i.name for i in setup.ingresses}
        deleted = []
        for ingress in old.ingresses if old else ():
            if ingress.name not in names:
                bed.k.delete(ko.ingress(ingress, self.ns))
                deleted.append(ingress.name)
        existing = {i.name for i in old.ingresses} if old else set()
        self._apply_ingresses(setup.ingresses, existing, deleted)
        self.applied = setup
        self.wait_served(setup)

    def _apply_ingresses(
        self, ingresses: Iterable[Ingress], existing: set[str], deleted: list[str]
    ) -> None:
        """Apply ``ingresses`` in order (a second apart when new); one the admission webhook
        refuses only because it still knows an Ingress of ``deleted`` is asked again, any
        other refusal is a note (the user's ``kubectl apply`` would print it)."""
        last_created = 0.0
        for ingress in ingresses:
            new = ingress.name not in existing
            if new and last_created:
                _after_second(last_created)
            apply = functools.partial(self.bed.k.apply, ko.ingress(ingress, self.ns))
            with self.bed.steps.step(f"Applying Ingress {ingress.name}"):
                try:
                    cluster_waits.apply_after_delete(apply, self.ns, deleted)
                except SetupError as exc:
                    if "admission webhook" not in str(exc):
                        raise
                    self.notes.append(f"Ingress {ingress.name} refused: {exc}")
            if new:
                last_created = time.time()

    def _delete_service(self, name: str) -> None:
        bed = self.bed
        found = self.applied.services if self.applied else ()
        for service in found:
            if service.name == name and name != SERVICE_NAME:
                bed.k.delete(ko.service(service, self.ns))
        if name != SERVICE_NAME:
            image, policy = bed.hellogo_image()
            bed.k.delete(ko.deployment(name, self.ns, image, 0, policy))

    def problems(self, setup: Setup) -> list[str]:
        """Where the controller's backends differ from the model ([] once it serves it)."""
        pods = self.bed.pods()
        wanted = model(setup, self.ns, pods)
        theirs = live_backends(self.bed.ctl.run(["/dbg", "backends", "all"]), self.ns)
        ours = [b for b in wanted.backends if b.name != controller.DEFAULT_BACKEND]
        return list(controller.compare(ours, theirs))

    def wait_served(self, setup: Setup) -> None:
        """Until ``/dbg backends all`` agrees with the model of ``setup``."""
        settle(
            lambda: self.problems(setup),
            timeout=SERVE_TIMEOUT,
            interval=1.0,
            what="the controller to serve every backend as the controller model says",
        )

    def clear(self, restore: Callable[[], None]) -> None:
        """Remove the report's objects; ``restore`` brings the bed's hellogo back."""
        old = self.applied
        if old is None:
            return
        for ingress in old.ingresses:
            self.bed.k.delete(ko.ingress(ingress, self.ns))
        for name in old.service_names:
            self._delete_service(name)
        self.applied = self.balancers = None
        restore()
