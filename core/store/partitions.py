"""Which file a record lives in: one partition per UTC day, merged per month later.

Records are filed by their ``at`` timestamp (``2026-11-22T07:00:00.000000Z``):
``2026-11-22.log`` while the month is open; compaction merges a closed month's
days into ``2026-11.log``. A month file, once present, takes that month's
records, and any day files of that month are leftovers of an interrupted merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SUFFIX = ".log"
_NAME = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?\.log$")


@dataclass(frozen=True, order=True)
class Partition:
    key: str  # "2026-11-22" (a day) or "2026-11" (a month)
    path: Path

    @property
    def is_month(self) -> bool:
        return len(self.key) == 7

    @property
    def month(self) -> str:
        return self.key[:7]

    def overlaps(self, since: str | None, until: str | None) -> bool:
        """Whether any time in [since, until) (ISO strings in UTC) may fall here."""
        if since is not None and self.key < since[: len(self.key)]:
            return False
        return not (until is not None and self.key > until[: len(self.key)])


def partition_key(at: str) -> str:
    """Day key of a stored timestamp string."""
    if len(at) < 10 or at[4] != "-" or at[7] != "-":
        raise ValueError(f"timestamp {at!r} is not ISO 8601 (YYYY-MM-DD...)")
    return at[:10]


def list_partitions(folder: Path) -> tuple[list[Partition], list[Path]]:
    """The partitions of a table in time order, and files that are not partitions."""
    if not folder.is_dir():
        return [], []
    months: dict[str, Partition] = {}
    days: list[Partition] = []
    strangers: list[Path] = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if not match or not path.is_file():
            if not path.name.startswith("."):  # our temporary files start with a dot
                strangers.append(path)
            continue
        part = Partition(path.name[: -len(SUFFIX)], path)
        if part.is_month:
            months[part.key] = part
        else:
            days.append(part)
    live = list(months.values()) + [d for d in days if d.month not in months]
    return sorted(live), sorted(strangers)


def leftover_days(folder: Path) -> list[Path]:
    """Day files shadowed by a month file: leftovers of an interrupted merge."""
    months = {p.stem for p in folder.glob("????-??.log")}
    return sorted(p for p in folder.glob("????-??-??.log") if p.stem[:7] in months)


def path_for(folder: Path, day_key: str) -> Path:
    """The file a record of ``day_key`` is appended to."""
    month = folder / f"{day_key[:7]}{SUFFIX}"
    return month if month.exists() else folder / f"{day_key}{SUFFIX}"


def today_key() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")
