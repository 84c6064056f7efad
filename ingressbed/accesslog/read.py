"""Reading an access log: a plain or gzip file, or ``-`` for stdin, in chunks of lines.

The only I/O of the analysis. Gzip is recognised by its magic bytes, not the file name
(``access.log.1.gz`` and a gzip stream on stdin both work). Text is decoded as UTF-8
with undecodable bytes replaced: nginx writes bytes outside printable ASCII as
``\\xHH``, so a real log never needs the replacement; junk does, and then fails to
parse. Lines come in chunks of about ``CHUNK_BYTES`` so memory stays bounded whatever
the file's size.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from ingressbed.errors import ConfigError

#: Bytes of text read per chunk of lines.
CHUNK_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 4096


@contextmanager
def open_log(path: str) -> Iterator[io.TextIOWrapper]:
    """Open an access log for reading text.

    Args:
        path: a file name, or ``-`` for stdin.

    Yields:
        A text stream (UTF-8, bad bytes replaced).

    Raises:
        ConfigError: the file does not exist or cannot be read, or starts with binary
            data (a NUL byte in its first 4 KiB).
    """
    raw: BinaryIO
    if path == "-":
        # A text stream standing in for stdin (an embedding program, a test) has no bytes.
        source = getattr(sys.stdin, "buffer", None)
        raw = source if source is not None else io.BytesIO(sys.stdin.read().encode())
        owned = False
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ConfigError(f"--access-log {path}: {exc.strerror or exc}") from exc
        owned = True
    try:
        binary: BinaryIO = raw
        if _peek(raw, 2) == _GZIP_MAGIC:
            binary = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        try:
            head = _peek(binary, _SNIFF_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise ConfigError(f"--access-log {path}: cannot read it: {exc}") from exc
        if b"\0" in head:
            # Text logs hold no NUL byte; checked before reading lines, since binary data
            # may have no line end at all.
            raise ConfigError(f"--access-log {path} is binary data, not a text access log")
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
        try:
            yield text
        finally:
            text.detach()
            if binary is not raw:
                binary.close()
    finally:
        if owned:
            raw.close()


def _peek(raw: BinaryIO, size: int) -> bytes:
    peek = getattr(raw, "peek", None)
    if peek is not None:
        return bytes(peek(size)[:size])
    if raw.seekable():
        head = raw.read(size)
        raw.seek(0)
        return head
    return b""


def chunks(stream: io.TextIOWrapper, path: str, size: int = CHUNK_BYTES) -> Iterator[list[str]]:
    """The lines of ``stream`` in lists of about ``size`` bytes.

    Args:
        stream: from ``open_log``.
        path: the name shown in messages.
        size: bytes per chunk.

    Yields:
        Lists of lines (with their line ends).

    Raises:
        ConfigError: a broken gzip stream or an unreadable file.
    """
    while True:
        try:
            lines = stream.readlines(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise ConfigError(f"--access-log {path}: cannot read it: {exc}") from exc
        if not lines:
            return
        yield lines
