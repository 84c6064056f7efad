"""Pasted curl commands, split like a POSIX shell would (``shlex``), never run by one.

``parse("curl -sS -H 'Accept: text/plain' http://hellogo.d.xiaomi.net/8080")`` returns a
``CurlCommand``: the URL, method, headers, data and the flags passed on to real curl.
A leading ``$ `` prompt and ``\\`` line continuations are accepted, as copied from a
terminal. Flags that only change what curl prints (``-s``, ``-v``, ``-i``...) are
dropped: the bed reads the answer itself. Anything else is an error naming the flag:
routing flags (``--resolve``, ``-x``), files (``-d @file``, ``-T``), and look-alikes such
as ``-2``, which is curl's ``--sslv2``, not HTTP/2. A cookie file (``-c FILE``, ``-b FILE``)
becomes the step's cookie jar (``cookies: keep``): the bed keeps each client's cookies
itself, so a pasted ``curl -c jar.txt -b jar.txt URL`` acts as the user's did.
"""

from __future__ import annotations

import shlex
from urllib.parse import urlsplit

from ingressbed.scenario.spec import CurlCommand


class CurlArgsError(ValueError):
    """A pasted curl command the bed cannot run; the message names the flag."""


#: Flags taking a value, by every spelling, to their canonical long name.
_WITH_VALUE = {
    "-X": "--request",
    "--request": "--request",
    "-H": "--header",
    "--header": "--header",
    "-d": "--data",
    "--data": "--data",
    "--data-ascii": "--data",
    "--data-binary": "--data",
    "--data-raw": "--data-raw",
    "-A": "--user-agent",
    "--user-agent": "--user-agent",
    "-e": "--referer",
    "--referer": "--referer",
    "-b": "--cookie",
    "--cookie": "--cookie",
    "-c": "--cookie-jar",
    "--cookie-jar": "--cookie-jar",
    "-u": "--user",
    "--user": "--user",
    "--url": "--url",
    "-m": "--max-time",
    "--max-time": "--max-time",
    "--connect-timeout": "--connect-timeout",
    "-o": "--output",
    "--output": "--output",
    "-w": "--write-out",
    "--write-out": "--write-out",
}
#: Value flags the bed handles itself: their value is dropped.
_IGNORED_WITH_VALUE = {"--max-time", "--connect-timeout", "--output", "--write-out"}
#: Value flags passed on to curl as written.
_PASSED_WITH_VALUE = {"--user-agent", "--referer", "--user"}

#: Flags without a value passed on to curl.
_PASSED = {
    "-0": "--http1.0",
    "--http1.0": "--http1.0",
    "--http1.1": "--http1.1",
    "--http2": "--http2",
    "--http2-prior-knowledge": "--http2-prior-knowledge",
    "-k": "--insecure",
    "--insecure": "--insecure",
    "-L": "--location",
    "--location": "--location",
    "--compressed": "--compressed",
    "-I": "--head",
    "--head": "--head",
    "-G": "--get",
    "--get": "--get",
    "--path-as-is": "--path-as-is",
    "-g": "--globoff",
    "--globoff": "--globoff",
}
#: Flags that only change what curl prints: dropped.
_DROPPED = {
    "-s", "--silent", "-S", "--show-error", "-v", "--verbose", "-i", "--include",
    "-f", "--fail", "--fail-with-body", "-N", "--no-buffer", "-#", "--progress-bar",
    "-O", "--remote-name", "--no-progress-meter",
}  # fmt: skip
#: Flags that cannot work on the bed, with the reason.
_REFUSED = {
    "-1": "is curl's --tlsv1, not HTTP/1; write --http1.1",
    "-2": "is curl's --sslv2 (long removed), not HTTP/2; write --http2",
    "-3": "is curl's --sslv3, not HTTP/3; the bed serves HTTP/1.1 and h2c",
    "--http3": "is not served by the bed (HTTP/1.1 and h2c only)",
    "--resolve": "routes the request; the bed sends every host to its own ingress",
    "--connect-to": "routes the request; the bed sends every host to its own ingress",
    "-x": "sends the request through a proxy; the bed talks to its ingress directly",
    "--proxy": "sends the request through a proxy; the bed talks to its ingress directly",
    "--unix-socket": "routes the request; the bed sends every host to its own ingress",
    "-K": "reads a config file; put its options in the command",
    "--config": "reads a config file; put its options in the command",
    "-T": "uploads a file; scenario files carry no files",
    "--upload-file": "uploads a file; scenario files carry no files",
    "-F": "posts a multipart form; use -d",
    "--form": "posts a multipart form; use -d",
    "-D": "writes headers to a file; the bed reads them itself",
    "--dump-header": "writes headers to a file; the bed reads them itself",
}
_SHELL_OPERATORS = {"|", "||", "&&", "&", ";", ">", ">>", "<", "2>&1", "2>"}
_SHORT_WITH_VALUE = {flag[1] for flag in _WITH_VALUE if len(flag) == 2}


