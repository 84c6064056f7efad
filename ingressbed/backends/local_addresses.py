"""A per-run block of loopback addresses, so parallel runs never collide.

Each run takes a ``127.A.B.0/24`` block and holds an exclusive lock on a file named
after it for as long as the run lives; another run picks another block. ``.1`` is the
ingress (nginx), pods get ``.10`` upwards, never reusing an address within a run
(like pod IPs in a cluster). Linux routes all of 127/8 to the loopback interface.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path
from typing import IO

from ingressbed.errors import SetupError

LOCK_DIR = Path(tempfile.gettempdir()) / "ingressbed-addresses"
FIRST_POD = 10
LAST_POD = 254


def _loopback_works(address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


class AddressBlock:
    """An exclusive ``127.A.B.0/24`` for this run."""

    def __init__(self, seed: int | None = None) -> None:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        rng = random.Random(
            seed if seed is not None else os.getpid() ^ int.from_bytes(os.urandom(4))
        )
        self._lock: IO[str] | None = None
        for _ in range(64):
            a, b = rng.randrange(16, 250), rng.randrange(0, 256)
            lock = open(LOCK_DIR / f"127.{a}.{b}.lock", "a")  # noqa: SIM115 (held for the run)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                lock.close()
                if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                    continue
                raise
            self._lock, self.prefix = lock, f"127.{a}.{b}"
            break
        else:
            raise SetupError("no free loopback block: 64 tries were all held by other runs")
        if not _loopback_works(self.ingress):
            self.release()
            raise SetupError(
                "cannot bind loopback addresses beyond 127.0.0.1 on this machine; "
                "the local backend needs Linux's 127/8 loopback"
            )
        self._next = FIRST_POD

    @property
    def ingress(self) -> str:
        return f"{self.prefix}.1"

    def next_pod_address(self) -> str:
        if self._next > LAST_POD:
            raise SetupError(f"pod addresses in {self.prefix}.0/24 are used up for this run")
        address = f"{self.prefix}.{self._next}"
        self._next += 1
        return address

    def free_port(self) -> int:
        """A port free on the ingress address now."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((self.ingress, 0))
            return int(sock.getsockname()[1])

    def release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._lock.name)
            self._lock.close()
            self._lock = None
