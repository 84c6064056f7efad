"""Replaying parsed log lines through candidate placements and per-pod caches (pure).

A ``Simulation`` takes chunks of log lines and keeps, per candidate:

* requests per pod, and per hash key (for the hottest keys);
* one page cache per pod with hellogo's rule: a page (host, request target) is fresh
  while its age is below the TTL; MISS and EXPIRED store it, HIT does not refresh it;
  methods other than GET and HEAD bypass; at ``max_entries`` pages the page stored
  longest ago is evicted. Time comes from the log (or ``--rate`` for logs without).

Memory is bounded by the number of distinct pages and keys: each distinct page (host,
request line) is parsed, checked and, for keys that read nothing else, hashed and placed
once (the page memo); a key reading more (the client, a header) has a memo of its own.
Every later line with the same fields costs a dict lookup. The caches hold at most
``max_entries`` pages per pod.

After the last chunk, ``result`` adds the share of keys and of requests that move when
one pod is added (a fresh address after the last) or removed (the last one).
"""

from __future__ import annotations

import gc
import heapq
import math
import random
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ingressbed.accesslog.formats import URLS
from ingressbed.accesslog.records import Extractor, key_needs, parse_time
from ingressbed.accesslog.results import (
    Candidate,
    CandidateResult,
    HotKey,
    PodLoad,
    Result,
    Sampled,
    Settings,
    Skipped,
)
from ingressbed.accesslog.summary import fresh_endpoint, moved_by_picks, show_key
from ingressbed.errors import ConfigError
from ingressbed.placement import Request
from ingressbed.vocabulary import Endpoint

#: How far (seconds) a line's time may lag the latest one seen: nginx workers write
#: their lines out of order by about a second.
TIME_SLACK = 2.0
#: Lines that did not parse shown in the output (all are counted).
SKIPPED_SHOWN = 5
_RR = (-1, -1)
#: The endpoint shown for a hot key whose requests reach more than one pod.
VARIES = "(varies)"
#: A request's endpoint now, with one pod added, and with the last one removed.
Picks = tuple[Endpoint | None, Endpoint | None, Endpoint | None]


class _Picker:
    """A candidate's data plane on the log's endpoints: its upstream now, with one pod
    more and with the last pod removed, and per key the picks of all three.

    ``signatures[key_id]`` holds the three picks of the key's first request; a later
    request with the same key whose picks differ puts the key in ``mixed`` (then the
    key alone does not decide the pod, and moved figures are not given).
    """

    def __init__(
        self, candidate: Candidate, endpoints: tuple[Endpoint, ...], controller_version: str | None
    ) -> None:
        assert candidate.hash_by is not None
        self.balance = candidate.balance(controller_version)
        self.added = fresh_endpoint(endpoints)
        self.upstream = self.balance.upstream(endpoints)
        self.bigger = self.balance.upstream([*endpoints, self.added])
        self.smaller = self.balance.upstream(endpoints[:-1]) if len(endpoints) > 1 else None
        reads = key_needs([candidate.hash_by]) if self.balance.reads_key else {"client"}
        if self.balance.reads_client:
            reads.add("client")
        self.reads = reads
        self.signatures: list[Picks] = []
        self.mixed: set[int] = set()

    def picks(self, request: Request) -> Picks:
        """The endpoint for ``request`` now, with one pod more, and with one pod less."""
        smaller = None if self.smaller is None else self.smaller.pick(request).exact
        return (self.upstream.pick(request).exact, self.bigger.pick(request).exact, smaller)


