"""Engine 1, the data folder, behind the store contract (:mod:`.contract`).

An adapter over :class:`~.store.Store`: the on-disk format, the locks and
every guarantee (fsync per append, crash recovery, quarantine, migration)
are the folder's own, unchanged. What this module adds is the contract's
shape: the change feed as an opaque, resumable cursor over the ratings
partitions (the same inode-and-offset tailing as ``rules/follow.py``), the
tallies read from the per-partition report summaries, and one small object
per table.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

from ..errors import RatingError, StoreError
from ..rating import Rating, format_time, id_time
from . import segment
from .contract import Change, ChangeKind, Cursor, DayTally, Record
from .locks import FileLock, LockTimeout
from .ratings import RatingTable
from .store import Store
from .table import LogTable

log = logging.getLogger(__name__)

#: The tables of the contract's record stores (the names the folder has always used).
ALERTS, ANSWERS, JOURNAL, SILENCES = "alerts", "answers", "notifications", "silences"
#: Same lock file as ``core.answers.answer_lock``: both exclude each other.
ANSWERS_LOCK = "answers.lock"
_ANSWER_LOCK_WAIT = 10.0
#: An answer is given after its rating, but the survey server's clock may differ a little.
_CLOCK_SKEW = timedelta(days=1)
_CURSOR_VERSION = 1


def _since_text(since: datetime | None) -> str | None:
    return format_time(since) if since is not None else None


class FolderLog:
    """One append-only table as the contract's record store (alerts, journal)."""

    def __init__(self, table: LogTable) -> None:
        self.table = table

    def append(self, record: Mapping[str, Any]) -> None:
        self.table.insert(record)

    def records(self, since: datetime | None = None) -> Iterator[Record]:
        for document in self.table.documents(_since_text(since)):
            yield dict(document)


class FolderSilences(FolderLog):
    """Silences: ending one early appends a patch to its partition."""

    def patch(self, record_id: str, fields: Mapping[str, Any]) -> bool:
        for document in self.table.documents():
            if document.get("id") == record_id:
                self.table.patch(record_id, document["at"], fields)
                return True
        return False


