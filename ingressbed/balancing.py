"""How a setup balances requests, read from its annotations (pure).

``Balancing.of(setup)`` says which placement applies (``Placement``), the hash key,
the subset size and the affinity cookie's name: what the placement model needs to
predict picks and odds for the setup, and what the scenario parser needs to refuse a
check the placement cannot have.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressbed.placement import DEFAULT_COOKIE_NAME, DEFAULT_SUBSET_SIZE
from ingressbed.vocabulary import Placement, Setup


@dataclass(frozen=True)
class Balancing:
    """The placement of one setup and the parameters the model needs."""

    placement: Placement
    hash_by: str | None = None
    subset_size: int | None = None
    cookie_name: str = DEFAULT_COOKIE_NAME

    @property
    def uses_cookie(self) -> bool:
        return self.placement in (Placement.COOKIE_BALANCED, Placement.COOKIE_PERSISTENT)

    @classmethod
    def of(cls, setup: Setup) -> Balancing:
        """Read the annotations (and the controller's ``load-balance``) of ``setup``."""
        spec = setup.ingress
        hash_by = spec.annotation("upstream-hash-by") or None
        cookie = spec.annotation("session-cookie-name") or DEFAULT_COOKIE_NAME
        if (spec.annotation("affinity") or "") == "cookie":
            mode = spec.annotation("affinity-mode") or "balanced"
            placement = (
                Placement.COOKIE_PERSISTENT if mode == "persistent" else Placement.COOKIE_BALANCED
            )
            return cls(placement, hash_by, cookie_name=cookie)
        if hash_by:
            if (spec.annotation("upstream-hash-by-subset") or "").lower() == "true":
                size = spec.annotation("upstream-hash-by-subset-size") or ""
                subset = int(size) if size.isdigit() and int(size) > 0 else DEFAULT_SUBSET_SIZE
                return cls(Placement.SUBSET, hash_by, subset, cookie)
            return cls(Placement.HASH, hash_by, cookie_name=cookie)
        if (spec.annotation("service-upstream") or "").lower() == "true":
            return cls(Placement.SERVICE_UPSTREAM, cookie_name=cookie)
        balance = spec.annotation("load-balance") or setup.controller.get("load-balance")
        placement = Placement.EWMA if balance == "ewma" else Placement.ROUND_ROBIN
        return cls(placement, cookie_name=cookie)
