"""Gather the tallies a report needs: through the store contract, and for the data folder.

:func:`collect` asks the store's :class:`~..store.contract.Tallies`; what
follows is how the data folder answers it (:func:`collect_folder`), one
partition summary at a time.

Each partition gives a :class:`~.scan.Summary` — from the summary cache when
the file is unchanged, else by scanning it. Each of its bins (a local day, or
part of one) lies wholly inside or outside each window the report asks about
(this period, the previous one, the lifecycle's months); when a period edge
falls inside a bin, that partition is scanned again with the edge as a cut, so
figures never count a rating on the wrong side of an edge. Filters (cycle,
site, kiosk, language, suspect) apply to the cells, then the cells are added
into the tallies each part of the report needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..store import Store
from ..store.contract import Tallies
from ..store.partitions import Partition, list_partitions
from .figures import Tally
from .parallel import scan_files
from .scan import Fields, Summary, summarise
from .summary_cache import SummaryCache, key_of, settled

#: Called after each partition with (partitions done, partitions in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Scope:
    """Which ratings count: ``None`` means any. Suspect presses only when asked."""

    cycles: frozenset[str] | None = None
    site: str | None = None
    kiosk: str | None = None
    language: str | None = None
    include_suspect: bool = False
    #: Several sites (a region's); ``site`` narrows further when both are given.
    sites: frozenset[str] | None = None


@dataclass(frozen=True)
class Windows:
    """The spans of time a report reads, as stored UTC texts; all half-open."""

    since: str  # this period
    until: str
    previous_since: str  # the previous period is [previous_since, since)
    history_since: str  # lifecycle months are [history_since, until)

    @property
    def edges(self) -> tuple[str, ...]:
        return tuple(sorted({self.previous_since, self.since, self.until, self.history_since}))

    @property
    def start(self) -> str:
        return min(self.previous_since, self.history_since)


@dataclass
class Sources:
    """Where the figures came from (shown in the report's footer and the benchmark)."""

    partitions: int = 0
    cached: int = 0
    scanned: int = 0
    rescanned: int = 0  # scanned again because a period edge cut one of its days
    records: int = 0


@dataclass
class Rollups:
    """Tallies by what each part of the report groups on.

    Reasons are kept for the moments of this period and the previous one (the
    report card, the reason bars, the comparison); slices, series and months
    show none, and adding them up is most of a warm report's work.
    """

    current: dict[tuple[str, str], Tally] = field(default_factory=dict)  # cycle, moment
    previous: dict[tuple[str, str], Tally] = field(default_factory=dict)
    # (cycle, site or kiosk or language, moment): the moment keeps targets weighable
    by_site: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    by_kiosk: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    by_language: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    daily: dict[tuple[str, str, str], Tally] = field(default_factory=dict)  # day, cycle, moment
    monthly: dict[tuple[str, str], Tally] = field(default_factory=dict)  # month, cycle
    # (cycle, weekday 0 = Monday, local hour): this period, all moments together
    hours: dict[tuple[str, int, int], Tally] = field(default_factory=dict)
    sources: Sources = field(default_factory=Sources)


def _add(table: dict[Any, Any], key: Any, tally: Tally) -> None:
    """Collect ``tally`` under ``key``; :func:`_finish` adds each key's tallies up once."""
    found = table.get(key)
    if found is None:
        table[key] = [tally]
    else:
        found.append(tally)


def _finish(rollups: Rollups) -> None:
    """Add up the collected tallies; only the periods' moments need their reasons."""
    for table, reasons in (
        (rollups.current, True),
        (rollups.previous, True),
        (rollups.by_site, False),
        (rollups.by_kiosk, False),
        (rollups.by_language, False),
        (rollups.daily, False),
        (rollups.monthly, False),
        (rollups.hours, False),
    ):
        for key, tallies in table.items():
            table[key] = Tally.total(tallies, reasons)  # type: ignore[arg-type]


def collect(
    tallies: Tallies,
    zone: ZoneInfo,
    windows: Windows,
    scope: Scope,
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> Rollups:
    """The rollups a report needs, from whatever engine keeps the tallies."""
    return tallies.rollup(zone, windows, scope, use_cache=use_cache, progress=progress, jobs=jobs)


def collect_folder(
    store: Store,
    zone: ZoneInfo,
    windows: Windows,
    scope: Scope,
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> Rollups:
    """The data folder's rollups: every partition the windows touch, its cells added up.

    ``jobs`` caps the processes that scan partitions without a summary (see
    :mod:`.parallel`); None lets it use every core when the work is large.
    """
    cache = SummaryCache(store.data_dir, zone) if use_cache else None
    rollups = Rollups()
    every, summaries, rollups.sources = read_summaries(
        store,
        zone,
        (windows.start, windows.until),
        windows.edges,
        cache=cache,
        progress=progress,
        jobs=jobs,
    )
    for summary in summaries:
        _roll(summary, windows, scope, rollups)
    _finish(rollups)
    if cache is not None:
        cache.prune({p.key for p in every})
    return rollups


def read_summaries(
    store: Store,
    zone: ZoneInfo,
    span: tuple[str | None, str | None],
    edges: tuple[str, ...] = (),
    *,
    cache: SummaryCache | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> tuple[list[Partition], list[Summary], Sources]:
    """The summary of each ratings partition overlapping ``span`` ([since, until), None: open).

    No bin of a summary straddles one of ``edges``. Returns every partition
    listed too (for pruning the cache), and where the summaries came from.
    """
    folder = store.tables_dir / "ratings"
    memo: dict[Any, Fields] = {}
    attempts = 3
    while True:
        sources = Sources()
        every, _ = list_partitions(folder)
        wanted = [p for p in every if p.overlaps(*span)]
        try:
            summaries = _summaries(wanted, zone, edges, cache, memo, sources, progress, jobs)
            return every, summaries, sources
        except FileNotFoundError:
            # Compaction merged a month while we read: list again (the month file is complete).
            attempts -= 1
            if not attempts:
                raise


def _summaries(
    parts: list[Partition],
    zone: ZoneInfo,
    edges: tuple[str, ...],
    cache: SummaryCache | None,
    memo: dict[Any, Fields],
    sources: Sources,
    progress: Progress | None,
    jobs: int | None,
) -> list[Summary]:
    """Each partition's summary: from the cache when unchanged, else scanned (on every core)."""
    sources.partitions = total = len(parts)
    found: list[Summary | None] = []
    missing: list[int] = []
    for part in parts:
        cached = cache.get(part.key, key_of(os.stat(part.path))) if cache is not None else None
        found.append(cached)
        if cached is None:
            missing.append(len(found) - 1)
        else:
            sources.cached += 1
            if progress is not None:
                progress(sources.cached, total)

    def tick() -> None:
        sources.scanned += 1
        if progress is not None:
            progress(sources.cached + sources.scanned, total)

    scanned = scan_files([parts[i].path for i in missing], zone, memo, jobs=jobs, on_done=tick)
    for index, result in zip(missing, scanned, strict=True):
        found[index] = result.summary
        if cache is not None and result.key is not None and settled(result.key):
            cache.put(parts[index].key, result.key, result.summary)
    summaries: list[Summary] = []
    for part, summary in zip(parts, found, strict=True):
        assert summary is not None
        if _straddles(summary, edges):
            summary = summarise(part.path, _read(part.path), zone, edges, memo)
            sources.rescanned += 1
        sources.records += summary.records
        summaries.append(summary)
    return summaries


def _read(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _straddles(summary: Summary, edges: tuple[str, ...]) -> bool:
    """Whether some bin has ratings on both sides of a window edge."""
    return any(b.first < edge <= b.last for b in summary.bins for edge in edges)


def _roll(summary: Summary, windows: Windows, scope: Scope, rollups: Rollups) -> None:
    placed = []
    for b in summary.bins:
        at = b.first  # no bin straddles an edge: its first rating places it
        placed.append(
            (
                windows.since <= at < windows.until,
                windows.previous_since <= at < windows.since,
                windows.history_since <= at < windows.until,
                b.day,
                date.fromisoformat(b.day).weekday(),
            )
        )
    cycles, site, kiosk, language = scope.cycles, scope.site, scope.kiosk, scope.language
    sites = scope.sites

    def wanted(cycle: str, c_site: str, c_kiosk: str, c_language: str, suspect: bool) -> bool:
        return not (
            (suspect and not scope.include_suspect)
            or (cycles is not None and cycle not in cycles)
            or (site is not None and c_site != site)
            or (sites is not None and c_site not in sites)
            or (kiosk is not None and c_kiosk != kiosk)
            or (language is not None and c_language != language)
        )

    for key, tally in summary.cells.items():
        b, cycle, moment, c_site, c_kiosk, c_language, suspect = key
        if not wanted(cycle, c_site, c_kiosk, c_language, suspect):
            continue
        current, previous, history, day, _weekday = placed[b]
        if current:
            _add(rollups.current, (cycle, moment), tally)
            _add(rollups.by_site, (cycle, c_site, moment), tally)
            _add(rollups.by_kiosk, (cycle, c_kiosk, moment), tally)
            _add(rollups.by_language, (cycle, c_language, moment), tally)
            _add(rollups.daily, (day, cycle, moment), tally)
        if previous:
            _add(rollups.previous, (cycle, moment), tally)
        if history:
            _add(rollups.monthly, (day[:7], cycle), tally)
    for key, tally in summary.hours.items():
        b, hour, cycle, c_site, c_kiosk, c_language, suspect = key
        current, _previous, _history, _day, weekday = placed[b]
        if current and wanted(cycle, c_site, c_kiosk, c_language, suspect):
            _add(rollups.hours, (cycle, weekday, hour), tally)
