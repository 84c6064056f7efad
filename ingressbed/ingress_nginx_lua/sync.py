"""What the local ingress-nginx plane's ``/sync`` answer means (pure).

``GET /sync`` answers the configuration generation, the last post's number and time (whole
seconds), and for every worker of this configuration its pid and the post it applied with
that post's time, and how often its sync timer ran. A post is in force when every worker
of the current configuration applied it or a later one (``SyncState.in_force``): that is the
condition the bed waits on, never a sleep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ingressbed.errors import SetupError
from ingressbed.ingress_nginx_lua.conf import SYNC_PATH


@dataclass(frozen=True)
class WorkerState:
    """One worker: its id (0..workers-1), pid, the post it applied (0: none yet) with
    that post's time, and how many times its 1 s sync timer ran."""

    id: int
    pid: int | None
    synced: int
    synced_at: int
    ticks: int = 0


@dataclass(frozen=True)
class SyncState:
    """What ``/sync`` answered."""

    config_generation: int
    posted: int
    posted_at: int
    workers: tuple[WorkerState, ...]

    def behind(self, post: int) -> list[WorkerState]:
        """Workers that have not applied post ``post`` (or a later one)."""
        return [w for w in self.workers if w.pid is None or w.synced < post]

    def in_force(self, post: int, config_generation: int) -> bool:
        """Whether every worker of configuration ``config_generation`` applied ``post``.

        Args:
            post: the post's number (``post`` returns it).
            config_generation: the nginx.conf generation that must be serving.

        Returns:
            True when the answer came from that configuration and no worker is behind.
        """
        return self.config_generation == config_generation and not self.behind(post)


def parse_state(text: str) -> SyncState:
    """Read a ``/sync`` answer.

    Raises:
        SetupError: the answer is not the listener's JSON.
    """
    try:
        raw: Any = json.loads(text)
        workers = tuple(
            WorkerState(
                int(w["id"]),
                int(w["pid"]) if "pid" in w else None,
                int(w.get("synced", 0)),
                int(w.get("synced_at", 0)),
                int(w.get("ticks", 0)),
            )
            for w in raw["workers"]
        )
        return SyncState(
            int(raw["config_generation"]), int(raw["posted"]), int(raw["posted_at"]), workers
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SetupError(
            f"the plane's {SYNC_PATH} answered something else: {text[:200]!r}"
        ) from exc
