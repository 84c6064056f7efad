"""What an ingress-nginx log says the controller did: backends, pods and periods (pure).

Each ``upstreaminfo`` line names the backend (``[$proxy_upstream_name]``, e.g.
``default-hellogo-8080``) and the peers nginx tried (``$upstream_addr``). nginx writes
one address per attempt: ``a, b`` when a second server of the same upstream was tried
(``proxy_next_upstream``), ``a : b`` when an internal redirect sent the request on to
another upstream (``X-Accel-Redirect``, ``error_page``). The balancer's pick is the
first address of the list; what follows is retries and redirects, not placement.

``Seen`` collects, in one pass, the lines per backend and, for the selected backend, each
pod's first and last request. ``periods`` then splits the selected backend's requests
where a pod appears or vanishes, each period with its own endpoint list.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ingressbed.errors import ConfigError
from ingressbed.vocabulary import Endpoint

#: The backend ingress-nginx sends requests no Ingress rule matches to.
DEFAULT_BACKEND = "upstream-default-backend"
#: How ``$proxy_upstream_name`` reads on a line the controller served itself.
NO_BACKEND = ("", "-")
#: A pod counts as appearing (vanishing) mid-log when, with an even share, it would have
#: been seen before (after) with at most this probability: fewer requests are chance.
CHANCE = 1e-6


def first_attempt(upstream_addr: str) -> str | None:
    """The first peer nginx tried, as logged in ``$upstream_addr``.

    Args:
        upstream_addr: the logged value: ``a``, ``a, b`` (retries) or ``a : b``
            (internal redirects), possibly mixed (``a, b : c``).

    Returns:
        The first address, or None when no peer was tried (``-``, empty).
    """
    first = upstream_addr.split(",", 1)[0].split(" : ", 1)[0].strip()
    return None if first in NO_BACKEND else first


def endpoint_order(endpoint: Endpoint) -> tuple[Any, ...]:
    """The order the bed lists pods the log saw in: by address (numerically), then port.

    Args:
        endpoint: a pod address and port.

    Returns:
        A sort key.
    """
    try:
        address = ipaddress.ip_address(endpoint.address)
        return (0, address.version, int(address), endpoint.port)
    except ValueError:  # a unix socket or a name: after the addresses
        return (1, 0, endpoint.address, endpoint.port)


class Selector:
    """Which ``$proxy_upstream_name`` values a ``--upstream`` pattern keeps.

    ``upstream-default-backend`` is kept only when the pattern names it exactly (or
    matches only it): a glob such as ``*`` means the services, not the 404s.
    """

    def __init__(self, pattern: str) -> None:
        """Args:
        pattern: a backend name or an ``fnmatch`` glob (``default-hellogo-*``).

        Raises:
            ConfigError: an empty pattern.
        """
        if not pattern.strip():
            raise ConfigError("--upstream is empty: give a backend name such as default-web-80")
        self.pattern = pattern.strip()
        self._memo: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        """Whether the backend ``name`` is selected."""
        kept = self._memo.get(name)
        if kept is None:
            if name in NO_BACKEND:
                kept = False
            elif name == DEFAULT_BACKEND:
                kept = self.pattern == DEFAULT_BACKEND
            else:
                kept = fnmatch.fnmatchcase(name, self.pattern)
            self._memo[name] = kept
        return kept


@dataclass
class Pod:
    """One endpoint of the selected backend, as the log saw it."""

    endpoint: Endpoint
    requests: int = 0
    first: int = 0  # ordinal among the backend's requests (0-based)
    last: int = 0
    first_line: int = 0
    last_line: int = 0
    first_time: str = ""
    last_time: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "endpoint": str(self.endpoint),
            "requests": self.requests,
            "first_line": self.first_line,
            "last_line": self.last_line,
            "first_seen": self.first_time or None,
            "last_seen": self.last_time or None,
        }


@dataclass
class Seen:
    """Lines per backend, and the pods of the selected backend (one pass over the log)."""

    selector: Selector
    backends: Counter[str] = field(default_factory=Counter)
    pods: dict[str, Pod] = field(default_factory=dict)
    requests: int = 0  # selected lines with a first attempt
    unplaced: int = 0  # selected lines without one (nginx answered itself)
    unknown_addresses: Counter[str] = field(default_factory=Counter)

    def add(self, backend: str, upstream_addr: str, line: int, time: str = "") -> None:
        """Count one parsed line.

        Args:
            backend: its ``$proxy_upstream_name``.
            upstream_addr: its ``$upstream_addr``.
            line: its 1-based line number.
            time: its logged time, shown as first/last seen (may be empty).
        """
        self.backends[backend] += 1
        if not self.selector(backend):
            return
        address = first_attempt(upstream_addr)
        if address is None:
            self.unplaced += 1
            return
        pod = self.pods.get(address)
        if pod is None:
            try:
                endpoint = Endpoint.parse(address)
            except ValueError:
                self.unknown_addresses[address] += 1
                self.unplaced += 1
                return
            pod = self.pods[address] = Pod(endpoint, first=self.requests, first_line=line,
                                           first_time=time)  # fmt: skip
        pod.requests += 1
        pod.last, pod.last_line, pod.last_time = self.requests, line, time
        self.requests += 1

    def check(self) -> None:
        """Refuse a selection that matched nothing, in one line naming the backends seen.

        Raises:
            ConfigError: no line of the selected backend, a pattern matching several, or
                no line that reached a pod.
        """
        named = [(n, c) for n, c in self.backends.most_common() if n not in NO_BACKEND]
        if not named:
            raise ConfigError(
                "the log has no $proxy_upstream_name value (every line has '-'): --upstream "
                "needs a log in ingress-nginx's upstreaminfo format or one that logs it"
            )
        if not any(self.selector(n) for n, _ in named):
            shown = ", ".join(f"{n} ({c:,})" for n, c in named[:8])
            more = f" and {len(named) - 8} more" if len(named) > 8 else ""
            raise ConfigError(
                f"--upstream {self.selector.pattern}: no line has that backend; the log's "
                f"backends are {shown}{more}"
            )
        chosen = [n for n, _ in named if self.selector(n)]
        if len(chosen) > 1:
            shown = ", ".join(chosen[:8]) + (
                f" and {len(chosen) - 8} more" if len(chosen) > 8 else ""
            )
            raise ConfigError(
                f"--upstream {self.selector.pattern} matches {len(chosen)} backends ({shown}): "
                "give one; each has its own pods and key"
            )
        if not self.pods:
            raise ConfigError(
                f"--upstream {self.selector.pattern}: none of its lines reached a pod "
                "($upstream_addr is '-' on every one); give --endpoints to analyse them"
            )

    def sorted_pods(self) -> list[Pod]:
        """The pods in the bed's order (``endpoint_order``)."""
        return sorted(self.pods.values(), key=lambda p: endpoint_order(p.endpoint))


