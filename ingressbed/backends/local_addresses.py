"""A per-run block of loopback addresses and its run folder, so parallel runs never collide.

Each run takes a ``127.A.B.0/24`` block and holds an exclusive ``flock`` on a lock file
named after it for as long as the run lives; the file holds the owner's pid. Another run
picks another block. ``.1`` is the ingress (nginx or HAProxy), pods get ``.10`` upwards, never
reusing an address within a run (like pod IPs in a cluster). Linux routes all of 127/8 to
the loopback interface. The run folder (``<tmp>/ingressbed-127.A.B-XXXX``) is created
after the lock is taken and removed before it is released, so a folder never outlives
its lock file.

A run that was SIGKILLed leaves its lock file (the flock itself dies with the process)
and maybe its folder. ``reclaim()``, called before a block is taken, finds lock files
whose lock nobody holds and whose owner process is gone, and removes what that run left:
processes still running from its folder or on its addresses, the folder, the lock file.

The lock file is only ever unlinked by a process holding its lock; whoever takes a lock
then checks that the path still names the file it locked, and otherwise tries again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import IO

from ingressbed.errors import SetupError

LOCK_DIR = Path(tempfile.gettempdir()) / "ingressbed-addresses"
RUN_DIR_PARENT = Path(tempfile.gettempdir())
FIRST_POD = 10
LAST_POD = 254

_HELD: set[str] = set()


def held_blocks() -> list[str]:
    """Blocks (``127.A.B``) this process holds now."""
    return sorted(_HELD)


def run_dirs(prefix: str) -> list[Path]:
    """Run folders of block ``prefix`` (``127.A.B``) that exist now."""
    return sorted(RUN_DIR_PARENT.glob(f"ingressbed-{prefix}-*"))


def _loopback_works(address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


def _take(path: Path) -> IO[str] | None:
    """Open and lock ``path`` without waiting; None if another process holds it."""
    lock = open(path, "a+")  # noqa: SIM115 (held for the run, or closed here)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        lock.close()
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            return None
        raise
    try:
        same = os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # unlinked (released or reclaimed) between our open and our lock
        lock.close()
        return None
    return lock


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _processes() -> list[tuple[int, int, str]]:
    """(pid, process group, command line) of every process visible (nginx workers run as
    another user when the bed is root)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
            pgid = int(stat.rsplit(")", 1)[1].split()[2])
        except (OSError, ValueError, IndexError):
            continue
        found.append((int(entry.name), pgid, cmdline))
    return found


def _leftovers(prefix: str, folders: list[Path]) -> list[int]:
    """Processes a dead run of block ``prefix`` left: its pods, its nginx or HAProxy and
    their workers."""
    groups: set[int] = set()
    for folder in folders:
        for pid_file in ("nginx.pid", "haproxy.pid"):
            with contextlib.suppress(OSError, ValueError):
                groups.add(int((folder / pid_file).read_text().strip()))
    marks = [f"--address {prefix}.", *(str(folder) for folder in folders)]
    me = os.getpid()
    return [
        pid
        for pid, pgid, cmdline in _processes()
        if pid != me
        and (
            any(mark in cmdline for mark in marks)
            or (pgid in groups and ("nginx" in cmdline or "haproxy" in cmdline))
        )
    ]


def reclaim(lock_dir: Path | None = None) -> list[str]:
    """Remove what dead runs left; return the blocks reclaimed (``127.A.B``).

    A block is reclaimed when nobody holds its lock and the pid in its lock file is not
    a live process (an empty file counts as gone: its owner died before writing it).
    """
    reclaimed = []
    for path in sorted((lock_dir or LOCK_DIR).glob("127.*.lock")):
        lock = _take(path)
        if lock is None:
            continue
        try:
            lock.seek(0)
            owner = lock.read().strip()
            if owner.isdigit() and _pid_alive(int(owner)):
                continue
            prefix = path.name.removesuffix(".lock")
            folders = run_dirs(prefix)
            for pid in _leftovers(prefix, folders):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            reclaimed.append(prefix)
        finally:
            lock.close()
    return reclaimed


class AddressBlock:
    """An exclusive ``127.A.B.0/24`` for this run (and its run folder, once made)."""

    def __init__(self, seed: int | None = None) -> None:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        reclaim()
        rng = random.Random(
            seed if seed is not None else os.getpid() ^ int.from_bytes(os.urandom(4))
        )
        self._lock: IO[str] | None = None
        self._path: Path | None = None
        self.run_dir: Path | None = None
        for _ in range(64):
            a, b = rng.randrange(16, 250), rng.randrange(0, 256)
            path = LOCK_DIR / f"127.{a}.{b}.lock"
            lock = _take(path)
            if lock is None:
                continue
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            self._lock, self._path, self.prefix = lock, path, f"127.{a}.{b}"
            _HELD.add(self.prefix)
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

    @property
    def lock_path(self) -> Path | None:
        return self._path

    def make_run_dir(self) -> Path:
        """Create this run's folder (readable by nginx workers that drop root)."""
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix=f"ingressbed-{self.prefix}-"))
            self.run_dir.chmod(0o755)
        return self.run_dir

    def remove_run_dir(self) -> None:
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            if self.run_dir.exists():
                raise SetupError(f"could not remove the run folder {self.run_dir}")
            self.run_dir = None

    @property
    def service(self) -> str:
        """The address Services get on this block (``.2``: pods start at ``.10``)."""
        return f"{self.prefix}.2"

    def next_pod_address(self) -> str:
        if self._next > LAST_POD:
            raise SetupError(f"pod addresses in {self.prefix}.0/24 are used up for this run")
        address = f"{self.prefix}.{self._next}"
        self._next += 1
        return address

    def free_ports(self, count: int, address: str | None = None) -> list[int]:
        """``count`` different ports free now on ``address`` (default the ingress address).

        The sockets are held together while the kernel picks, so no two are the same port:
        picked one at a time, two ports of one bed were the same about once in 12,000
        beds, and HAProxy (``SO_REUSEPORT``) then shared one port between its traffic and
        its status frontends.
        """
        with contextlib.ExitStack() as held:
            ports = []
            for _ in range(count):
                sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sock.bind((address or self.ingress, 0))
                ports.append(int(sock.getsockname()[1]))
            return ports

    def release(self) -> None:
        """Give the block back: unlink the lock file while holding it, then unlock."""
        if self._lock is not None:
            if self._path is not None:
                with contextlib.suppress(OSError):
                    self._path.unlink()
            self._lock.close()
            self._lock = None
            _HELD.discard(self.prefix)
