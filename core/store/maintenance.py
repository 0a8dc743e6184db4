"""Operations on a data folder: check, repair, compact, stats.

All of them work partition by partition, so none needs the whole history in
memory. Repair and compaction hold the write lock only while one partition is
rewritten and swapped in with an atomic rename, so a running kiosk keeps
recording and readers see either the old file or the new one, never a mix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError
from . import segment
from .partitions import leftover_days, list_partitions, today_key
from .store import Store, write_atomic
from .table import TIME, fsync_dir, read_partition

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass
class PartitionReport:
    path: Path
    records: int = 0
    patches: int = 0
    size: int = 0
    damage: list[segment.Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damage


@dataclass
class TableStats:
    name: str
    records: int = 0
    files: int = 0
    bytes: int = 0
    oldest: str | None = None
    newest: str | None = None


def _partitions(store: Store) -> list[tuple[str, Path]]:
    if not store.tables_dir.is_dir():
        return []
    found = []
    for table in sorted(p for p in store.tables_dir.iterdir() if p.is_dir()):
        found += [(table.name, part.path) for part in list_partitions(table)[0]]
    return found


def partition_files(store: Store) -> int:
    return len(_partitions(store))


def inspect(path: Path, legacy: bool = False) -> PartitionReport:
    data = path.read_bytes()
    report = PartitionReport(path, size=len(data))
    for item in segment.scan(path, data, legacy=legacy):
        if isinstance(item, segment.Damage):
            report.damage.append(item)
        elif item[0] == segment.DOCUMENT:
            report.records += 1
        else:
            report.patches += 1
    return report


def check(store: Store, progress: Progress | None = None) -> list[PartitionReport]:
    """Read every partition and report its records and any damage (changes nothing).

    Open the store with ``read_only=True`` to be sure: no migration, no recovery.
    """
    reports = []
    for _, path in _partitions(store):
        reports.append(inspect(path, store.legacy))
        if progress:
            progress(1)
    return reports


def strangers(store: Store) -> list[Path]:
    """Files in the table folders that are not partitions (hand-copied files, say)."""
    if not store.tables_dir.is_dir():
        return []
    found = []
    for table in sorted(p for p in store.tables_dir.iterdir() if p.is_dir()):
        found += list_partitions(table)[1]
    return found


@dataclass
class RepairResult:
    files: int = 0
    kept: int = 0
    damaged_bytes: int = 0
    set_aside: list[Path] = field(default_factory=list)


def repair(store: Store, progress: Progress | None = None) -> RepairResult:
    """Keep every intact line of damaged partitions; move the bad bytes to quarantine."""
    result = RepairResult()
    with _exclusive(store):
        for _, path in _partitions(store):
            if progress:
                progress(1)
            with store.write_lock.hold():
                data = path.read_bytes()
                good: list[bytes] = []
                bad = bytearray()
                kept = 0
                damage = []
                completed = False
                offset = 0
                for item in segment.scan(path, data, legacy=store.legacy):
                    if isinstance(item, segment.Damage):
                        if item.complete:
                            completed = True  # its record was kept just above
                            continue
                        damage.append(item)
                        bad += data[item.offset : item.offset + item.length]
                        offset = item.offset + item.length
                        continue
                    end = data.find(b"\n", offset) + 1
                    if not end:  # a whole record whose newline alone is missing
                        good.append(data[offset:] + b"\n")
                        offset = len(data)
                    else:
                        good.append(data[offset:end])
                        offset = end
                    kept += item[0] == segment.DOCUMENT
                if not damage and not completed:
                    continue
                if damage:
                    details = "; ".join(
                        f"byte {d.offset} ({d.length} bytes): {d.reason}" for d in damage
                    )
                    saved = store.set_aside(path, damage[0].offset, bytes(bad), details)
                    result.set_aside.append(saved)
                    log.warning(
                        "%s: kept %d records, moved %d bytes to %s", path, kept, len(bad), saved
                    )
                else:
                    log.warning("%s: added the newline the last record lacked", path)
                write_atomic(path, b"".join(good))
                result.files += 1
                result.kept += kept
                result.damaged_bytes += len(bad)
    return result


@dataclass
class CompactResult:
    rewritten: int = 0
    merged_months: int = 0
    files_before: int = 0
    files_after: int = 0


def compact(
    store: Store, progress: Progress | None = None, tables: Collection[str] | None = None
) -> CompactResult:
    """Fold patches into their records and merge each closed month's days into one file.

    Damaged partitions are refused (repair them first); nothing is ever dropped
    but what a patch replaced: the text of an erased survey answer is not in the
    rewritten file (see ``core/answers.py``). ``tables`` limits the work to
    those tables (``answers erase --compact`` compacts ``answers`` alone).
    """
    result = CompactResult(files_before=partition_files(store))
    current_month = today_key()[:7]
    with _exclusive(store):
        for table in sorted(p for p in store.tables_dir.iterdir() if p.is_dir()):
            if tables is not None and table.name not in tables:
                continue
            for leftover in leftover_days(table):
                leftover.unlink()  # an interrupted merge: the month file is complete
            parts, _ = list_partitions(table)
            by_month: dict[str, list[Path]] = {}
            for part in parts:
                by_month.setdefault(part.month, []).append(part.path)
            for month, paths in sorted(by_month.items()):
                if progress:
                    progress(len(paths))
                merge = month < current_month and not (len(paths) == 1 and paths[0].stem == month)
                if merge:
                    _rewrite(store, paths, table / f"{month}.log")
                    result.merged_months += 1
                    continue
                for path in paths:
                    if b" P {" in path.read_bytes():
                        _rewrite(store, [path], path)
                        result.rewritten += 1
    result.files_after = partition_files(store)
    return result


def _rewrite(store: Store, sources: list[Path], target: Path) -> None:
    for path in sources:
        report = inspect(path)
        real_damage = [d for d in report.damage if not d.torn_tail]
        if real_damage:
            raise StoreError(f"{real_damage[0]}; run `servicecycle store repair` before compacting")
    with store.write_lock.hold():
        for path in sources:
            store.trim_torn_tail(path)  # set aside, never dropped with the old file
        lines = [
            segment.encode(segment.DOCUMENT, record)
            for path in sources
            for record in read_partition(path)
        ]
        write_atomic(target, b"".join(lines))
        for path in sources:
            if path != target:
                path.unlink()
        fsync_dir(target.parent)


def stats(store: Store, progress: Progress | None = None) -> list[TableStats]:
    """Records, files, bytes, oldest and newest time, per table."""
    found: dict[str, TableStats] = {}
    for table, path in _partitions(store):
        entry = found.setdefault(table, TableStats(table))
        entry.files += 1
        entry.bytes += path.stat().st_size
        for record in read_partition(path):
            entry.records += 1
            at = record.get(TIME)
            if isinstance(at, str):
                entry.oldest = at if entry.oldest is None else min(entry.oldest, at)
                entry.newest = at if entry.newest is None else max(entry.newest, at)
        if progress:
            progress(1)
    return list(found.values())


class _exclusive:
    """One maintenance job (repair, compact) per data folder at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> None:
        if not self.store.maintenance_lock.acquire(exclusive=True, timeout=0):
            raise StoreError(
                f"{self.store.data_dir}: another repair or compaction is running; try again later"
            )

    def __exit__(self, *exc: object) -> None:
        self.store.maintenance_lock.release()


@dataclass
class BackupResult:
    target: Path
    files: int = 0
    bytes: int = 0


def backup(store: Store, target: Path, progress: Progress | None = None) -> BackupResult:
    """Copy the store to ``target`` (a new or empty folder) while it keeps running.

    Each partition is read under the write lock, so the copy holds only
    complete, acknowledged records; the copy opens as a store of its own.
    """
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"backup target {target} is not empty; choose a new folder")
    result = BackupResult(target)
    for table, path in _partitions(store):
        with store.write_lock.hold():
            data = path.read_bytes()
        folder = target / "tables" / table
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / path.name, data)
        result.files += 1
        result.bytes += len(data)
        if progress:
            progress(1)
    target.mkdir(parents=True, exist_ok=True)
    write_atomic(target / "store.json", (store.data_dir / "store.json").read_bytes())
    return result