class FolderAnswers(FolderLog):
    """Survey answers; one per rating, held by the folder's answers lock."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.table(ANSWERS))
        self.lock_path = store.data_dir / "locks" / ANSWERS_LOCK

    def find(self, rating_id: str) -> Record | None:
        at = id_time(rating_id)
        since = format_time(at - _CLOCK_SKEW) if at is not None else None
        for document in self.table.documents(since):
            if document.get("id") == rating_id:
                return dict(document)
        return None

    def claim(self, record: Mapping[str, Any]) -> Record | None:
        rating_id = record.get("id")
        if not isinstance(rating_id, str):
            raise StoreError("answers: an answer needs the string 'id' of the rating it answers")
        lock = FileLock(self.lock_path)  # a fresh descriptor: excludes this process's threads too
        try:
            with lock.hold(timeout=_ANSWER_LOCK_WAIT):
                existing = self.find(rating_id)
                if existing is not None:
                    return existing
                self.table.insert(record)
                return None
        except LockTimeout:
            raise StoreError(
                f"{self.lock_path.parent.parent}: the answers lock stayed busy for "
                f"{_ANSWER_LOCK_WAIT:.0f} s; nothing was stored, try again"
            ) from None
        finally:
            lock.close()


# -- the change feed -----------------------------------------------------------------


def encode_cursor(since: str, positions: Mapping[str, tuple[int, int]]) -> Cursor:
    """``{partition file: (inode, byte offset)}`` and the start time, as printable text."""
    body = {"v": _CURSOR_VERSION, "since": since, "at": {k: list(v) for k, v in positions.items()}}
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: Cursor) -> tuple[str, dict[str, tuple[int, int]]]:
    """The start time and positions of a cursor; StoreError if this engine did not make it."""
    problem = f"{cursor[:40]!r} is not a change-feed cursor of a data folder"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
    except (ValueError, binascii.Error, TypeError):
        raise StoreError(problem) from None
    if not isinstance(body, dict) or body.get("v") != _CURSOR_VERSION:
        raise StoreError(problem)
    since, at = body.get("since"), body.get("at")
    if not isinstance(since, str) or not isinstance(at, dict):
        raise StoreError(problem)
    positions: dict[str, tuple[int, int]] = {}
    for name, value in at.items():
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)
        ):
            raise StoreError(problem)
        positions[name] = (value[0], value[1])
    return since, positions


class FolderChangeFeed:
    """The ratings partitions, tailed by inode and byte offset, as a resumable feed.

    A cursor holds, per partition file, its inode and the offset just after
    the last line read. A file with another inode than the cursor's (rewritten
    by repair or compaction) or a file the cursor does not know (a new day, or
    a month merged by compaction) is read from its start, so its ratings come
    again: at-least-once, never lost. Only complete lines are read; a damaged
    line is logged once and passed over (``store check`` reports it).
    ``changes`` depends only on its cursor and the files, not on earlier calls.
    """

    def __init__(self, store: Store, remember: int = 50_000) -> None:
        self.store = store
        self.folder = store.tables_dir / "ratings"
        #: Records read lately, patches applied: an amend needs its rating (a cache only).
        self._recent: OrderedDict[str, Record] = OrderedDict()
        self._remember = remember
        self._reported: set[tuple[str, int, int]] = set()

    def start(self, since: datetime | None = None) -> Cursor:
        return encode_cursor(_since_text(since) or "", {})

    def changes(self, after: Cursor | None = None, limit: int = 1000) -> list[Change]:
        if limit < 1:
            raise StoreError(f"changes(limit={limit}): ask for at least one change")
        since, known = decode_cursor(after if after is not None else self.start())
        found: list[Change] = []
        if not self.folder.is_dir():
            return found
        names = sorted(
            n for n in os.listdir(self.folder) if n.endswith(".log") and not n.startswith(".")
        )
        positions = {name: known[name] for name in names if name in known}  # vanished: dropped
        for name in names:
            if since and name[:-4] < since[: len(name) - 4]:
                continue  # a partition wholly before the start
            path = self.folder / name
            try:
                with open(path, "rb") as handle:
                    stat = os.fstat(handle.fileno())
                    inode, offset = positions.get(name, (stat.st_ino, 0))
                    if inode != stat.st_ino or offset > stat.st_size:
                        inode, offset = stat.st_ino, 0  # rewritten: read again from the start
                    handle.seek(offset)
                    data = handle.read()
            except FileNotFoundError:  # merged away meanwhile: the month file has its records
                positions.pop(name, None)
                continue
            positions[name] = (inode, offset)
            self._read(path, name, inode, offset, data, since, positions, found, limit)
            if len(found) >= limit:
                break
        return found

    def _read(
        self,
        path: Path,
        name: str,
        inode: int,
        offset: int,
        data: bytes,
        since: str,
        positions: dict[str, tuple[int, int]],
        found: list[Change],
        limit: int,
    ) -> None:
        """Append the changes of ``data`` (read at ``offset``) to ``found``, up to ``limit``."""
        end = data.rfind(b"\n") + 1  # only complete lines
        start = 0
        while start < end and len(found) < limit:
            newline = data.index(b"\n", start)
            line, line_start, start = data[start:newline], offset + start, newline + 1
            positions[name] = (inode, offset + start)
            change = self._change(path, inode, line_start, line, since)
            if change is not None:
                kind, rating = change
                found.append(Change(encode_cursor(since, positions), kind, rating))

    def _change(
        self, path: Path, inode: int, at: int, line: bytes, since: str
    ) -> tuple[ChangeKind, Rating] | None:
        try:
            kind, payload = segment.decode(line, legacy=self.store.legacy)
        except ValueError as exc:
            self._report(path, inode, at, f"{path}: byte {at}: {exc}")
            return None
        rating_id = payload["id"]
        if kind == segment.PATCH:
            record = self._recent.get(rating_id) or self._lookup(rating_id)
            if record is None or not payload["set"]:
                return None
            record = {**record, **payload["set"]}
            change: ChangeKind = "amend"
        else:
            record, change = payload, "new"
        self._keep(rating_id, record)
        if record.get("at", "") < since:
            return None
        try:
            return change, Rating.from_record(record)
        except (RatingError, KeyError, TypeError, ValueError) as exc:
            self._report(path, inode, at, f"{path}: record {rating_id!r} is not a rating ({exc})")
            return None

    def _lookup(self, rating_id: str) -> Record | None:
        """A patched rating read before this feed's first line (a resumed feed)."""
        at = id_time(rating_id)
        table = self.store.ratings.table
        document = table.get(key=rating_id, at=format_time(at) if at else None)
        return dict(document) if document is not None else None

    def _keep(self, rating_id: str, record: Record) -> None:
        self._recent[rating_id] = record
        self._recent.move_to_end(rating_id)
        if len(self._recent) > self._remember:
            self._recent.popitem(last=False)

    def _report(self, path: Path, inode: int, at: int, problem: str) -> None:
        """Log a damaged line once per feed, not at every call; the feed goes on without it."""
        where = (str(path), inode, at)
        if where not in self._reported:
            self._reported.add(where)
            log.error("skipped by the change feed: %s; run `servicecycle store check`", problem)


