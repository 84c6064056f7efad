"""What a running controller does with a change, as data (pure).

Given the configuration in force and a new one, ``apply`` says what ingress-nginx
(controller-v1.15.1) does:

- **reload or not.** nginx reloads when a server or location changes (a host, a path,
  the backend a location uses, a rewrite, a regex, any other location annotation) or
  when the ConfigMap does; a change of backends alone (endpoints, hash key, affinity,
  canary weights, ``load-balance``...) is posted to the Lua side without a reload.
- **what the Lua balancers then use.** Each worker keeps one balancer per backend and
  syncs it from every post, but a sync refreshes less than the post holds:

  * a balancer is made anew only when the backend's balancer kind changes (round robin,
    ewma, chash, chashsubset, sticky balanced, sticky persistent) or when it comes back
    after an empty endpoint list (the balancer is dropped meanwhile, and requests get
    503), and on every nginx reload (new workers start from the posted backends);
  * a ``chash`` balancer reads ``upstream-hash-by`` only when it is made: a new key on
    an existing backend, even posted with an endpoint change, or with ``load-balance:
    ewma`` while the key is still set, is **not applied**; the old key stays in force
    until a reload, or a switch to a balancer without a hash (round robin) and back, or
    an empty endpoint list;
  * a ``chashsubset`` balancer likewise keeps its key, takes a new subset size only
    with an endpoint change, and keeps its canary settings (traffic shaping,
    alternative backends) until it is made anew;
  * the other kinds take the endpoints, the canary settings and (sticky) the cookie
    settings of every post.

``Change.stale`` lists each posted setting that is not in force, and what would apply
it. Timing is left to the data plane: a post is seen at the worker's next 1 s tick, and
a post in the same whole second as the last sync waits for a later post.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ingressbed.controller.backends_json import backend_json
from ingressbed.controller.model import (
    Backend,
    Configuration,
    Location,
    SessionAffinity,
    TrafficShaping,
)
from ingressbed.vocabulary import Endpoint

_HASHED = ("chash", "chashsubset")
#: Effective values of the ConfigMap keys the model reads, when unset.
_CONFIGMAP_DEFAULTS = {
    "load-balance": "round_robin",
    "service-upstream": "false",
    "use-forwarded-headers": "true",
}
_UNTIL_KEY = (
    "an nginx reload, a switch to a balancer without a hash key (remove upstream-hash-by, "
    "then set it again) or an empty endpoint list"
)


@dataclass(frozen=True)
class Balancer:
    """What a worker's Lua balancer holds for one backend."""

    backend: str
    implementation: str
    endpoints: tuple[Endpoint, ...]
    hash_by: str = ""
    subset_size: int = 0
    affinity: SessionAffinity | None = None
    traffic_shaping: TrafficShaping = field(default_factory=TrafficShaping)
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stale:
    """A posted setting a worker does not use, and what would make it apply."""

    backend: str
    setting: str
    posted: str
    in_force: str
    until: str

    def text(self) -> str:
        """One line for a reader."""
        return (
            f"backend {self.backend}: {self.setting} {self.posted!r} is posted but "
            f"{self.in_force!r} stays in force until {self.until}"
        )


@dataclass(frozen=True)
class BackendChange:
    """How one backend's posted document changed: ``added``, ``removed``,
    ``endpoints`` (only the endpoints) or ``settings`` (``fields`` names them)."""

    backend: str
    kind: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """What the controller does with a new configuration."""

    reload: bool
    reasons: tuple[str, ...]
    backends: tuple[BackendChange, ...]
    stale: tuple[Stale, ...]
    balancers: Mapping[str, Balancer]

    @property
    def endpoints_only(self) -> tuple[str, ...]:
        """Backends whose only change is their endpoints (applied by Lua, no reload)."""
        return tuple(b.backend for b in self.backends if b.kind == "endpoints")


def fresh(backend: Backend) -> Balancer:
    """A balancer made from a posted backend (``implementation:new``).

    Args:
        backend: the backend (with endpoints).

    Returns:
        The balancer's state.
    """
    kind = backend.implementation
    return Balancer(
        backend=backend.name,
        implementation=kind,
        endpoints=backend.endpoints,
        hash_by=backend.hash_by.key if kind in _HASHED else "",
        subset_size=backend.hash_by.subset_size if kind == "chashsubset" else 0,
        affinity=backend.affinity if kind.startswith("sticky") else None,
        traffic_shaping=backend.traffic_shaping,
        alternatives=backend.alternatives,
    )


def balancers(config: Configuration | Iterable[Backend]) -> dict[str, Balancer]:
    """The balancers of workers that start from ``config`` (first start or reload).

    Args:
        config: the configuration or its backends.

    Returns:
        One balancer per backend with endpoints (a backend without any has none: 503).
    """
    backends = config.backends if isinstance(config, Configuration) else config
    return {b.name: fresh(b) for b in backends if b.endpoints}


def _resync(old: Balancer, backend: Backend) -> Balancer:
    kind = old.implementation
    if kind == "chashsubset":
        if old.endpoints == backend.endpoints:
            return old
        return replace(old, endpoints=backend.endpoints, subset_size=backend.hash_by.subset_size)
    synced = replace(
        old,
        endpoints=backend.endpoints,
        traffic_shaping=backend.traffic_shaping,
        alternatives=backend.alternatives,
    )
    if kind.startswith("sticky"):
        synced = replace(synced, affinity=backend.affinity)
    return synced


