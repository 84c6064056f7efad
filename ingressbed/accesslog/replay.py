"""Replaying a sample of the log through the live bed and comparing it with the model.

The bed (``ingressbed.backends.create``) serves hellogo on one port with
``upstream-hash-by`` set to the candidate's key, and a catch-all ``/`` route next to the
one-port layout's paths, so every logged target is proxied unchanged. Each sampled
request is sent with its client address as ``X-Forwarded-For``, its Host and its
target, one at a time in log order (so each pod's cache sees them in that order).

The prediction for the same sample uses the endpoints the bed reports and the bed's
data-plane flavor: the pod from the ring, the ``X-Cache-Status`` from hellogo's rule.
The replay takes seconds, far less than the cache TTL, so the prediction takes every
stored page as fresh: the first request for a page on a pod is a MISS, later ones
HITs, other methods than GET/HEAD a BYPASS.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ingressbed import planes
from ingressbed.accesslog.records import CACHEABLE_METHODS, NO_HOST
from ingressbed.accesslog.results import Candidate, Sampled
from ingressbed.errors import ConfigError
from ingressbed.options import BedOptions
from ingressbed.placement.variables import host_value
from ingressbed.vocabulary import HTTP_PORT, Endpoint, Observation, Route, Setup

#: Disagreements listed in the text output (all are in the JSON).
SHOWN = 20


@dataclass(frozen=True)
class Disagreement:
    """One replayed request whose answer differs from the prediction."""

    line: int
    client: str
    host: str
    target: str
    predicted_endpoint: str
    predicted_cache: str
    endpoint: str
    cache: str
    error: str = ""

    def text(self) -> str:
        """One line: where it came from, what was predicted, what the bed answered."""
        answered = self.error or f"{self.endpoint} {self.cache}"
        return (
            f"line {self.line}: {self.client or '-'} {self.host} {self.target}: predicted "
            f"{self.predicted_endpoint} {self.predicted_cache}, bed answered {answered}"
        )


@dataclass(frozen=True)
class Report:
    """What the replay found."""

    backend: str
    flavor: str
    hash_by: str
    endpoints: list[str]
    sent: int
    seconds: float
    pods_agree: int
    cache_agree: int
    statuses: dict[str, int]
    disagreements: list[Disagreement]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "backend": self.backend,
            "flavor": self.flavor,
            "hash_by": self.hash_by,
            "endpoints": self.endpoints,
            "sent": self.sent,
            "seconds": self.seconds,
            "pods_agree": self.pods_agree,
            "cache_agree": self.cache_agree,
            "statuses": self.statuses,
            "disagreements": [vars(d) for d in self.disagreements],
        }

    def text(self) -> str:
        """A short report: agreement counts and the first disagreements."""
        lines = [
            f"replay: {self.sent} sampled requests through the {self.backend} bed "
            f"({self.flavor}, hash {self.hash_by!r}, {len(self.endpoints)} pods) "
            f"in {self.seconds:.1f} s",
            f"  pod as predicted:            {self.pods_agree}/{self.sent}",
            f"  X-Cache-Status as predicted: {self.cache_agree}/{self.sent} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
            + ")",
        ]
        if self.disagreements:
            lines.append(f"  {len(self.disagreements)} disagreements; the first:")
            lines += [f"  {d.text()}" for d in self.disagreements[:SHOWN]]
        else:
            lines.append("  no disagreement")
        return "\n".join(lines)


def bed_setup(hash_by: str) -> Setup:
    """The setup a replay applies: one port, any host, every path, hashed by ``hash_by``.

    Args:
        hash_by: the ``upstream-hash-by`` value.

    Returns:
        ``layouts.setup("one-port", ...)`` with a catch-all ``/`` route added.
    """
    from ingressbed import layouts

    setup = layouts.setup("one-port", {"upstream-hash-by": hash_by}, host=None)
    routes = (*setup.ingress.routes, Route("/", HTTP_PORT, None))
    return replace(setup, ingress=replace(setup.ingress, routes=routes))


def predict(
    sample: Sequence[Sampled], flavor: str, endpoints: Sequence[Endpoint], hash_by: str
) -> list[tuple[Endpoint | None, str]]:
    """The model's pod and cache status for each sampled request, in order.

    Args:
        sample: the requests, in log order.
        flavor: the bed's data plane (``nginx``, ``haproxy:pod-ids`` ...): the key is
            translated as that plane translates it (``ingressbed.planes``).
        endpoints: the bed's endpoints for the hellogo port, in its order.
        hash_by: the key.

    Returns:
        ``(endpoint or None for round robin, status)`` per request.

    Raises:
        ConfigError: a key the data plane cannot evaluate or translate.
    """
    upstream = planes.plane(flavor).for_key(hash_by).upstream(endpoints)
    stored: set[tuple[Endpoint, str, str]] = set()
    out: list[tuple[Endpoint | None, str]] = []
    for item in sample:
        record = item.record
        endpoint = upstream.pick(record.request).exact
        host = host_value(record.request.host or NO_HOST).decode()
        if record.method not in CACHEABLE_METHODS:
            status = "BYPASS"
        elif endpoint is None:
            status = "?"
        else:
            page = (endpoint, host, record.request.request_uri)
            status = "HIT" if page in stored else "MISS"
            stored.add(page)
        out.append((endpoint, status))
    return out


def compare(
    sample: Sequence[Sampled],
    predicted: Sequence[tuple[Endpoint | None, str]],
    observed: Sequence[Observation],
) -> tuple[int, int, list[Disagreement]]:
    """Count agreements and list disagreements between prediction and answers.

    Args:
        sample: the requests sent.
        predicted: from ``predict``.
        observed: the bed's answers, in the same order.

    Returns:
        ``(pods agreeing, cache statuses agreeing, disagreements)``.
    """
    pods_agree = cache_agree = 0
    found: list[Disagreement] = []
    for item, (endpoint, status), seen in zip(sample, predicted, observed, strict=True):
        pod_ok = endpoint is not None and seen.pod_ip == endpoint.address
        cache_ok = (seen.cache_status or "") == status
        pods_agree += pod_ok
        cache_agree += cache_ok
        if not (pod_ok and cache_ok) or not seen.ok:
            request = item.record.request
            found.append(
                Disagreement(
                    line=item.line,
                    client=request.client_ip,
                    host=request.host,
                    target=request.request_uri,
                    predicted_endpoint=str(endpoint) if endpoint else "round-robin",
                    predicted_cache=status,
                    endpoint=f"{seen.pod_ip}:{seen.port}" if seen.pod_ip else "-",
                    cache=seen.cache_status or "-",
                    error=seen.error or ("" if seen.ok else f"HTTP {seen.status}"),
                )
            )
    return pods_agree, cache_agree, found


def run(sample: Sequence[Sampled], candidates: Sequence[Candidate], options: BedOptions) -> Report:
    """Bring the bed up, replay ``sample``, compare with the model, and close the bed.

    Args:
        sample: the sampled requests, in log order.
        candidates: the analysed candidates; the first one with a hash key is replayed.
        options: bed options (``--backend`` and the rest of the table).

    Returns:
        The report.

    Raises:
        ConfigError: no hashing candidate or an empty sample.
        BedError: the bed failed (setup, tool).
    """
    from ingressbed import backends
    from ingressbed.clients.http import HttpRequest, probe

    hashing = next((c for c in candidates if c.hash_by is not None), None)
    if hashing is None or hashing.hash_by is None:
        raise ConfigError("--replay needs a candidate with a hash key (round robin is random)")
    if not sample:
        raise ConfigError("--replay: the log has no request to sample")
    hash_by = hashing.hash_by
    bed = backends.create(options)
    try:
        bed.start()
        bed.apply(bed_setup(hash_by))
        endpoints = bed.endpoints(HTTP_PORT)
        flavor = str(bed.data_plane)
        predicted = predict(sample, flavor, endpoints, hash_by)
        requests = [
            HttpRequest(
                path=item.record.request.request_uri,
                host=item.record.request.host or NO_HOST,
                client=item.record.request.client_ip,
                method=item.record.method,
            )
            for item in sample
        ]
        start = time.monotonic()
        observed = probe(bed.address(), requests, concurrency=1)
        seconds = time.monotonic() - start
    except BaseException:
        bed.mark_failed()
        raise
    finally:
        bed.close()
    pods_agree, cache_agree, found = compare(sample, predicted, observed)
    return Report(
        backend=bed.name,
        flavor=flavor,
        hash_by=hash_by,
        endpoints=[str(e) for e in endpoints],
        sent=len(sample),
        seconds=seconds,
        pods_agree=pods_agree,
        cache_agree=cache_agree,
        statuses=dict(Counter(o.cache_status or "-" for o in observed)),
        disagreements=found,
    )