class Simulation:
    """Feeds log lines through every candidate; ``result`` summarises."""

    def __init__(
        self,
        extractor: Extractor,
        candidates: Sequence[Candidate],
        settings: Settings,
        *,
        sample: int = 0,
        seed: int = 1,
    ) -> None:
        """Prepare rings, keys and empty caches.

        Args:
            extractor: how to read the format's lines.
            candidates: the placements to compare (at least one).
            settings: endpoints, cache TTL and size, rate, controller version.
            sample: how many requests to keep, uniformly at random, for a replay.
            seed: random seed of the sample.

        Raises:
            ConfigError: no candidate, no endpoint, a bad key or flavor, or a format
                without time and no ``rate``.
        """
        if not candidates:
            raise ConfigError("no candidate to analyse")
        self.endpoints = tuple(dict.fromkeys(settings.endpoints))
        if not self.endpoints:
            raise ConfigError("no endpoints: give --endpoints or --pods")
        if extractor.time_group is None and extractor.format_name != URLS and not settings.rate:
            raise ConfigError(
                f"the log format {extractor.format_name} has no $time_local, $time_iso8601 or "
                "$msec: give --rate R to space its requests R per second"
            )
        if settings.rate is not None and settings.rate <= 0:
            raise ConfigError(f"--rate {settings.rate}: must be above 0")
        if settings.cache_entries < 1:
            raise ConfigError(f"--cache-entries {settings.cache_entries}: must be 1 or more")
        self.extractor = extractor
        self.candidates = list(candidates)
        self.settings = settings
        self.rate = settings.rate or 100.0
        index = {e: i for i, e in enumerate(self.endpoints)}
        count = len(self.candidates)
        # Every hashing candidate picks with its data plane's upstreams (``_Picker``).
        self._pickers: list[_Picker | None] = []
        parts: list[set[str] | None] = []
        for c in self.candidates:
            if c.hash_by is None:
                self._pickers.append(None)
                parts.append(None)
                continue
            picker = _Picker(c, self.endpoints, settings.controller_version)
            self._pickers.append(picker)
            parts.append(picker.reads)
            if "client" in picker.reads and "client" not in extractor.groups:
                raise ConfigError(
                    f"--candidate {f'{c.flavor}={c.hash_by}'!r}: {picker.balance.describe()} "
                    "reads the client address, but the log format "
                    f"{extractor.format_name} has none ($remote_addr or "
                    "$http_x_forwarded_for): use a format that logs it"
                )
        self._index = index
        pods = len(self.endpoints)
        self.requests = 0
        self.skipped = 0
        self.examples: list[Skipped] = []
        self.binary_lines = 0
        #: Lines the caller left out before feeding (``upstream-default-backend``'s).
        self.left_out = 0
        self._page_groups = extractor.page_groups()
        self._page_memo: dict[Any, tuple[Any, ...]] = {}
        # The groups a candidate's pick reads: its key's parts, and the client's where the
        # data plane reads the client whatever the key (ip_hash, balance source).
        self._key_groups: list[tuple[int, ...] | None] = [
            None if needs is None else extractor.groups_for(sorted(needs)) for needs in parts
        ]
        self._key_memos: list[dict[Any, tuple[Any, ...]]] = [{} for _ in range(count)]
        # Candidates whose pick reads more than the page's fields keep a memo of their own.
        self._separate: list[tuple[int, tuple[int, ...]]] = [
            (c, groups)
            for c, groups in enumerate(self._key_groups)
            if groups is not None and not set(groups) <= set(self._page_groups)
        ]
        self._single = count == 1 and self.candidates[0].hash_by is not None and not self._separate
        self._all_groups = extractor.all_groups()
        self._now = 0.0
        self._pages: dict[tuple[str, str], int] = {}
        self._key_ids: list[dict[bytes, int]] = [{} for _ in range(count)]
        self._key_counts: list[list[int]] = [[] for _ in range(count)]
        self._counts = [[0] * pods for _ in range(count)]
        self._hits = [[0] * pods for _ in range(count)]
        self._caches: list[list[OrderedDict[int, float]]] = [
            [OrderedDict() for _ in range(pods)] for _ in range(count)
        ]
        self._rr = [0] * count
        self._rr_requests = [0] * count
        self._latest = -math.inf
        self._latest_text = ""
        self._last_text: str | None = None
        self._first_time: float | None = None
        self._sample_size = sample
        self._sample: list[Sampled] = []
        self._rng = random.Random(seed)
        self._next_pick = 0 if sample else -1  # 0-based index of the next request kept
        self._w = 1.0

    # ------------------------------------------------------------------ hot path
    def feed(self, lines: Sequence[str], first_line: int) -> None:
        """Simulate one chunk of lines.

        The cyclic garbage collector is paused meanwhile: the loop allocates many short
        tuples and no cycles, and each collection would walk every memo entry.

        Args:
            lines: consecutive lines of the log.
            first_line: the 1-based line number of ``lines[0]``.

        Raises:
            ConfigError: time going backwards by more than ``TIME_SLACK`` seconds, or a
                time that does not parse.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            if self._single:
                self._feed_one(lines, first_line)
            else:
                self._feed(lines, first_line)
        finally:
            if collecting:
                gc.enable()

    def _feed(self, lines: Sequence[str], first_line: int) -> None:
        match = self.extractor.regex.match
        time_group = self.extractor.time_group
        page_groups = self._page_groups
        page_get = self._page_memo.get
        key_gets = [memo.get for memo in self._key_memos]
        counts, hits, caches = self._counts, self._hits, self._caches
        key_counts, rr, rr_requests = self._key_counts, self._rr, self._rr_requests
        ttl = self.settings.cache_ttl
        max_entries = self.settings.cache_entries
        pods = len(self.endpoints)
        cand = range(len(self.candidates))
        separate = self._separate
        n = self.requests
        now = self._now
        last_text = self._last_text
        rate = self.rate
        next_pick = self._next_pick
        for offset, line in enumerate(lines):
            m = match(line)
            if m is None:
                self._skip(first_line + offset, line, "does not match the log format")
                continue
            page_key = m.group(*page_groups)
            entry = page_get(page_key)
            if entry is None:
                entry = self._page_entry(page_key)
            if entry[0] < 0:
                self._skip(first_line + offset, line, entry[2])
                continue
            picks = entry[2]
            if separate:
                picks = list(picks)
                bad = None
                for c, groups in separate:
                    value = m.group(*groups)
                    pick = key_gets[c](value)
                    if pick is None:
                        pick = self._key_entry(c, groups, value)
                    if pick[0] == -2:
                        bad = pick[2]
                        break
                    picks[c] = pick
                if bad is not None:
                    self._skip(first_line + offset, line, bad)
                    continue
            if time_group is not None:
                text = m.group(time_group)
                if text != last_text:
                    now = self._clock(text, first_line + offset)
                    last_text = text
            else:
                now = n / rate
            if n == next_pick:
                self._take(n, first_line + offset, m)
                next_pick = self._next_pick
            n += 1
            page, cacheable = entry[0], entry[1]
            for c in cand:
                pod, key_id = picks[c]
                if pod < 0:
                    pod = rr[c] % pods
                    rr[c] += 1
                    rr_requests[c] += 1
                else:
                    key_counts[c][key_id] += 1
                counts[c][pod] += 1
                if cacheable:
                    store = caches[c][pod]
                    stored = store.get(page)
                    if stored is not None and now - stored < ttl:
                        hits[c][pod] += 1
                    else:
                        store[page] = now
                        if stored is not None:
                            store.move_to_end(page)
                        elif len(store) > max_entries:
                            store.popitem(last=False)
        self.requests = n
        self._now = now
        self._last_text = last_text

    def _feed_one(self, lines: Sequence[str], first_line: int) -> None:
        # ``_feed`` for one hashing candidate whose pick lives in the page memo, the
        # common case: the same steps without the loop over candidates (about 15% less
        # time per line). tests/test_accesslog_simulate.py checks both give one result.
        match = self.extractor.regex.match
        time_group = self.extractor.time_group
        page_groups = self._page_groups
        page_get = self._page_memo.get
        counts, hits, caches = self._counts[0], self._hits[0], self._caches[0]
        key_counts = self._key_counts[0]
        ttl = self.settings.cache_ttl
        max_entries = self.settings.cache_entries
        n = self.requests
        now = self._now
        last_text = self._last_text
        rate = self.rate
        next_pick = self._next_pick
        for offset, line in enumerate(lines):
            m = match(line)
            if m is None:
                self._skip(first_line + offset, line, "does not match the log format")
                continue
            page_key = m.group(*page_groups)
            entry = page_get(page_key)
            if entry is None:
                entry = self._page_entry(page_key)
            page = entry[0]
            if page < 0:
                self._skip(first_line + offset, line, entry[2])
                continue
            if time_group is not None:
                text = m.group(time_group)
                if text != last_text:
                    now = self._clock(text, first_line + offset)
                    last_text = text
            else:
                now = n / rate
            if n == next_pick:
                self._take(n, first_line + offset, m)
                next_pick = self._next_pick
            n += 1
            pod, key_id = entry[2][0]
            if pod < 0:  # nginx with an empty key
                pod = self._rr[0] % len(counts)
                self._rr[0] += 1
                self._rr_requests[0] += 1
            else:
                key_counts[key_id] += 1
            counts[pod] += 1
            if entry[1]:
                store = caches[pod]
                stored = store.get(page)
                if stored is not None and now - stored < ttl:
                    hits[pod] += 1
                else:
                    store[page] = now
                    if stored is not None:
                        store.move_to_end(page)
                    elif len(store) > max_entries:
                        store.popitem(last=False)
        self.requests = n
        self._now = now
        self._last_text = last_text

    # ----------------------------------------------------------------- slow paths
    def _page_entry(self, page_key: Any) -> tuple[Any, ...]:
        """(page id, cacheable, picks) for one distinct page; (-1, False, reason) to skip.

        ``picks`` holds the pick of every candidate whose key reads only what the page
        is read from (and round robin's marker); the others' are None.
        """
        separate = {c for c, _ in self._separate}
        try:
            record = self.extractor.record(self._page_groups, page_key)
            picks = tuple(
                None if c in separate else self._pick(c, record.request)
                for c in range(len(self.candidates))
            )
        except ConfigError as exc:
            entry: tuple[Any, ...] = (-1, False, str(exc))
        else:
            page = self._pages.setdefault(record.page, len(self._pages))
            entry = (page, record.cacheable, picks)
        self._page_memo[page_key] = entry
        return entry

    def _pick(self, c: int, request: Request) -> tuple[int, int]:
        """(pod index or -1 for round robin, key id) of candidate ``c`` for ``request``.

        Runs once per memo entry (a distinct page, or distinct values of what the pick
        reads), never per line.
        """
        picker = self._pickers[c]
        if picker is None:
            return _RR
        picks = picker.picks(request)
        if picks[0] is None:
            return _RR  # no fixed pick: the data plane balances round robin
        raw = picker.balance.key(request)
        ids = self._key_ids[c]
        key_id = ids.get(raw)
        if key_id is None:
            key_id = ids[raw] = len(ids)
            self._key_counts[c].append(0)
            picker.signatures.append(picks)
        elif picker.signatures[key_id] != picks:
            # Two requests with one key go different ways (e.g. hdr(host) reads the Host
            # as sent, $host is normalised): the key does not fix the pod.
            picker.mixed.add(key_id)
        return self._index[picks[0]], key_id

    def _key_entry(self, c: int, groups: tuple[int, ...], value: Any) -> tuple[Any, ...]:
        """The pick of candidate ``c`` for one distinct key value; (-2, -1, reason) to skip."""
        try:
            entry: tuple[Any, ...] = self._pick(c, self.extractor.record(groups, value).request)
        except ConfigError as exc:
            entry = (-2, -1, str(exc))
        self._key_memos[c][value] = entry
        return entry

    def _clock(self, text: str, line: int) -> float:
        variable = self.extractor.time_variable
        assert variable is not None
        try:
            value = parse_time(variable, text)
        except ValueError as exc:
            raise ConfigError(f"line {line}: ${variable} {text!r} is not a time") from exc
        if self._first_time is None:
            self._first_time = value
        if value < self._latest - TIME_SLACK:
            raise ConfigError(
                f"line {line}: time goes backwards from {self._latest_text} to {text} "
                f"({self._latest - value:.0f} s): the log is not in time order; sort it, or "
                "join rotated files oldest first"
            )
        if value > self._latest:
            self._latest, self._latest_text = value, text
        return self._latest

    def _skip(self, line: int, text: str, reason: str) -> None:
        if not text.strip():
            return  # blank lines are not requests
        if "\x00" in text or text.count("\ufffd") > 2:
            self.binary_lines += 1
            reason = "binary data"
        self.skipped += 1
        if len(self.examples) < SKIPPED_SHOWN:
            shown = text.rstrip("\r\n")
            shown = shown if len(shown) <= 120 else shown[:117] + "..."
            self.examples.append(
                Skipped(line, shown.encode("ascii", "backslashreplace").decode(), reason)
            )

    def _advance_sample(self) -> None:
        # Reservoir sampling, "Algorithm L": the index of the next request to keep.
        size = self._sample_size
        self._w *= math.exp(math.log(self._rng.random() or 1e-300) / size)
        gap = math.floor(math.log(self._rng.random() or 1e-300) / math.log(1 - self._w))
        self._next_pick += gap + 1

    def _take(self, index: int, line: int, m: re.Match[str]) -> None:
        groups = self._all_groups
        try:
            record = self.extractor.record(groups, m.group(*groups))
        except ConfigError:
            self._next_pick = index + 1  # a part only the replay reads is bad: take the next
            return
        if len(self._sample) < self._sample_size:
            self._sample.append(Sampled(line, record))
            if len(self._sample) < self._sample_size:
                self._next_pick = index + 1
                return
        else:
            self._sample[self._rng.randrange(self._sample_size)] = Sampled(line, record)
        self._advance_sample()

    def sample(self) -> list[Sampled]:
        """The requests kept for a replay, in log order."""
        return sorted(self._sample, key=lambda s: s.line)

    # ------------------------------------------------------------------ summary
    def result(self) -> Result:
        """Summarise everything fed so far.

        Returns:
            The result, candidates in the order given.
        """
        total = self.requests
        results = [self._candidate_result(c, total) for c in range(len(self.candidates))]
        seconds = 0.0
        if self._first_time is not None:
            seconds = self._latest - self._first_time
        elif self.extractor.time_group is None:
            seconds = total / self.rate
        return Result(
            requests=total,
            skipped=self.skipped,
            skipped_examples=list(self.examples),
            distinct_pages=len(self._pages),
            seconds=seconds,
            endpoints=[str(e) for e in self.endpoints],
            candidates=results,
            settings={
                "log_format": self.extractor.format_name,
                "cache_ttl": self.settings.cache_ttl,
                "cache_entries": self.settings.cache_entries,
                "default_backend_lines": self.left_out,
            },
        )

    def _candidate_result(self, c: int, total: int) -> CandidateResult:
        candidate = self.candidates[c]
        counts, hits = self._counts[c], self._hits[c]
        mean = total / len(self.endpoints)
        pods = [
            PodLoad(
                endpoint=str(e),
                requests=counts[i],
                share=counts[i] / total if total else 0.0,
                hits=hits[i],
                hit_ratio=hits[i] / counts[i] if counts[i] else None,
            )
            for i, e in enumerate(self.endpoints)
        ]
        hottest: list[HotKey] = []
        moved = None
        distinct = None
        moved_unknown = None
        translation = None
        if candidate.hash_by is not None:
            picker = self._pickers[c]
            assert picker is not None
            keys = list(self._key_ids[c])
            key_counts = self._key_counts[c]
            distinct = len(keys)
            binary = picker.balance.reads_key and candidate.hash_by.strip().lower() in (
                "$binary_remote_addr",
                "${binary_remote_addr}",
            )
            for key_id in heapq.nlargest(
                self.settings.top, range(len(keys)), key=key_counts.__getitem__
            ):
                mixed = key_id in picker.mixed
                endpoint = VARIES if mixed else str(picker.signatures[key_id][0])
                hottest.append(
                    HotKey(
                        key=show_key(keys[key_id], binary_address=binary),
                        requests=key_counts[key_id],
                        share=key_counts[key_id] / total if total else 0.0,
                        endpoint=endpoint,
                    )
                )
            if picker.mixed:
                moved_unknown = (
                    f"{len(picker.mixed):,} keys of {candidate.label} reach more than one pod "
                    f"({picker.balance.describe()} does not hash the key as written): no "
                    "moved figures"
                )
            else:
                moved = moved_by_picks(self.endpoints, picker.added, picker.signatures, key_counts)
            translation = candidate.translation()
        return CandidateResult(
            label=candidate.label,
            flavor=candidate.flavor,
            hash_by=candidate.hash_by,
            pods=pods,
            max_over_mean=max(counts) / mean if mean else 0.0,
            cache_hit_ratio=sum(hits) / total if total else 0.0,
            distinct_keys=distinct,
            hottest=hottest,
            moved=moved,
            round_robin_requests=self._rr_requests[c] if candidate.hash_by is not None else total,
            moved_unknown=moved_unknown,
            translation=translation,
        )