def sync(current: Mapping[str, Balancer], backends: Iterable[Backend]) -> dict[str, Balancer]:
    """One Lua sync of a post, without a reload.

    Args:
        current: the workers' balancers before the post.
        backends: the posted backends.

    Returns:
        The balancers after the sync (none for a backend without endpoints or not posted).
    """
    out: dict[str, Balancer] = {}
    for backend in backends:
        if not backend.endpoints:
            continue
        old = current.get(backend.name)
        if old is None or old.implementation != backend.implementation:
            out[backend.name] = fresh(backend)
        else:
            out[backend.name] = _resync(old, backend)
    return out


def stale(
    config: Configuration | Iterable[Backend], state: Mapping[str, Balancer]
) -> tuple[Stale, ...]:
    """Posted settings the balancers do not use.

    Args:
        config: the posted configuration (or backends).
        state: the workers' balancers.

    Returns:
        One entry per setting not in force.
    """
    backends = config.backends if isinstance(config, Configuration) else config
    found: list[Stale] = []
    for backend in backends:
        held = state.get(backend.name)
        if held is None:
            continue
        if held.implementation in _HASHED and held.hash_by != backend.hash_by.key:
            found.append(
                Stale(
                    backend.name, "upstream-hash-by", backend.hash_by.key, held.hash_by, _UNTIL_KEY
                )
            )
        if held.implementation != "chashsubset":
            continue
        if held.subset_size != backend.hash_by.subset_size:
            found.append(
                Stale(
                    backend.name,
                    "upstream-hash-by-subset-size",
                    str(backend.hash_by.subset_size),
                    str(held.subset_size),
                    "the next endpoint change, or " + _UNTIL_KEY,
                )
            )
        if held.traffic_shaping != backend.traffic_shaping:
            found.append(
                Stale(
                    backend.name,
                    "trafficShapingPolicy",
                    repr(backend.traffic_shaping),
                    repr(held.traffic_shaping),
                    _UNTIL_KEY,
                )
            )
        if held.alternatives != backend.alternatives:
            found.append(
                Stale(
                    backend.name,
                    "alternativeBackends",
                    ", ".join(backend.alternatives) or "none",
                    ", ".join(held.alternatives) or "none",
                    _UNTIL_KEY,
                )
            )
    return tuple(found)


def _location_key(location: Location) -> tuple[object, ...]:
    """The fields the controller compares to decide a location changed."""
    return (
        location.path,
        location.is_default_backend,
        location.backend,
        location.service,
        str(location.port),
        location.rewrite_target,
        location.use_regex,
        location.fingerprint,
    )


def reload_reasons(running: Configuration, new: Configuration) -> tuple[str, ...]:
    """Why nginx reloads going from ``running`` to ``new`` (empty: it does not).

    Args:
        running: the configuration in force.
        new: the new one.

    Returns:
        One line per server or ConfigMap key that changed.
    """
    reasons: list[str] = []
    before = {s.hostname: s for s in running.servers}
    after = {s.hostname: s for s in new.servers}
    reasons += [f"server {h} is added" for h in after if h not in before]
    reasons += [f"server {h} is removed" for h in before if h not in after]
    for host in sorted(set(before) & set(after)):
        old = [_location_key(loc) for loc in before[host].locations]
        now = [_location_key(loc) for loc in after[host].locations]
        if old != now:
            changed = sorted(
                {str(k[0]) for k in old if k not in now} | {str(k[0]) for k in now if k not in old}
            )
            reasons.append(f"server {host}: locations {', '.join(changed) or '(order)'} change")
    for key in sorted(set(running.configmap) | set(new.configmap)):
        default = _CONFIGMAP_DEFAULTS.get(key)
        was, now_value = running.configmap.get(key, default), new.configmap.get(key, default)
        if was != now_value:
            reasons.append(f"ConfigMap key {key} changes")
    return tuple(reasons)


def _backend_changes(running: Configuration, new: Configuration) -> tuple[BackendChange, ...]:
    before = {b.name: backend_json(b) for b in running.backends}
    after = {b.name: backend_json(b) for b in new.backends}
    out: list[BackendChange] = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            out.append(BackendChange(name, "added"))
        elif name not in after:
            out.append(BackendChange(name, "removed"))
        else:
            keys = set(before[name]) | set(after[name])
            differ = tuple(k for k in sorted(keys) if before[name].get(k) != after[name].get(k))
            if differ == ("endpoints",):
                out.append(BackendChange(name, "endpoints", differ))
            elif differ:
                out.append(BackendChange(name, "settings", differ))
    return tuple(out)


def apply(
    running: Configuration, new: Configuration, state: Mapping[str, Balancer] | None = None
) -> Change:
    """What the controller does going from ``running`` to ``new``.

    Args:
        running: the configuration in force.
        new: the new configuration (after an apply, annotate, delete or scale).
        state: the workers' balancers under ``running`` (the ``balancers`` of the
            previous ``Change``); ``None``: fresh from ``running``, as after a reload.

    Returns:
        Whether nginx reloads and why, how each backend changed, the balancers the
        workers use afterwards, and every posted setting they do not use.
    """
    reasons = reload_reasons(running, new)
    held = balancers(running) if state is None else state
    after = balancers(new) if reasons else sync(held, new.backends)
    return Change(
        reload=bool(reasons),
        reasons=reasons,
        backends=_backend_changes(running, new),
        stale=stale(new, after),
        balancers=MappingProxyType(after),
    )
