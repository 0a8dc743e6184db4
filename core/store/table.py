"""A TinyDB table whose writes append to partition logs instead of rewriting a file.

TinyDB's own tables read and rewrite the whole database on every insert; this
subclass keeps TinyDB's document API (``insert``, ``search`` with ``Query``,
``get``, ``count``, ``Document``) but appends each insert as one checksummed,
fsynced line, so the cost of a write does not grow with history, and reads
stream one partition at a time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinydb.queries import QueryLike
from tinydb.table import Document, Table

from ..errors import StoreError
from . import segment
from .partitions import Partition, list_partitions, partition_key, path_for

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

#: Every record in the store has these two fields: its own id and its UTC time.
KEY = "id"
TIME = "at"


class StoreCorruption(StoreError):
    """A partition holds bytes that are not valid records (see ``store check``)."""

    def __init__(self, damage: segment.Damage) -> None:
        self.damage = damage
        super().__init__(
            f"{damage}. Nothing was changed; run `servicecycle store check` for the "
            "full list, and `servicecycle store repair` to keep the intact records "
            "and set the damaged bytes aside."
        )


class LogTable(Table):
    """One kind of record (ratings, alerts, survey answers...) in the data folder."""

    def __init__(self, storage: Any, name: str, **_: Any) -> None:
        # Table.__init__ would read the whole table; nothing here needs that.
        self._storage = storage
        self._name = name
        self._next_id = 0
        self._query_cache = self.query_cache_class(capacity=0)

    @property
    def store(self) -> Store:
        return self._storage.store

    @property
    def folder(self) -> Path:
        return self.store.tables_dir / self._name

    # -- writing -------------------------------------------------------------

    def insert(self, document: Mapping) -> int:
        """Append one document durably; returns a document id valid in this process."""
        return self.insert_multiple([document])[0]

    def insert_multiple(self, documents: Iterable[Mapping]) -> list[int]:
        """Append documents, one fsync per partition touched."""
        by_file: dict[Path, list[bytes]] = {}
        count = 0
        for document in documents:
            day = self._day_of(document)
            by_file.setdefault(path_for(self.folder, day), []).append(
                segment.encode(segment.DOCUMENT, dict(document))
            )
            count += 1
        for path, lines in by_file.items():
            self.store.append(path, b"".join(lines))
        first = self._next_id
        self._next_id += count
        return list(range(first + 1, first + count + 1))

    def patch(self, key: str, at: str, fields: Mapping[str, Any]) -> None:
        """Change fields of the document ``key`` filed at ``at`` (appends a patch line)."""
        line = segment.encode(segment.PATCH, {KEY: key, "set": dict(fields)})
        self.store.append(path_for(self.folder, partition_key(at)), line)

    def update(self, fields: Any, cond: QueryLike | None = None, doc_ids: Any = None) -> list[int]:
        """Patch every document matching ``cond`` with ``fields`` (a mapping)."""
        if not isinstance(fields, Mapping) or doc_ids is not None:
            raise StoreError("store tables take update(fields: dict, cond) only")
        changed = []
        for document in self.search(cond) if cond is not None else self:
            self.patch(document[KEY], document[TIME], fields)
            changed.append(document.doc_id)
        return changed

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise StoreError(
            f"the {self._name!r} table is append-only: records are never removed or replaced"
        )

    remove = truncate = upsert = update_multiple = _refuse

    def _update_table(self, updater: Any) -> None:  # TinyDB's whole-table rewrite
        self._refuse()

    def _read_table(self) -> dict[str, Mapping]:  # TinyDB's whole-table read
        raise StoreError("store tables are read by streaming; use search() or iterate")

    def _day_of(self, document: Mapping) -> str:
        if not isinstance(document, Mapping):
            raise StoreError(
                f"{self._name}: documents must be mappings, not {type(document).__name__}"
            )
        for field in (KEY, TIME):
            if not isinstance(document.get(field), str):
                raise StoreError(f"{self._name}: every document needs a string {field!r} field")
        try:
            return partition_key(document[TIME])
        except ValueError as exc:
            raise StoreError(f"{self._name}: {exc}") from None

    # -- reading -------------------------------------------------------------

    def partitions(self, since: str | None = None, until: str | None = None) -> list[Partition]:
        parts, strangers = list_partitions(self.folder)
        for path in strangers:
            log.warning("ignoring %s: not a partition file of the store", path)
        return [p for p in parts if p.overlaps(since, until)]

    def documents(self, since: str | None = None, until: str | None = None) -> Iterator[Document]:
        """Stream documents filed in [since, until) (ISO UTC strings), patches applied.

        Holds one partition's bytes at a time, never the whole history.
        """
        doc_id = 0
        for part in self.partitions(since, until):
            for record in _read_listed(part, self.store.legacy):
                at = record.get(TIME, "")
                if (since is not None and at < since) or (until is not None and at >= until):
                    continue
                doc_id += 1
                yield Document(record, doc_id)

    def __iter__(self) -> Iterator[Document]:
        return self.documents()

    def all(self) -> list[Document]:
        return list(self)

    def search(
        self, cond: QueryLike, since: str | None = None, until: str | None = None
    ) -> list[Document]:
        return [doc for doc in self.documents(since, until) if cond(doc)]

    def get(  # type: ignore[override]
        self,
        cond: QueryLike | None = None,
        doc_id: int | None = None,
        doc_ids: Any = None,
        *,
        key: str | None = None,
        at: str | None = None,
    ) -> Document | None:
        """The first document matching ``cond``, or the one with ``key`` (filed at ``at``)."""
        if doc_id is not None or doc_ids is not None:
            raise StoreError("store tables look documents up by their 'id' field, not doc_id")
        since = until = None
        if at is not None:
            since, until = at[:10], at[:10] + "\uffff"
        for document in self.documents(since, until):
            if (key is None or document.get(KEY) == key) and (cond is None or cond(document)):
                return document
        return None

    def contains(self, cond: QueryLike | None = None, doc_id: int | None = None) -> bool:
        return self.get(cond, doc_id) is not None

    def count(self, cond: QueryLike | None = None) -> int:  # type: ignore[override]
        return sum(1 for doc in self if cond is None or cond(doc))

    def __len__(self) -> int:
        return self.count()


def _load(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from exc


def _read_listed(part: Partition, legacy: bool = False) -> Iterator[dict[str, Any]]:
    """A listed partition's documents, even if compaction merged it away meanwhile."""
    data = _load(part.path)
    if data is not None:
        yield from read_partition(part.path, data, legacy)
    elif not part.is_month:
        # The merge wrote the month file before deleting the day files.
        month = part.path.with_name(f"{part.month}.log")
        for record in read_partition(month, legacy=legacy):
            if record.get(TIME, "")[:10] == part.key:
                yield record