@dataclass(frozen=True)
class Period:
    """A stretch of the selected backend's requests with one endpoint list."""

    start: int  # ordinal of its first request
    end: int  # ordinal after its last request
    endpoints: tuple[Endpoint, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "requests": self.end - self.start,
            "endpoints": [str(e) for e in self.endpoints],
        }


def chance_gap(pods: int) -> int:
    """Requests after which a pod with an even share is seen but with ``CHANCE``.

    Args:
        pods: how many pods share the requests.

    Returns:
        The least gap (in requests) that counts as a real appearance or disappearance.
    """
    if pods <= 1:
        return 1
    return math.ceil(math.log(CHANCE) / math.log(1 - 1 / pods))


def periods(seen: Seen) -> list[Period]:
    """Split the selected backend's requests where a pod appears or vanishes.

    A pod appears at its first request when at least ``chance_gap`` requests came
    before it, and vanishes after its last when at least that many came after; nearer
    the ends of the log, it counts as there from the start (to the end): a pod with a
    small share is first seen late by chance, not by a scale-up.

    Args:
        seen: the pass over the log.

    Returns:
        Periods in log order, each with its endpoints in the bed's order.
    """
    pods = seen.sorted_pods()
    total = seen.requests
    gap = chance_gap(len(pods))
    spans: list[tuple[Pod, int, int]] = []
    for pod in pods:
        start = pod.first if pod.first >= gap else 0
        end = pod.last + 1 if total - (pod.last + 1) >= gap else total
        spans.append((pod, start, end))
    cuts = sorted({0, total, *(s for _, s, _ in spans), *(e for _, _, e in spans)})
    out: list[Period] = []
    for start, end in itertools.pairwise(cuts):
        inside = tuple(p.endpoint for p, s, e in spans if s <= start and end <= e)
        if out and out[-1].endpoints == inside:
            out[-1] = Period(out[-1].start, end, inside)
        else:
            out.append(Period(start, end, inside))
    return out


class DefaultBackendLines:
    """Leaves ``upstream-default-backend`` lines out of a log analysed without ``--upstream``.

    Only lines holding the name are matched (a substring search first), so a log without
    404s of the default backend costs one search per line.
    """

    def __init__(self, backend: re.Pattern[str], group: int) -> None:
        """Args:
        backend: the format's regex (``formats.compile_format``) capturing the backend.
        group: the group of ``$proxy_upstream_name``.
        """
        self._match = backend.match
        self._group = group
        self.left_out = 0

    def runs(self, lines: list[str], first_line: int) -> list[tuple[int, list[str]]]:
        """The chunk without the default backend's lines, as runs of consecutive lines.

        Args:
            lines: consecutive lines of the log.
            first_line: the 1-based number of ``lines[0]``.

        Returns:
            ``(number of the run's first line, its lines)`` in order.
        """
        if not any(DEFAULT_BACKEND in line for line in lines):
            return [(first_line, lines)]
        out: list[tuple[int, list[str]]] = []
        start = 0
        for offset, line in enumerate(lines):
            if DEFAULT_BACKEND not in line:
                continue
            m = self._match(line)
            if m is None or m.group(self._group) != DEFAULT_BACKEND:
                continue
            self.left_out += 1
            if offset > start:
                out.append((first_line + start, lines[start:offset]))
            start = offset + 1
        if start < len(lines):
            out.append((first_line + start, lines[start:]))
        return out