# -- tallies -------------------------------------------------------------------------


class FolderTallies:
    """Per-day tallies from the per-partition report summaries (``cache/reports/``).

    The folder keeps no rollup of its own: a summary is computed when a
    partition is first read in a time zone and reused while the file is
    unchanged (see ``reports/summary_cache.py``), so the work left for a
    reader is the partitions that changed since it last looked.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def days(
        self,
        zone: ZoneInfo,
        since: date,
        until: date,
        *,
        site: str | None = None,
        kiosk: str | None = None,
        cycle: str | None = None,
        moment: str | None = None,
    ) -> list[DayTally]:
        # Imported here: the reports package is built on the store, not the other way round.
        from ..cycle import SCALES
        from ..reports.collect import read_summaries
        from ..reports.figures import Tally, slot
        from ..reports.period import local_midnight
        from ..reports.summary_cache import SummaryCache

        if until <= since:
            return []
        span = (format_time(local_midnight(since, zone)), format_time(local_midnight(until, zone)))
        cache = SummaryCache(self.store.data_dir, zone)
        every, summaries, _ = read_summaries(self.store, zone, span, cache=cache)
        cache.prune({p.key for p in every})
        first, last = since.isoformat(), until.isoformat()
        cells: dict[tuple[Any, ...], list[Tally]] = {}
        for summary in summaries:
            for (index, *cell), tally in summary.cells.items():
                day = summary.bins[index].day
                c_cycle, c_moment, c_site, c_kiosk = cell[:4]
                if not first <= day < last or (
                    (site is not None and c_site != site)
                    or (kiosk is not None and c_kiosk != kiosk)
                    or (cycle is not None and c_cycle != cycle)
                    or (moment is not None and c_moment != moment)
                ):
                    continue
                cells.setdefault((day, *cell), []).append(tally)
        scores = [(scale, score) for scale in SCALES for score in range(1, scale + 1)]
        assert [slot(a, b) for a, b in scores] == list(range(len(scores)))
        out = []
        for (day, c_cycle, c_moment, c_site, c_kiosk, language, suspect), tallies in sorted(
            cells.items()
        ):
            total = Tally.total(tallies)
            out.append(
                DayTally(
                    day=date.fromisoformat(day),
                    site=c_site,
                    kiosk=c_kiosk,
                    cycle=c_cycle,
                    moment=c_moment,
                    language=language,
                    suspect=suspect,
                    scores=tuple(
                        (scale, score, n)
                        for (scale, score), n in zip(scores, total.counts, strict=True)
                        if n
                    ),
                    reasons=tuple(sorted(total.reasons.items())),
                )
            )
        return out


# -- the site store ------------------------------------------------------------------


class FolderStore:
    """A data folder as a :class:`~.contract.SiteStore`."""

    engine = "folder"

    def __init__(self, store: Store) -> None:
        #: The folder itself, for the maintenance commands (check, repair, compact, backup).
        self.store = store
        self.ratings: RatingTable = store.ratings
        self.changes = FolderChangeFeed(store)
        self.tallies = FolderTallies(store)
        self.alerts = FolderLog(store.table(ALERTS))
        self.answers = FolderAnswers(store)
        self.journal = FolderLog(store.table(JOURNAL))
        self.silences = FolderSilences(store.table(SILENCES))

    @classmethod
    def open(
        cls, data_dir: Path | str, *, owner: str | None = None, read_only: bool = False
    ) -> FolderStore:
        return cls(Store(data_dir, owner=owner, read_only=read_only))

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> FolderStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def folder_path(target: str | Path) -> Path:
    """The folder a path or a ``file:`` URL names (``file:///var/lib/x``, ``file:data``)."""
    if isinstance(target, Path):
        return target
    if not target.lower().startswith("file:"):
        return Path(target)
    url = urlparse(target)
    if url.netloc not in ("", "localhost"):
        raise StoreError(
            f"{target}: a file: URL names a folder on this machine (file:///path), "
            f"not on host {url.netloc!r}"
        )
    path = unquote(url.path)
    if not path:
        raise StoreError(
            f"{target}: the file: URL names no folder (e.g. file:///var/lib/servicecycle)"
        )
    return Path(path)


class FolderEngine:
    """The data-folder engine, as registered under ``servicecycle.stores``."""

    name = "folder"

    def open(self, target: str, *, read_only: bool = False) -> FolderStore:
        return FolderStore.open(folder_path(target), read_only=read_only)