def read_partition(
    path: Path, data: bytes | None = None, legacy: bool = False
) -> Iterator[dict[str, Any]]:
    """Stream the documents of one partition file, patches folded in, in file order.

    An unterminated last line is skipped (a write in progress, or one a crash
    cut short) unless it is a whole, verified record; any other bad line
    raises :class:`StoreCorruption`. Memory holds the file's bytes and its
    patches, never all its documents at once. ``legacy``: schema-2 checksums.
    """
    if data is None:
        data = _load(path)
        if data is None:
            return
    patches: dict[Any, dict[str, Any]] = {}
    if b" P {" in data:
        for item in segment.scan(path, data, only=segment.PATCH, legacy=legacy):
            if isinstance(item, tuple):
                _, payload = item
                patches.setdefault(payload.get(KEY), {}).update(payload.get("set", {}))
    for item in segment.scan(path, data, legacy=legacy):
        if isinstance(item, segment.Damage):
            if item.torn_tail:
                log.debug("%s", item)
                continue
            raise StoreCorruption(item)
        kind, payload = item
        if kind == segment.DOCUMENT:
            change = patches.get(payload.get(KEY)) if patches else None
            yield {**payload, **change} if change else payload


def fsync_dir(path: Path) -> None:
    """Make a created, renamed or deleted directory entry survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
