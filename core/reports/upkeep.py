"""Summarise closed partitions ahead of time, so a manager's report never starts cold.

A report takes closed days from the summary cache and scans only what no one
has summarised yet: after a year of history arrives at once (an import, a
migration, a deleted ``cache/``) that is every partition, seconds of work.
:class:`Upkeep` does that work in the background, a little at a time: the
kiosk's alerting worker calls :meth:`Upkeep.step` about once a second. While
closed partitions lack a summary, each step summarises one (newest first: the
days a manager reads most); once none is missing it looks again every few
minutes, so each day is summarised soon after it closes.

A step stays small, because it runs beside a screen that must answer a tap
within 50 ms: one day file (a few milliseconds), at most a few cache checks.
Larger files — months merged by ``store compact`` — are left to that command,
which summarises what it merged (see :func:`summarise_partitions`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from ..store import Store
from ..store.partitions import Partition, list_partitions, today_key
from .parallel import scan_files
from .scan import Fields
from .summary_cache import Key, SummaryCache, key_of, settled

#: Files larger than this are not summarised in the background (a merged month is ~20 MB).
BACKGROUND_MAX_BYTES = 4 * 1024 * 1024
#: Cached summaries checked per step at most (each check reads and verifies one file).
CHECKS_PER_STEP = 8
#: Parsed line remainders kept between steps, at most (a busy site has a few thousand).
MEMO_LIMIT = 50_000
#: Seconds between looks once every closed partition has its summary.
REST_SECONDS = 300.0


def closed(part: Partition, today: str | None = None) -> bool:
    """Whether no new rating is expected in this partition (its UTC day or month is over)."""
    today = today or today_key()
    return part.key < today[: len(part.key)]


class Upkeep:
    """Summarises one closed partition per step, until none lacks a summary.

    Each look lists the partitions once and walks them newest first over the
    following steps; when a walk ends, the next look is :data:`REST_SECONDS`
    later.
    """

    def __init__(
        self,
        store: Store,
        zone: ZoneInfo,
        *,
        max_bytes: int = BACKGROUND_MAX_BYTES,
        rest_seconds: float = REST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = SummaryCache(store.data_dir, zone)
        self.folder = store.tables_dir / "ratings"
        self.zone = zone
        self.max_bytes = max_bytes
        self.rest_seconds = rest_seconds
        self.clock = clock
        self.known: dict[str, Key] = {}  # partitions seen with a summary (or left alone)
        self.memo: dict[Any, Fields] = {}
        self.walk: list[Partition] = []  # still to look at in this walk, oldest first
        self.resting_until = 0.0

    def step(self) -> str | None:
        """Summarise at most one closed partition; its name, or None if none was done."""
        if not self.cache.writable or self.clock() < self.resting_until:
            return None
        if not self.walk:
            today = today_key()
            self.walk = [p for p in list_partitions(self.folder)[0] if closed(p, today)]
        part = self._next_missing()
        if not self.walk:
            self.resting_until = self.clock() + self.rest_seconds
        if part is None:
            return None
        if len(self.memo) > MEMO_LIMIT:
            self.memo.clear()  # a kiosk runs for months: keep what it remembers bounded
        (scanned,) = scan_files([part.path], self.zone, self.memo, jobs=1)
        if scanned.key is not None and settled(scanned.key):
            self.cache.put(part.key, scanned.key, scanned.summary)
            self.known[part.key] = scanned.key
        return part.key

    def _next_missing(self) -> Partition | None:
        """The next partition of the walk without a summary, within this step's checks."""
        checks = 0
        while self.walk and checks < CHECKS_PER_STEP:
            part = self.walk.pop()
            try:
                stat = os.stat(part.path)
            except FileNotFoundError:
                continue  # merged by compaction meanwhile: the month file comes next walk
            key = key_of(stat)
            if self.known.get(part.key) == key or not settled(key):
                continue
            if stat.st_size > self.max_bytes:
                self.known[part.key] = key  # left to `store compact` or the next report
                continue
            checks += 1
            if self.cache.get(part.key, key) is not None:
                self.known[part.key] = key
                continue
            return part
        return None


def summarise_missing(
    store: Store,
    zone: ZoneInfo,
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Summarise now every closed partition that has no summary; how many were written.

    ``store compact`` calls this for the months it merged. Unlike a report it
    does not wait for a file to settle: every file it rewrote was replaced by
    rename (a new inode), so no later change can go unseen.
    """
    cache = SummaryCache(store.data_dir, zone)
    parts, _ = list_partitions(store.tables_dir / "ratings")
    today = today_key()
    missing = []
    for part in parts:
        if closed(part, today):
            try:
                key = key_of(os.stat(part.path))
            except FileNotFoundError:
                continue
            if cache.get(part.key, key) is None:
                missing.append(part)
    scanned_so_far = 0

    def tick() -> None:
        nonlocal scanned_so_far
        scanned_so_far += 1
        if progress is not None:
            progress(scanned_so_far, len(missing))

    results = scan_files([p.path for p in missing], zone, {}, jobs=jobs, on_done=tick)
    done = 0
    for part, scanned in zip(missing, results, strict=True):
        if scanned.key is not None:
            cache.put(part.key, scanned.key, scanned.summary)
            done += 1
    cache.prune({p.key for p in parts})
    return done
