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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

from ..errors import RatingError, StoreError
from ..rating import Rating, format_time, id_time
from . import maintenance, segment
from .contract import Change, ChangeKind, Cursor, Record, SiteStore
from .locks import FileLock, LockTimeout
from .partitions import list_partitions, path_for
from .ratings import RatingTable
from .store import Store
from .table import LogTable

if TYPE_CHECKING:
    from ..reports.collect import Progress, Rollups, Scope, Windows
    from ..reports.known import StoredValues

log = logging.getLogger(__name__)

#: The tables of the contract's record stores (the names the folder has always used).
ALERTS, ANSWERS, JOURNAL, SILENCES, EVENTS = (
    "alerts",
    "answers",
    "notifications",
    "silences",
    "events",
)
#: The lock that makes an answer's check-and-insert atomic across processes.
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

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        for document in self.table.documents(_since_text(since), _since_text(until)):
            yield dict(document)

    def version(self) -> object:
        """Changes whenever a record is added or a file rewritten: each file's name, size,
        modification time and inode (a repair or compaction replaces files by rename)."""
        found = []
        for partition in list_partitions(self.table.folder)[0]:
            try:
                st = os.stat(partition.path)
            except FileNotFoundError:  # merged away meanwhile: the next look differs anyway
                continue
            found.append((partition.key, st.st_size, st.st_mtime_ns, st.st_ino))
        return tuple(found)


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

    def claim(
        self, record: Mapping[str, Any], then: Callable[[], None] | None = None
    ) -> Record | None:
        rating_id = record.get("id")
        if not isinstance(rating_id, str):
            raise StoreError("answers: an answer needs the string 'id' of the rating it answers")
        with self.held():
            existing = self.find(rating_id)
            if existing is not None:
                return existing
            self.table.insert(record)
            if then is not None:
                then()
            return None

    def erase(self, targets: Mapping[str, datetime], fields: Mapping[str, Any]) -> list[str]:
        """A tombstone (a patch setting ``fields``) after each answer named, under the lock.

        The patch goes to the partition the answer is filed in, one append per
        partition; readers fold it in at once, and ``store compact`` rewrites
        the partition with the answer as patched, so the old text leaves the
        files. Should compaction merge the month meanwhile (the day file the
        patch went to is then shadowed by the month file), the patch is
        appended to the month file too: patching twice changes nothing.
        """
        by_day: dict[str, set[str]] = {}
        for rating_id, at in targets.items():
            by_day.setdefault(format_time(at)[:10], set()).add(rating_id)
        erased: list[str] = []
        if not by_day:
            return erased
        with self.held():
            for day, wanted in sorted(by_day.items()):
                found = [
                    str(document["id"])
                    for document in self.table.documents(day, day + "\uffff")
                    if document.get("id") in wanted and document.get("erased") is None
                ]
                if not found:
                    continue
                lines = b"".join(
                    segment.encode(segment.PATCH, {"id": rating_id, "set": dict(fields)})
                    for rating_id in found
                )
                self._append_where_filed(day, lines)
                erased += found
        return erased

    def compact(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Rewrite the answers' partitions (patches folded in, closed months merged)."""
        total = len(list_partitions(self.table.folder)[0])
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, max(total, done))

        maintenance.compact(self.table.store, advance, tables=(ANSWERS,))
        return True

    def _append_where_filed(self, day: str, lines: bytes) -> None:
        path = path_for(self.table.folder, day)
        self.table.store.append(path, lines)
        now = path_for(self.table.folder, day)
        if now != path:  # merged into its month meanwhile: the month file must have it too
            self.table.store.append(now, lines)

    @contextmanager
    def held(self) -> Iterator[None]:
        """The folder's answers lock; a fresh descriptor excludes this process's threads too."""
        lock = FileLock(self.lock_path)
        try:
            with lock.hold(timeout=_ANSWER_LOCK_WAIT):
                yield
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


def cursor_encoder(
    since: str, positions: Mapping[str, tuple[int, int]], name: str
) -> Callable[[int, int], Cursor]:
    """:func:`encode_cursor` for cursors that differ only in ``name``'s position.

    A feed hands out a cursor with every change; encoding all partitions each
    time cost more than reading the rating. The text around ``name``'s entry is
    made once, so each cursor is one format and one base64 (the same bytes).
    """
    body = {"v": _CURSOR_VERSION, "since": since, "at": {k: list(v) for k, v in positions.items()}}
    body["at"][name] = [0, 0]
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    key = json.dumps(name)
    head, tail = text.split(f"{key}:[0,0]")

    def encode(inode: int, offset: int) -> Cursor:
        raw = f"{head}{key}:[{inode},{offset}]{tail}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    return encode


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
        cursor = cursor_encoder(since, positions, name)
        while start < end and len(found) < limit:
            newline = data.index(b"\n", start)
            line, line_start, start = data[start:newline], offset + start, newline + 1
            positions[name] = (inode, offset + start)
            change = self._change(path, inode, line_start, line, since)
            if change is not None:
                kind, rating = change
                found.append(Change(cursor(inode, offset + start), kind, rating))

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
    """Tallies from the per-partition report summaries (``cache/reports/``).

    The folder keeps no rollup in its logs: a partition's summary is computed
    when it is first read in a time zone, kept while the file is unchanged
    (``reports/summary_cache.py``), and made ahead of time for closed days by
    the kiosk's idle upkeep (``reports/upkeep.py``), so the work left for a
    reader is the partitions that changed since it last looked.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def rollup(
        self,
        zone: ZoneInfo,
        windows: Windows,
        scope: Scope,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> Rollups:
        # Imported here: the reports package is built on the store, not the other way round.
        from ..reports.collect import collect_folder

        return collect_folder(
            self.store, zone, windows, scope, use_cache=use_cache, progress=progress, jobs=jobs
        )

    def values(
        self,
        zone: ZoneInfo,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> StoredValues:
        from ..reports.known import folder_values

        return folder_values(self.store, zone, use_cache=use_cache, progress=progress, jobs=jobs)


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
        self.events = FolderLog(store.table(EVENTS))

    @classmethod
    def open(
        cls, data_dir: Path | str, *, owner: str | None = None, read_only: bool = False
    ) -> FolderStore:
        return cls(Store(data_dir, owner=owner, read_only=read_only))

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    #: Daily tallies are counted in whatever zone a report asks for.
    tally_zone = None

    @property
    def schema(self) -> int:
        return int(self.store.meta["schema"])

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

    def open(self, target: str, *, read_only: bool = False, zone: str = "UTC") -> FolderStore:
        """``zone`` is not needed: the folder counts local days when a report reads them."""
        return FolderStore.open(folder_path(target), read_only=read_only)


def site_store_of(store: Store | SiteStore) -> SiteStore:
    """A site store for ``store``: a data folder opened as :class:`~.store.Store` is wrapped."""
    return FolderStore(store) if isinstance(store, Store) else store
