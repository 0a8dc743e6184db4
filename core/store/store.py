"""The data folder: layout, schema version, locks and the durable append.

Layout (schema 3)::

    store.json                 format marker and schema version
    tables/<table>/<day>.log   one partition log per UTC day (or merged month)
    locks/write.lock           serialises appends across processes (held for one append)
    locks/maintenance.lock     one repair or compaction at a time
    locks/owner.lock           held for life by the one kiosk that owns the folder
    quarantine/                bytes set aside by recovery and repair, for inspection
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from ..errors import StoreError
from .locks import FileLock, LockTimeout
from .partitions import list_partitions
from .table import LogTable, fsync_dir

log = logging.getLogger(__name__)

FORMAT = "servicecycle-store"
#: 3: each line's checksum covers its kind too (2 covered the payload only).
SCHEMA = 3
META = "store.json"
#: The schema-1 layout: one TinyDB JSON file holding every rating.
V1_FILE = "ratings.json"


class StoreBusy(StoreError):
    """Another process owns the data folder (a second kiosk, say)."""


class _LogStorage(Storage):
    """TinyDB's storage slot: knows the store; whole-database reads/writes are not used."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def read(self) -> dict[str, dict[str, Any]]:
        folder = self.store.tables_dir
        return {p.name: {} for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else {}

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        raise StoreError("the store never rewrites whole tables")


class _TinyDB(TinyDB):
    table_class = LogTable


class Store:
    """One data folder. Open as many readers and writers as you like; one owner.

    ``owner`` (e.g. ``"kiosk lobby-1"``) takes the folder's owner lock for the
    life of this object, so a second kiosk on the same folder is refused.
    """

    def __init__(
        self, data_dir: Path | str, *, owner: str | None = None, read_only: bool = False
    ) -> None:
        self.data_dir = Path(data_dir)
        #: Opened only to look (``store check``): no migration, no recovery, no writes.
        self.read_only = read_only
        self.tables_dir = self.data_dir / "tables"
        self.quarantine_dir = self.data_dir / "quarantine"
        locks = self.data_dir / "locks"
        if read_only and owner is not None:
            raise StoreError("a store opened read-only cannot have an owner")
        if not read_only:
            try:
                locks.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create data folder {self.data_dir}: {exc.strerror}"
                ) from exc
        self.write_lock = FileLock(locks / "write.lock")
        self.maintenance_lock = FileLock(locks / "maintenance.lock")
        self.owner_lock: FileLock | None = None
        if owner is not None:
            self._take_ownership(locks / "owner.lock", owner)
        try:
            self._open_layout()
            if owner is not None:
                self.recover()
                self.verify_recent()
        except BaseException:
            self.close()
            raise
        self._db = _TinyDB(storage=lambda: _LogStorage(self))
        from .ratings import RatingTable

        self.ratings = RatingTable(self.table("ratings"))

    # -- opening -------------------------------------------------------------

    def _take_ownership(self, path: Path, owner: str) -> None:
        lock = FileLock(path)
        if not lock.acquire(exclusive=True, timeout=0):
            held = lock.read_owner()
            lock.close()
            who = held.get("owner", "another process")
            raise StoreBusy(
                f"data folder {self.data_dir} is already in use by {who} (pid {held.get('pid', '?')} "
                f"on {held.get('host', '?')}, since {held.get('since', '?')}). Stop it first, or "
                "give this kiosk its own data folder."
            )
        lock.write_owner(owner=owner)
        self.owner_lock = lock

    def _open_layout(self) -> None:
        meta = self.data_dir / META
        if self.read_only and not meta.exists():
            if (self.data_dir / V1_FILE).exists():
                raise StoreError(
                    f"{self.data_dir}: a schema-1 data folder; open it once as its owner "
                    f"(or with any command that writes) to migrate it to schema {SCHEMA}"
                )
            self.meta = {"format": FORMAT, "schema": SCHEMA}  # nothing stored yet
            return
        if meta.exists():
            self.meta = self._read_meta(meta)
            if self.meta["schema"] < SCHEMA and not self.read_only:
                self._upgrade(meta)
            return
        with self.write_lock.hold():
            if meta.exists():  # another process created or migrated it meanwhile
                self.meta = self._read_meta(meta)
                return
            if (self.data_dir / V1_FILE).exists():
                from .migrate import migrate_v1

                migrate_v1(self)
            self.tables_dir.mkdir(exist_ok=True)
            self.meta = {"format": FORMAT, "schema": SCHEMA, "created": _now()}
            write_atomic(meta, json.dumps(self.meta, indent=2).encode() + b"\n")

    def _upgrade(self, meta: Path) -> None:
        """Bring an older schema up to this one, once, under the write lock."""
        from .migrate import migrate_v2

        try:
            with self.write_lock.hold(timeout=None):
                self.meta = self._read_meta(meta)
                if self.meta["schema"] >= SCHEMA:  # another process migrated it meanwhile
                    return
                migrate_v2(self)
                self.meta = {**self.meta, "schema": SCHEMA, "migrated": _now()}
                write_atomic(meta, json.dumps(self.meta, indent=2).encode() + b"\n")
        except PermissionError as exc:
            raise StoreError(
                f"{self.data_dir}: this data folder has store schema {self.meta['schema']} and "
                f"must be migrated to schema {SCHEMA} once, which needs write access ({exc}). "
                "Open it once as its owner, or copy it somewhere writable first."
            ) from None

    @property
    def legacy(self) -> bool:
        """Whether lines carry schema-2 checksums (a read-only look at an old folder)."""
        return self.meta["schema"] < SCHEMA

    def _read_meta(self, path: Path) -> dict[str, Any]:
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable store marker ({exc}); expected JSON") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise StoreError(f"{path}: not a servicecycle store marker (format != {FORMAT!r})")
        schema = meta.get("schema")
        if not isinstance(schema, int) or schema > SCHEMA:
            raise StoreError(
                f"{path}: store schema {schema!r} was written by a newer servicecycle; "
                f"this version reads schema {SCHEMA} and older"
            )
        return meta

    def recover(self) -> int:
        """Set aside the unfinished last write of any partition; return how many were found.

        Runs when the owner (the kiosk) opens the folder; readers and
        ``store check`` change nothing. Under the write lock no append is in
        flight, so an unterminated last line can only be a write a crash cut
        short: it was never acknowledged, and is moved to ``quarantine/`` with
        a log line — unless it is a whole, verified record missing only its
        newline, which is kept (the newline is added).
        """
        if not self.tables_dir.is_dir():
            return 0
        found = 0
        try:
            with self.write_lock.hold():
                for table in sorted(p for p in self.tables_dir.iterdir() if p.is_dir()):
                    for part in list_partitions(table)[0]:
                        found += self.trim_torn_tail(part.path)
        except LockTimeout:
            log.warning("%s: write lock busy; skipped crash recovery for now", self.data_dir)
        except PermissionError:
            log.info("%s: read-only; unfinished writes are skipped, not set aside", self.data_dir)
        return found

    def verify_recent(self) -> None:
        """Read the newest partition of each table in full; raise if it is damaged.

        An owner (a kiosk) appends there for the rest of its life, so a damaged
        file is reported before the first tap rather than written after.
        """
        from . import segment
        from .table import StoreCorruption

        if not self.tables_dir.is_dir():
            return
        for table in sorted(p for p in self.tables_dir.iterdir() if p.is_dir()):
            parts = list_partitions(table)[0]
            if not parts:
                continue
            for item in segment.scan(parts[-1].path, legacy=self.legacy):
                if isinstance(item, segment.Damage) and not item.torn_tail:
                    raise StoreCorruption(item)

    # -- the durable append --------------------------------------------------

    def append(self, path: Path, lines: bytes) -> None:
        """Append complete lines to a partition and fsync before returning.

        Serialised across processes by the write lock. A torn tail left by a
        crashed writer is set aside first, so new records never join it.
        """
        if self.read_only:
            raise StoreError(f"{self.data_dir} was opened read-only; nothing was written")
        try:
            with self.write_lock.hold():
                created = not path.exists()
                if created:
                    path.parent.mkdir(parents=True, exist_ok=True)
                else:
                    self.trim_torn_tail(path)
                write_synced(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640), lines)
                if created:
                    fsync_dir(path.parent)
        except LockTimeout:
            raise StoreError(
                f"{self.data_dir}: another process has held the write lock for 30 s; "
                "nothing was written"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def trim_torn_tail(self, path: Path) -> int:
        """If ``path`` ends mid-line, move that fragment to quarantine and cut it off.

        A fragment that is a complete, verified record only lacks its newline:
        the newline is added and the record stays.
        """
        from .segment import is_complete_line

        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return 0
            start = _last_line_start(handle, size)
            handle.seek(start)
            fragment = handle.read()
            if is_complete_line(fragment):
                handle.write(b"\n")
                handle.flush()
                os.fsync(handle.fileno())
                log.warning("%s: the last record (byte %d) lacked its newline; added", path, start)
                return 1
            saved = self.set_aside(path, start, fragment, "unfinished last write")
            handle.truncate(start)
            handle.flush()
            os.fsync(handle.fileno())
        log.warning(
            "%s: unfinished write of %d bytes at byte %d (never acknowledged) moved to %s",
            path,
            len(fragment),
            start,
            saved,
        )
        return 1

    def set_aside(self, source: Path, offset: int, data: bytes, reason: str) -> Path:
        """Keep damaged bytes for the operator, named after where they came from."""
        self.quarantine_dir.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{source.parent.name}-{source.stem}-at{offset}-{stamp}.bad"
        target = self.quarantine_dir / name
        write_atomic(target, data)
        note = target.with_suffix(".txt")
        write_atomic(
            note,
            f"source: {source}\noffset: {offset}\nlength: {len(data)}\nreason: {reason}\n".encode(),
        )
        return target

    # -- tables --------------------------------------------------------------

    def table(self, name: str) -> LogTable:
        """A table by name: ``ratings``, ``alerts``, ``answers``, ``events``..."""
        if not name.replace("_", "").isalnum() or not name.islower():
            raise StoreError(f"table name {name!r}: use lowercase letters, digits and '_'")
        return self._db.table(name)  # type: ignore[return-value]

    def tables(self) -> list[str]:
        return sorted(self._db.tables())

    def close(self) -> None:
        for lock in (self.write_lock, self.maintenance_lock, self.owner_lock):
            if lock is not None:
                lock.close()
        self.owner_lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_line_start(handle: Any, size: int) -> int:
    """Offset just after the last newline before ``size`` (0 when there is none)."""
    position = size
    while position > 0:
        step = min(65536, position)
        position -= step
        handle.seek(position)
        chunk = handle.read(step)
        newline = chunk.rfind(b"\n")
        if newline != -1:
            return position + newline + 1
    return 0


def write_synced(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, fsync it, and close it."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Write a whole file so that it is either the old one or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # a temporary file a crash left behind keeps its own mode
    write_synced(fd, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
