"""Which sites, kiosks, languages, cycles and moments the stored ratings name.

A filter naming a value no rating has is a typing mistake, not an empty
result. Callers ask only once a filtered result came out empty, so a normal
run never pays for this: it reads every partition's summary (from the summary
cache where the file is unchanged, else by scanning it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..store import Store
from ..store.contract import Tallies
from .collect import Progress, read_summaries
from .summary_cache import SummaryCache


@dataclass
class StoredValues:
    """The distinct values found in the ``ratings`` table, of any time."""

    sites: set[str] = field(default_factory=set)
    kiosks: set[str] = field(default_factory=set)
    languages: set[str] = field(default_factory=set)
    moments: dict[str, set[str]] = field(default_factory=dict)  # cycle → its moments


def stored_values(
    tallies: Tallies,
    zone: ZoneInfo,
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> StoredValues:
    """The values the stored ratings name, from whatever engine keeps the tallies."""
    return tallies.values(zone, use_cache=use_cache, progress=progress, jobs=jobs)


def folder_values(
    store: Store,
    zone: ZoneInfo,
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> StoredValues:
    """Read every ratings partition's summary and collect the values its cells name."""
    cache = SummaryCache(store.data_dir, zone) if use_cache else None
    _, summaries, _ = read_summaries(
        store, zone, (None, None), cache=cache, progress=progress, jobs=jobs
    )
    found = StoredValues()
    for summary in summaries:
        for _, cycle, moment, site, kiosk, language, _ in summary.cells:
            found.sites.add(site)
            found.kiosks.add(kiosk)
            found.languages.add(language)
            found.moments.setdefault(cycle, set()).add(moment)
    return found
