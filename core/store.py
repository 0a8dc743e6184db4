"""The data folder: ratings (and later alerts, survey answers) on TinyDB.

Everything outside this module sees only :class:`Store` and its tables, so
how TinyDB keeps the files is free to change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import JSONStorage

from .errors import StoreError
from .rating import Rating, format_time


@dataclass(frozen=True)
class RatingFilter:
    """Which ratings a query wants; ``None`` means any."""

    since: datetime | None = None
    until: datetime | None = None
    site: str | None = None
    kiosk: str | None = None
    cycle: str | None = None
    moment: str | None = None
    include_suspect: bool = True

    def matches(self, record: dict[str, Any]) -> bool:
        at = record["at"]
        if self.since is not None and at < format_time(self.since):
            return False
        if self.until is not None and at >= format_time(self.until):
            return False
        for field in ("site", "kiosk", "cycle", "moment"):
            wanted = getattr(self, field)
            if wanted is not None and record[field] != wanted:
                return False
        return self.include_suspect or "suspect" not in record.get("flags", ())


class RatingTable:
    """Recorded ratings, in the order they were recorded."""

    def __init__(self, db: TinyDB, lock: threading.Lock) -> None:
        self._table = db.table("ratings")
        self._lock = lock

    def add(self, rating: Rating) -> None:
        with self._lock:
            self._table.insert(rating.to_record())

    def get(self, rating_id: str) -> Rating | None:
        with self._lock:
            for record in self._table:
                if record["id"] == rating_id:
                    return Rating.from_record(record)
        return None

    def set_reasons(self, rating_id: str, reasons: Iterable[str]) -> None:
        """Attach the reasons a customer picked after rating (same rating, not a new one)."""
        with self._lock:
            updated = self._table.update(
                {"reasons": list(reasons)}, cond=lambda record: record["id"] == rating_id
            )
        if not updated:
            raise StoreError(f"no rating with id {rating_id!r} in the store")

    def query(self, where: RatingFilter | None = None) -> Iterator[Rating]:
        where = where or RatingFilter()
        with self._lock:
            records = [r for r in self._table if where.matches(r)]
        for record in records:
            yield Rating.from_record(record)

    def count(self, where: RatingFilter | None = None) -> int:
        where = where or RatingFilter()
        with self._lock:
            return sum(1 for r in self._table if where.matches(r))


class Store:
    """One data folder, opened once per process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create data folder {self.data_dir}: {exc.strerror}") from exc
        path = self.data_dir / "ratings.json"
        try:
            self._db = TinyDB(path, storage=JSONStorage, ensure_ascii=False)
            self._db.tables()  # parse now, so a bad file is reported here
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno} "
                f"(byte {exc.pos}); nothing was written to it"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot open {path}: {exc.strerror}") from exc
        self._lock = threading.Lock()
        self.ratings = RatingTable(self._db, self._lock)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