def _split(command: str) -> list[str]:
    text = command.strip()
    if text.startswith("$ "):
        text = text[2:]
    text = text.replace("\\\r\n", " ").replace("\\\n", " ")
    try:
        words = shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise CurlArgsError(f"cannot split the command like a shell would: {exc}") from None
    for word in words:
        if word in _SHELL_OPERATORS:
            raise CurlArgsError(f"{word!r}: one curl command per step, no pipes or redirections")
    if not words or words[0].rsplit("/", 1)[-1] != "curl":
        raise CurlArgsError("the command must start with curl")
    return words[1:]


def _expand(words: list[str]) -> list[str]:
    """Split bundled short flags: ``-sSL`` -> ``-s -S -L``, ``-XPOST`` -> ``-X POST``."""
    out: list[str] = []
    rest = False
    for word in words:
        if rest or word == "--" or not word.startswith("-") or word.startswith("--"):
            rest = rest or word == "--"
            out.append(word)
            continue
        for index, char in enumerate(word[1:], start=1):
            out.append(f"-{char}")
            if char in _SHORT_WITH_VALUE and index + 1 < len(word):
                out.append(word[index + 1 :])
                break
    return out


def _url(raw: str, globoff: bool) -> str:
    url = raw if "://" in raw else f"http://{raw}"
    parts = urlsplit(url)
    if parts.scheme == "https":
        raise CurlArgsError(f"{raw!r}: https is not served by the bed (plain HTTP); write http://")
    if parts.scheme != "http":
        raise CurlArgsError(f"{raw!r}: only http:// URLs are supported")
    if not parts.hostname:
        raise CurlArgsError(f"{raw!r} names no host")
    if not globoff and any(c in url for c in "{}[]"):
        raise CurlArgsError(f"{raw!r}: curl would expand {{}} or [] into several URLs; add -g")
    return url


def _header_client(header: str) -> str | None:
    name, sep, value = header.partition(":")
    if sep and name.strip().lower() == "x-forwarded-for" and value.strip():
        return value.split(",")[0].strip()
    return None


def parse(command: str) -> CurlCommand:
    """Parse one pasted curl command.

    An ``X-Forwarded-For`` header becomes the command's client (its leftmost address).

    Raises:
        CurlArgsError: an unknown or unusable flag (named), no URL or several, a bad URL.
    """
    words = _expand(_split(command))
    urls: list[str] = []
    headers: list[str] = []
    cookies: list[str] = []
    jar = False
    options: list[str] = []
    data: list[str] = []
    method: str | None = None
    client = ""
    index = 0
    only_urls = False
    while index < len(words):
        word = words[index]
        index += 1
        if only_urls or not word.startswith("-") or word == "-":
            urls.append(word)
            continue
        if word == "--":
            only_urls = True
            continue
        if word in _REFUSED:
            raise CurlArgsError(f"{word} {_REFUSED[word]}")
        if word in _DROPPED:
            continue
        if word in _PASSED:
            options.append(_PASSED[word])
            continue
        flag = _WITH_VALUE.get(word)
        if flag is None:
            raise CurlArgsError(f"unknown curl option {word!r}: the bed does not know what it does")
        if index >= len(words):
            raise CurlArgsError(f"{word} needs a value")
        arg = words[index]
        index += 1
        if flag == "--request":
            method = arg.upper()
        elif flag == "--header":
            found = _header_client(arg)
            name, sep, value = arg.partition(":")
            if found:
                client = found
            elif sep and name.strip().lower() == "cookie":
                cookies.append(value.strip())
            else:
                headers.append(arg)
        elif flag in ("--data", "--data-raw"):
            if flag == "--data" and arg.startswith("@"):
                raise CurlArgsError(f"{word} {arg}: reads a file; paste the data instead")
            data.append(arg)
        elif flag == "--cookie-jar" or (flag == "--cookie" and "=" not in arg):
            jar = True  # a cookie file: the step keeps a browser's jar per client instead
        elif flag == "--cookie":
            cookies.append(arg)
        elif flag == "--url":
            urls.append(arg)
        elif flag in _PASSED_WITH_VALUE:
            options += [flag, arg]
        else:
            assert flag in _IGNORED_WITH_VALUE  # the bed sets these itself
    if len(urls) != 1:
        raise CurlArgsError("no URL" if not urls else f"{len(urls)} URLs; one per step")
    url = _url(urls[0], "--globoff" in options)
    return CurlCommand(
        url=url,
        method=method,
        headers=tuple(headers),
        data="&".join(data) if data else None,
        options=tuple(options),
        client=client,
        cookies=tuple(cookies),
        jar=jar,
    )
