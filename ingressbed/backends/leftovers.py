"""What this process started and has not cleaned up yet, in words (after a Ctrl-C).

The ``ingressbed`` command and the pytest plugin both end an interrupted run with one
line built here; it never claims a cleanup that did not happen.
"""

from __future__ import annotations

from ingressbed.backends.local_addresses import held_blocks
from ingressbed.backends.processes import live_children


def what_is_left() -> str:
    """``nothing it started is left running``, or the processes and blocks still held."""
    running, blocks = live_children(), held_blocks()
    if not running and not blocks:
        return "nothing it started is left running"
    parts = [f"still running: {', '.join(running)}"] if running else []
    parts += [f"address blocks still held: {', '.join(blocks)}"] if blocks else []
    return "; ".join(parts)
