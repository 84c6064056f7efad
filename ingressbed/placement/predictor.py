"""Predicting the endpoint a data plane picks for a request.

``Predictor`` builds the ring and compiles the key once, so predicting a batch costs one
key evaluation and one ring lookup per request. ``predict`` is the one-shot form. The
nginx flavor takes a ``method``: ``hash-consistent`` (the ring, the default), ``hash``
or ``ip-hash`` (see ``nginx_methods``). The haproxy flavor has its own predictor
(``haproxy.HaproxyPredictor``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ingressbed.errors import ConfigError
from ingressbed.placement import nginx_methods
from ingressbed.placement.keys import KeyExpr
from ingressbed.placement.ring import Ring, RingKind
from ingressbed.placement.subset import SubsetRing
from ingressbed.placement.variables import Request
from ingressbed.vocabulary import Endpoint


class Predictor:
    """The placement of one upstream: endpoints, key expression, optional subsets."""

    def __init__(
        self,
        flavor: str,
        endpoints: Sequence[Endpoint],
        hash_by: str,
        *,
        controller_version: str | None = None,
        subset_size: int | None = None,
        weights: Mapping[Endpoint, int] | None = None,
        method: str = "hash-consistent",
    ) -> None:
        """Build the ring and compile the key.

        Args:
            flavor: ``"ingress-nginx"`` or ``"nginx"``.
            endpoints: the upstream's endpoints, in the data plane's order.
            hash_by: the key expression.
            controller_version: ingress-nginx release (``None``: the pinned one);
                ignored for the nginx flavor.
            subset_size: group size for ``upstream-hash-by-subset`` (ingress-nginx only).
            weights: optional endpoint weights (see ``Ring.build``).
            method: nginx flavor only: ``hash-consistent``, ``hash`` or ``ip-hash`` (which
                reads the client address and ignores ``hash_by``).

        Raises:
            ConfigError: bad flavor, endpoints, expression, method or subset size.
        """
        if method not in nginx_methods.METHODS:
            raise ConfigError(f"method {method!r}: use one of {', '.join(nginx_methods.METHODS)}")
        if method != "hash-consistent" and flavor != RingKind.NGINX:
            raise ConfigError(f"method {method!r} exists only in the nginx flavor")
        self.method = method
        # ip_hash reads the client address itself; the key is compiled but never used.
        expr = "$remote_addr" if method == "ip-hash" else hash_by
        self.key = KeyExpr(expr, flavor=flavor, controller_version=controller_version)
        self.flavor = flavor
        self.endpoints: tuple[Endpoint, ...] = tuple(dict.fromkeys(endpoints))
        self.weight_list: tuple[int, ...] = tuple(
            1 if weights is None else weights.get(e, 1) for e in self.endpoints
        )
        self.subsets: SubsetRing | None = None
        if subset_size is not None:
            if flavor != RingKind.LUA:
                raise ConfigError("subset hashing exists only in ingress-nginx, not in nginx")
            self.subsets = SubsetRing.build(self.endpoints, subset_size)
        self.ring = Ring.build(flavor, self.endpoints, weights)

    def pick(self, request: Request) -> Endpoint | None:
        """The endpoint the data plane sends ``request`` to.

        Args:
            request: the request.

        Returns:
            The endpoint; ``None`` for the nginx flavor when the key is empty and there is
            more than one endpoint (nginx then balances round robin).

        Raises:
            ConfigError: the request lacks what the key reads, or this predictor uses
                subsets (use ``pick_group``).
        """
        if self.subsets is not None:
            raise ConfigError("with subsets a request goes to a group: use pick_group")
        if self.method == "ip-hash":
            return nginx_methods.ip_hash_pick(self.endpoints, self.weight_list, request.client_ip)
        key = self.key.evaluate(request)
        if self.method == "hash":
            return nginx_methods.hash_pick(self.endpoints, self.weight_list, key)
        if self.flavor == RingKind.NGINX and not key:
            return self.endpoints[0] if len(self.endpoints) == 1 else None
        return self.ring.lookup(key)

    def pick_group(self, request: Request) -> tuple[Endpoint, ...]:
        """With subsets: the group ``request`` goes to; the member is random per request.

        Args:
            request: the request.

        Returns:
            The group's endpoints (an endpoint appears twice when the list was padded).

        Raises:
            ConfigError: this predictor has no subsets, or the request lacks what the
                key reads.
        """
        if self.subsets is None:
            raise ConfigError("this predictor has no subsets: give subset_size")
        return self.subsets.lookup(self.key.evaluate(request))


def predict(
    flavor: str,
    endpoints: Sequence[Endpoint],
    hash_by: str,
    request: Request,
    *,
    controller_version: str | None = None,
) -> Endpoint | None:
    """The endpoint a data plane picks for one request.

    Args:
        flavor: ``"ingress-nginx"`` or ``"nginx"``.
        endpoints: the upstream's endpoints.
        hash_by: the key expression (``upstream-hash-by`` or nginx's ``hash`` key).
        request: the request.
        controller_version: ingress-nginx release; ``None`` means the pinned one.
            Ignored for the nginx flavor.

    Returns:
        The endpoint, or ``None`` when nginx falls back to round robin (empty key with
        more than one endpoint).

    Raises:
        ConfigError: bad flavor, endpoints or expression, or a request lacking what the
            key reads.
    """
    predictor = Predictor(flavor, endpoints, hash_by, controller_version=controller_version)
    return predictor.pick(request)
