"""``:path`` as Envoy forwards it with Envoy Gateway's listener settings (pure).

Envoy Gateway turns on three path settings of the HTTP connection manager, applied in
this order to the part before the first ``?`` (the query is kept as sent):

1. ``path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT``: a path holding ``%2F`` or
   ``%5C`` (any case) is answered with a redirect to the unescaped path; such a request
   reaches no pod.
2. ``normalize_path``: the path canonicalization Envoy took from Chromium's URL library.
   ``.`` and ``..`` segments are resolved, ``%2e`` counting as a dot, and ``..`` never
   climbs above the root; a backslash becomes ``/``; an escaped letter, digit or
   ``-._~`` is unescaped (``%41`` -> ``A``); space, ``"``, ``#``, ``<``, ``>``, ``^``,
   backtick, ``{``, ``|``, ``}``, controls and bytes above 127 are escaped as ``%XX``; other
   escapes stay as written; ``%00`` makes the request fail with 400.
3. ``merge_slashes``: runs of ``/`` become one.

So ``/a/./b``, ``/a/../b`` and ``//a//b`` all reach the hash policy as ``/b``, ``/b`` and
``/a/b``.
"""

from __future__ import annotations

import re

from ingressbed.errors import ConfigError

_HEX = b"0123456789ABCDEFabcdef"
_ESCAPED_SLASH = re.compile(r"%(2f|5c)", re.IGNORECASE)
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = frozenset(range(0x00, 0x21)) | frozenset(b'"#<>?^`{|}') | frozenset(range(0x7F, 0x100))


def _dot(data: bytes, index: int) -> int:
    """Length of a dot at ``index``: 1 for ``.``, 3 for ``%2e``/``%2E``, else 0."""
    if data[index : index + 1] == b".":
        return 1
    if data[index : index + 3].lower() == b"%2e":
        return 3
    return 0


def _decode(data: bytes, index: int) -> int | None:
    """The byte a valid ``%XX`` at ``index`` stands for, or None."""
    pair = data[index + 1 : index + 3]
    if len(pair) == 2 and all(char in _HEX for char in pair):
        return int(pair, 16)
    return None


def _back_up(output: bytearray) -> None:
    """Drop the last segment: shrink ``output`` (ending in ``/``) to its previous ``/``."""
    index = len(output) - 1
    if index == 0:
        return
    index -= 1
    while output[index] != 0x2F and index > 0:
        index -= 1
    del output[index + 1 :]


def canonical_path(path: bytes) -> bytes | None:
    """Envoy's ``normalize_path`` of a path without its query.

    Args:
        path: the path bytes as sent.

    Returns:
        The canonical path, or None where Envoy answers 400 (an escaped NUL byte).
    """
    output = bytearray(b"" if path[:1] in (b"/", b"\\") else b"/")
    if not path:
        return b"/"
    last_bad_percent = -10
    ok = True
    index = 0
    end = len(path)
    while index < end:
        char = path[index]
        dot = _dot(path, index)
        if dot:
            if output[-1:] == b"/":
                after = index + dot
                if after == end or path[after] in b"/\\":
                    index = after + (1 if after < end else 0)  # "." or "./": skip
                    continue
                second = _dot(path, after)
                if second and (after + second == end or path[after + second] in b"/\\"):
                    _back_up(output)
                    index = after + second + (1 if after + second < end else 0)
                    continue
            output += b"."
            index += dot
            continue
        if char == 0x5C:  # backslash
            output += b"/"
        elif char == 0x25:  # "%"
            value = _decode(path, index)
            if value is None:
                last_bad_percent = len(output)
                output += b"%"
            elif value in _UNRESERVED:
                output.append(value)
                index += 2
                if last_bad_percent >= len(output) - 3:
                    _fix_nested_escape(path, index + 1, last_bad_percent, output)
            else:
                output += path[index : index + 3]
                index += 2
                ok = ok and value != 0
        elif char in _ESCAPE:
            output += b"%%%02X" % char
            ok = ok and char != 0
        else:
            output.append(char)
        index += 1
    return bytes(output) if ok else None


def _fix_nested_escape(path: bytes, next_index: int, bad: int, output: bytearray) -> None:
    """Escape a stray ``%`` that an unescaped byte just turned into a valid escape.

    ``%%30`` would otherwise become ``%0`` and, with the next byte, a new escape: as
    Chromium does, the stray ``%`` is written as ``%25`` then.
    """
    length = len(output)
    last = output[-1]
    appended = bad == length - 2
    if appended:
        if next_index >= len(path) or path[next_index] >= 0x80:
            return
        output.append(path[next_index])
    if _decode(bytes(output), bad) is not None:
        if not appended:
            output.append(output[bad + 1])
        output[bad + 1 : bad + 3] = b"25"
        output.append(last)
    elif appended:
        del output[length:]


def merge_slashes(path: bytes) -> bytes:
    """Envoy's ``merge_slashes`` of a path without its query.

    Args:
        path: the path.

    Returns:
        Runs of ``/`` made one, a leading and a trailing ``/`` kept.
    """
    if b"//" not in path:
        return path
    inner = b"/".join(part for part in path.split(b"/") if part)
    return (b"/" if path.startswith(b"/") else b"") + inner + (b"/" if path.endswith(b"/") else b"")


def forwarded_path(target: str) -> str:
    """The ``:path`` Envoy Gateway's Envoy hashes for a request target.

    Args:
        target: the origin-form target as sent (``/a/./b?x=1``); an absolute form
            (``http://h/p``) gives its path.

    Returns:
        The normalized path, followed by the query as sent.

    Raises:
        ConfigError: a request Envoy never forwards: an escaped slash (Envoy answers
            with a redirect), a fragment or an escaped NUL (400), a target not starting
            with ``/``.
    """
    absolute = re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(.*)", target, re.DOTALL)
    if absolute:
        target = absolute.group(1) or "/"
    if "#" in target:
        raise ConfigError(f"request target {target!r}: Envoy answers 400 to a '#' fragment")
    if not target.startswith("/"):
        raise ConfigError(f"request target {target!r} must start with '/'")
    path, mark, query = target.partition("?")
    if _ESCAPED_SLASH.search(path):
        raise ConfigError(
            f"request path {path!r} holds an escaped slash: Envoy Gateway's Envoy answers "
            "it with a redirect to the unescaped path (UNESCAPE_AND_REDIRECT), no pod sees it"
        )
    canonical = canonical_path(path.encode())
    if canonical is None:
        raise ConfigError(f"request path {path!r}: Envoy answers 400 (escaped NUL byte)")
    return merge_slashes(canonical).decode("latin-1") + mark + query
