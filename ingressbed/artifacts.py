"""The artifacts folder: one sub-folder per run, bounded, and what goes in it.

``<base>/<YYYYmmdd-HHMMSS>[-N]/`` holds a run's report and, under ``diagnostics/``, what
explains each failure. The folder stays bounded:

- only the newest ``keep`` runs are kept (default 10); older run folders are removed when a
  new one is made (only folders named like runs; nothing else in ``base`` is touched);
- every log copied in is cut to its last ``LOG_TAIL_BYTES`` (the end is what explains a
  failure), and each test's diagnostics to ``TEST_BUDGET_BYTES`` in all; what was cut is
  written to ``TRIMMED.txt`` next to the files and said in the report.

``check_writable`` is the start-up check: it creates a probe and removes it again.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ingressbed.errors import ConfigError

DEFAULT_KEEP_RUNS = 10
LOG_TAIL_BYTES = 256 * 1024
TEST_BUDGET_BYTES = 2 * 1024 * 1024
TRIM_NOTE = "TRIMMED.txt"
_RUN_NAME = re.compile(r"\d{8}-\d{6}(?:-\d+)?")
_CURRENT: dict[Path, Path] = {}


def check_writable(base: Path, source: str = "--artifacts") -> None:
    """Fail now, in one line, if run folders cannot be created under ``base``.

    The check is done for real: the folder (and what is missing above it) is created, a
    probe folder is made in it and removed, and what the check created is removed again,
    so nothing stays. Permission bits alone would not tell (root passes ``os.access`` for
    ``/proc``, where nothing can be created).

    Args:
        base: the artifacts folder (it need not exist yet).
        source: where the value came from, for the message.

    Raises:
        ConfigError: ``base`` is not a folder, or nothing can be created in it.
    """
    path = Path(base).absolute()
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(
            f"{source} {base}: {probe} is a file, not a folder; choose another artifacts folder"
        )
    made = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".ingressbed-probe-", dir=path))
    except OSError as exc:
        raise ConfigError(
            f"{source} {base}: cannot create folders in it ({exc.strerror or exc}); "
            "choose another artifacts folder"
        ) from None
    finally:
        for folder in made:  # deepest first: what the check made goes again
            with contextlib.suppress(OSError):
                folder.rmdir()


def run_folders(base: Path) -> list[Path]:
    """Run folders under ``base``, oldest first."""
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and _RUN_NAME.fullmatch(p.name))


def prune(base: Path, keep: int, *, spare: Path | None = None) -> list[Path]:
    """Remove all but the newest ``keep`` run folders (never ``spare``); return those removed."""
    folders = [p for p in run_folders(base) if p != spare]
    room = max(keep - (1 if spare is not None else 0), 0)
    doomed = folders[: max(len(folders) - room, 0)]
    for folder in doomed:
        shutil.rmtree(folder, ignore_errors=True)
    return doomed


def new_run_folder(base: Path, keep: int = DEFAULT_KEEP_RUNS) -> Path:
    """Create ``<base>/<timestamp>[-N]/`` and prune older runs down to ``keep`` in all."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, suffix = base / stamp, 1
    while True:
        try:
            folder.mkdir()
            break
        except FileExistsError:
            suffix += 1
            folder = base / f"{stamp}-{suffix}"
    prune(base, keep, spare=folder)
    return folder


def current_run(base: Path, keep: int = DEFAULT_KEEP_RUNS) -> Path:
    """This process's run folder under ``base``, made on first use (shared by the plugin
    and the backends, so a run's evidence lands in one place)."""
    key = Path(base).absolute()
    folder = _CURRENT.get(key)
    if folder is None or not folder.is_dir():
        folder = new_run_folder(key, keep)
        _CURRENT[key] = folder
    return folder


def copy_tail(src: Path, dest: Path, limit: int = LOG_TAIL_BYTES) -> str | None:
    """Copy ``src`` to ``dest`` keeping at most its last ``limit`` bytes.

    Returns:
        A line saying what was cut, or None when the whole file was copied.
    """
    size = src.stat().st_size
    if size <= limit:
        shutil.copyfile(src, dest)
        return None
    with src.open("rb") as reader, dest.open("wb") as writer:
        reader.seek(size - limit)
        chunk = reader.read(limit)
        newline = chunk.find(b"\n")
        if 0 <= newline < len(chunk) - 1:
            chunk = chunk[newline + 1 :]  # start on a whole line
        writer.write(b"[... trimmed by ingressbed: only the end of the file is kept ...]\n")
        writer.write(chunk)
    return f"{dest.name}: kept the last {len(chunk)} of {size} bytes"


def bound(folder: Path, budget: int = TEST_BUDGET_BYTES) -> list[str]:
    """Keep ``folder`` within ``budget`` bytes: drop the largest files first.

    Returns:
        Lines saying what was dropped (also written, with earlier notes, to TRIMMED.txt).
    """
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    total = sum(p.stat().st_size for p in files)
    notes = []
    while files and total > budget:
        largest = files.pop()
        size = largest.stat().st_size
        largest.unlink()
        total -= size
        notes.append(f"{largest.name}: dropped ({size} bytes; the test's budget is {budget})")
    return notes


def write_trim_note(folder: Path, notes: list[str]) -> Path | None:
    """Write ``notes`` to ``folder/TRIMMED.txt`` (nothing when there are none)."""
    if not notes:
        return None
    note = folder / TRIM_NOTE
    with contextlib.suppress(FileExistsError):
        note.touch()
    with note.open("a") as out:
        out.writelines(f"{line}\n" for line in notes)
    return note


def evidence_folder(base: Path, name: str, keep: int = DEFAULT_KEEP_RUNS) -> Path:
    """A fresh folder in this run's folder for evidence of a failure outside any test
    (``<run>/evidence/<name>[-N]``)."""
    root = current_run(base, keep) / "evidence"
    folder, suffix = root / name, 1
    while folder.exists():
        suffix += 1
        folder = root / f"{name}-{suffix}"
    folder.mkdir(parents=True)
    return folder
