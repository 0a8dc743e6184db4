"""Per-partition summaries kept on disk, so a report reads only what changed.

A closed day's partition almost never changes, yet a report over a year would
parse 365 of them every time. Its :class:`~.scan.Summary` (a few hundred
tallies instead of thousands of lines) is therefore kept in::

    <data folder>/cache/reports/<time zone>/ratings/<partition>.json

and reused while the partition file is *exactly* the one it was computed from:
same name, size, modification time (ns) and inode. Every way the store changes
a partition changes one of these: an append or a patch grows the file; repair
and compaction replace it by rename (a new inode); a month merge creates a new
file name. A file modified within the last :data:`SETTLE_SECONDS` is not
cached at all (it is being written, and a same-size rewrite inside one tick of
the file system clock could otherwise go unseen), so today's open partition is
always parsed.

Crash safety: a summary is written to a temporary file and renamed into place,
so a reader sees the old summary or the new one. It is not fsynced: after a
power cut it may be missing, empty or old, and each file therefore carries its
own crc32 and its partition's key; anything that does not verify is simply
recomputed. The cache is disposable: deleting ``cache/`` is always safe.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .scan import Summary

log = logging.getLogger(__name__)

FORMAT = "servicecycle-report-summary"
#: Bump when :class:`Summary` or the scan rules change: older files are then ignored.
VERSION = 2
#: A partition modified more recently than this is read, never cached.
SETTLE_SECONDS = 2.0

Key = tuple[int, int, int]  # size, mtime_ns, inode


def key_of(stat: os.stat_result) -> Key:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def settled(key: Key, now: float | None = None) -> bool:
    """Whether a partition has been left alone long enough to cache its summary."""
    return (now if now is not None else time.time()) - key[1] / 1e9 >= SETTLE_SECONDS


class SummaryCache:
    """The summaries of one table's partitions for one time zone."""

    def __init__(self, data_dir: Path, zone: ZoneInfo, table: str = "ratings") -> None:
        self.zone = zone
        self.folder = data_dir / "cache" / "reports" / _slug(zone.key) / table
        self.writable = True
        self.hits = 0
        self.misses = 0

    def _path(self, partition: str) -> Path:
        return self.folder / f"{partition}.json"

    def get(self, partition: str, key: Key) -> Summary | None:
        """The cached summary of ``partition`` if it was made from this very file, else None."""
        try:
            raw = self._path(partition).read_bytes()
        except OSError:
            self.misses += 1
            return None
        summary = self._decode(raw, partition, key)
        if summary is None:
            self.misses += 1
        else:
            self.hits += 1
        return summary

    def _decode(self, raw: bytes, partition: str, key: Key) -> Summary | None:
        try:
            crc, _, body = raw.rstrip(b"\n").partition(b" ")
            if int(crc, 16) != zlib.crc32(body):
                return None
            data: dict[str, Any] = json.loads(body)
            if (
                data.get("format") != FORMAT
                or data.get("version") != VERSION
                or data.get("zone") != self.zone.key
                or data.get("partition") != partition
                or tuple(data.get("key", ())) != key
            ):
                return None
            return Summary.from_json(data["summary"])
        except (ValueError, KeyError, TypeError):
            log.debug("report cache: unreadable summary for %s; recomputing", partition)
            return None

    def put(self, partition: str, key: Key, summary: Summary) -> None:
        """Store a summary (atomically: a reader sees the old file or the new one)."""
        if not self.writable:
            return
        body = json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "zone": self.zone.key,
                "partition": partition,
                "key": list(key),
                "summary": summary.to_json(),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        target = self._path(partition)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(b"%08x %s\n" % (zlib.crc32(body), body))
            os.replace(tmp, target)
        except OSError as exc:
            self.writable = False  # a read-only data folder: reports still work, uncached
            log.info("report cache disabled: cannot write %s (%s)", target, exc.strerror or exc)
            tmp.unlink(missing_ok=True)

    def prune(self, live: set[str]) -> int:
        """Delete summaries of partitions that no longer exist (merged by compaction)."""
        if not self.writable or not self.folder.is_dir():
            return 0
        removed = 0
        for path in self.folder.iterdir():
            stale = path.suffix == ".json" and path.stem not in live
            leftover = path.name.startswith(".") and path.name.endswith(".tmp")
            if (stale or leftover) and not (leftover and _young(path)):
                try:
                    path.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed


def _young(path: Path) -> bool:
    """A temporary file another report may still be writing."""
    try:
        return time.time() - path.stat().st_mtime < 60
    except OSError:
        return False


def _slug(zone_key: str) -> str:
    """A time zone name as one folder name (``Europe/Istanbul`` → ``Europe~Istanbul``)."""
    return zone_key.replace("/", "~")
