"""Ratings in the store: typed access on top of the generic ``ratings`` table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import StoreError
from ..rating import Rating, format_time, id_time
from .table import LogTable


@dataclass(frozen=True)
class RatingFilter:
    """Which ratings a query wants; ``None`` means any. Time range is [since, until)."""

    since: datetime | None = None
    until: datetime | None = None
    site: str | None = None
    kiosk: str | None = None
    cycle: str | None = None
    moment: str | None = None
    include_suspect: bool = True

    def time_range(self) -> tuple[str | None, str | None]:
        return (
            format_time(self.since) if self.since else None,
            format_time(self.until) if self.until else None,
        )

    def matches(self, record: dict[str, Any]) -> bool:
        for field in ("site", "kiosk", "cycle", "moment"):
            wanted = getattr(self, field)
            if wanted is not None and record.get(field) != wanted:
                return False
        return self.include_suspect or "suspect" not in record.get("flags", ())


class RatingTable:
    """Recorded ratings, filed by time."""

    def __init__(self, table: LogTable) -> None:
        self.table = table

    def add(self, rating: Rating) -> None:
        self.table.insert(rating.to_record())

    def add_many(self, ratings: Iterable[Rating]) -> int:
        """Bulk import (one fsync per partition touched); returns the count."""
        return len(self.table.insert_multiple(r.to_record() for r in ratings))

    def set_reasons(self, rating: Rating, reasons: Iterable[str]) -> None:
        """Attach the reasons a customer picked after rating to that same rating."""
        self.table.patch(rating.id, format_time(rating.at), {"reasons": list(reasons)})

    def get(self, rating_id: str) -> Rating | None:
        """Find a rating by id: one partition for time-carrying ids, else a full scan."""
        at = id_time(rating_id)
        document = self.table.get(key=rating_id, at=format_time(at) if at else None)
        if document is None and at is not None:
            document = self.table.get(key=rating_id)  # filed under a different time
        return Rating.from_record(document) if document is not None else None

    def filed_on(self, day: str) -> Iterator[dict[str, Any]]:
        """The records filed in one UTC day's partition (``"2026-11-22"``), patches applied.

        Where a rating at a given time would be: an import looks there for ids it
        already holds, one partition at a time instead of the whole history.
        """
        for document in self.table.documents(day, day + "\uffff"):
            yield dict(document)

    def query(self, where: RatingFilter | None = None) -> Iterator[Rating]:
        """Stream matching ratings in the order they were filed."""
        where = where or RatingFilter()
        since, until = where.time_range()
        for document in self.table.documents(since, until):
            if where.matches(document):
                try:
                    yield Rating.from_record(document)
                except (KeyError, TypeError, ValueError) as exc:
                    raise StoreError(
                        f"ratings: record {document.get('id')!r} is malformed: {exc}"
                    ) from exc

    def count(self, where: RatingFilter | None = None) -> int:
        where = where or RatingFilter()
        since, until = where.time_range()
        return sum(1 for d in self.table.documents(since, until) if where.matches(d))
