"""What the cluster backends wait for after a kill, a change the controller applies
without a reload, or an Ingress deleted just before another is applied (decisions, and
the one retry of an apply the admission webhook refuses for a deleted Ingress).

- A killed pod is replaced when the victim is gone, a pod name that was not there
  before is Ready, and the Ready pods number the Deployment's replicas. A Deployment's
  status cannot say so: deleting a pod does not change its generation, so the status
  from before the kill (all replicas ready) still reads as "rolled out".
- ingress-nginx's Lua workers apply posted backends on their own 1 s timer
  (``BACKENDS_SYNC_INTERVAL = 1`` in ``rootfs/etc/nginx/lua/balancer.lua``, controller
  v1.15.1), after ``/dbg backends`` already shows the post. Traffic proves a change only
  once one tick has passed since ``/dbg`` matched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from ingressbed.backends.kube import poll
from ingressbed.errors import SetupError

#: Seconds between two syncs of a worker's balancers (the controller's timer interval).
WORKER_TICK_S = 1.0
#: Added to the tick: the timer callback runs a little after its due time.
TICK_MARGIN_S = 0.2
#: Seconds the admission webhook may still refuse a host and path of a deleted Ingress.
WEBHOOK_FORGET_TIMEOUT = 60.0


def replacement_problems(
    before: Iterable[str], victim: str, ready_now: Iterable[str], replicas: int
) -> list[str]:
    """What still keeps a killed pod from counting as replaced ([] = replaced).

    Args:
        before: the Ready pod names of the victim's Deployment before the kill.
        victim: the killed pod's name.
        ready_now: the Ready pod names of that Deployment now.
        replicas: the Deployment's ``spec.replicas``.

    Returns:
        One line per unmet condition.
    """
    old, now = set(before), set(ready_now)
    problems: list[str] = []
    if victim in now:
        problems.append(f"{victim} is still Ready")
    if not now - old - {victim}:
        problems.append("no new pod is Ready yet")
    if len(now) != replicas:
        problems.append(f"{len(now)} Ready pods, the Deployment wants {replicas}")
    return problems


def past_worker_tick(
    matched_at: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until one worker tick (plus margin) has passed since ``/dbg`` matched.

    Args:
        matched_at: ``clock()`` when ``/dbg`` first showed the wanted backends.
        clock, pause: time source and waiting (tests pass fakes).

    Returns:
        The seconds waited (0 when the tick had passed already).
    """
    left = matched_at + WORKER_TICK_S + TICK_MARGIN_S - clock()
    if left > 0:
        pause(left)
        return left
    return 0.0


def overlaps_deleted(message: str, namespace: str, deleted: Iterable[str]) -> str | None:
    """Which of the Ingresses ``deleted`` (names in ``namespace``, already deleted) the
    admission webhook still holds against a new one, by ``message``; None if it refused
    for another reason.

    The webhook checks against the controller's cache, which learns of a deletion a moment
    later (controller v1.15.1: ``host "H" and path "P" is already defined in ingress NS/NAME``;
    an Ingress never overlaps itself, so one made anew under its old name is not refused).
    """
    for name in deleted:
        pattern = rf"is already defined in ingress {re.escape(namespace)}/{re.escape(name)}\b"
        if re.search(pattern, message) is not None:
            return name
    return None


def apply_after_delete(
    apply: Callable[[], None],
    namespace: str,
    deleted: Iterable[str],
    *,
    timeout: float = WEBHOOK_FORGET_TIMEOUT,
) -> None:
    """``apply()`` right after Ingresses ``deleted`` went: ask again while the admission
    webhook refuses it only because it still knows one of them; any other error is raised.

    Args:
        apply: applies the new object (raises ``SetupError`` with the API's message).
        namespace, deleted: the deleted Ingresses.
        timeout: how long the webhook may take to forget them.
    """
    names = list(deleted)
    refused: list[str] = []

    def applied() -> bool | None:
        try:
            apply()
        except SetupError as exc:
            name = overlaps_deleted(str(exc), namespace, names) if names else None
            if name is None:
                raise
            refused[:] = [str(exc)]
            return None
        return True

    poll(
        applied,
        timeout=timeout,
        what=f"the admission webhook to forget the deleted Ingress {', '.join(names)}",
        detail=lambda: refused[0] if refused else "",
    )
