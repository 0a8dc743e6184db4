"""The alert book, the journal, silences, kiosk events and survey answers in PostgreSQL.

The first four are one ``records`` table told apart by ``kind`` (the data folder's
table names), appended in order; a silence ended early is patched in place. Answers
have a table of their own whose primary key is the rating id: the unique key is
what makes one answer per rating atomic, across any number of processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ...errors import StoreError
from ...rating import parse_time
from ..contract import Record
from .db import Database


def _time_of(record: Mapping[str, Any], what: str) -> datetime:
    at = record.get("at")
    if not isinstance(at, str):
        raise StoreError(f"{what}: a record needs a string 'at' (UTC ISO time), not {at!r}")
    try:
        return parse_time(at)
    except ValueError:
        raise StoreError(f"{what}: 'at' = {at[:40]!r} is not an ISO time") from None


def _id_of(record: Mapping[str, Any], what: str) -> str:
    record_id = record.get("id")
    if not isinstance(record_id, str):
        raise StoreError(f"{what}: a record needs a string 'id', not {record_id!r}")
    return record_id


def _window(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    parts, params = [], []
    if since is not None:
        parts.append("at >= %s")
        params.append(since)
    if until is not None:
        parts.append("at < %s")
        params.append(until)
    return "".join(f" AND {p}" for p in parts), params


class PostgresLog:
    """One kind of record as the contract's append-only store."""

    def __init__(self, db: Database, kind: str) -> None:
        self.db = db
        self.kind = kind

    def append(self, record: Mapping[str, Any]) -> None:
        at, record_id = _time_of(record, self.kind), _id_of(record, self.kind)
        body = Jsonb(dict(record))
        self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO records (kind, id, at, body) VALUES (%s, %s, %s, %s)",
                (self.kind, record_id, at, body),
            )
        )

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        window, params = _window(since, until)
        rows = self.db.run(
            lambda conn: conn.execute(
                f"SELECT body FROM records WHERE kind = %s{window} ORDER BY seq",
                (self.kind, *params),
            ).fetchall()
        )
        # Filed order, as the folder gives it: by time across days, appended order within.
        for (body,) in sorted(rows, key=lambda r: str(r[0].get("at", ""))[:10]):
            yield body

    def version(self) -> object:
        """Changes whenever a record of this kind is added, patched or removed."""
        row = self.db.run(
            lambda conn: conn.execute(
                "SELECT max(seq), count(*) FROM records WHERE kind = %s", (self.kind,)
            ).fetchone()
        )
        return tuple(row) if row else (None, 0)

    def has(self, record_id: str) -> bool:
        return bool(
            self.db.run(
                lambda conn: conn.execute(
                    "SELECT 1 FROM records WHERE kind = %s AND id = %s LIMIT 1",
                    (self.kind, record_id),
                ).fetchone()
            )
        )


class PostgresSilences(PostgresLog):
    def patch(self, record_id: str, fields: Mapping[str, Any]) -> bool:
        changes = Jsonb(dict(fields))
        updated = self.db.run(
            lambda conn: conn.execute(
                "UPDATE records SET body = body || %s WHERE kind = %s AND id = %s RETURNING seq",
                (changes, self.kind, record_id),
            ).fetchall()
        )
        return bool(updated)


class PostgresAnswers:
    """Survey answers: the primary key on the rating id is the claim."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(
        self, record: Mapping[str, Any], then: Callable[[], None] | None = None
    ) -> Record | None:
        rating_id = _id_of(record, "answers")
        at = _time_of(record, "answers")
        body = Jsonb(dict(record))

        def work(conn: psycopg.Connection) -> Record | None:
            stored = conn.execute(
                "INSERT INTO answers (rating_id, at, body) VALUES (%s, %s, %s)"
                " ON CONFLICT (rating_id) DO NOTHING RETURNING rating_id",
                (rating_id, at, body),
            ).fetchone()
            if stored:
                return None
            row = conn.execute(
                "SELECT body FROM answers WHERE rating_id = %s", (rating_id,)
            ).fetchone()
            return row[0]

        existing = self.db.run(work)
        if existing is None and then is not None:
            then()  # adding a rating twice is a no-op here: a recovery may simply repeat it
        return existing

    def held(self) -> AbstractContextManager[None]:
        return nullcontext()

    def find(self, rating_id: str) -> Record | None:
        row = self.db.run(
            lambda conn: conn.execute(
                "SELECT body FROM answers WHERE rating_id = %s", (rating_id,)
            ).fetchone()
        )
        return row[0] if row else None

    def erase(self, targets: Mapping[str, datetime], fields: Mapping[str, Any]) -> list[str]:
        """One ``UPDATE`` in place: the old text is gone from every query at once.

        The old row version stays in the table's pages until VACUUM reclaims
        them (autovacuum does, in time), and in WAL archives and dumps made
        before (docs/survey.md says what to do about those).
        """
        ids = list(targets)
        if not ids:
            return []
        changes = Jsonb(dict(fields))
        rows = self.db.run(
            lambda conn: conn.execute(
                "UPDATE answers SET body = body || %s WHERE rating_id = ANY(%s)"
                " AND coalesce(jsonb_typeof(body -> 'erased'), 'null') = 'null'"
                " RETURNING rating_id",
                (changes, ids),
            ).fetchall()
        )
        return [str(row[0]) for row in rows]

    def compact(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Nothing to do: an erasure updates the row in place (VACUUM reclaims the old one)."""
        return False

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        window, params = _window(since, until)
        rows = self.db.run(
            lambda conn: conn.execute(
                f"SELECT body FROM answers WHERE true{window} ORDER BY seq", params
            ).fetchall()
        )
        for (body,) in sorted(rows, key=lambda r: str(r[0].get("at", ""))[:10]):
            yield body
