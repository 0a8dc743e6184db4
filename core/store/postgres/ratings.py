"""Ratings, tallies and the change feed in PostgreSQL (engine 2; not yet behind the contract).

Every write is one transaction that is safe to repeat: a rating id is stored once
(``rating_ids`` is its global unique index; ``ON CONFLICT DO NOTHING``), tallies count
only the rows that statement actually inserted, and a reasons patch that changes
nothing is not written. That is what lets a write retry after the server restarted
under it: a commit whose acknowledgement was lost is simply repeated as a no-op.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from ...errors import StoreError
from ...rating import Rating
from ..ratings import RatingFilter
from .schema import (
    CHANNEL,
    FEED_LOCK,
    SCHEMA,
    ensure_partitions,
    migrate,
    month_start,
    partitions,
    refuse_newer,
    schema_version,
)
from .url import StoreURL, connect, parse_url, redact

T = TypeVar("T")

COLUMNS = "id, at, site, kiosk, cycle, stage, moment, score, scale, language, reasons, flags"

ADD_SQL = f"""
WITH batch AS (
    SELECT DISTINCT ON (id) *
    FROM jsonb_to_recordset(%s::jsonb) AS r(
        id text, at timestamptz, site text, kiosk text, cycle text, stage text,
        moment text, score smallint, scale smallint, language text,
        reasons text[], flags text[])
    ORDER BY id
), fresh AS (
    INSERT INTO rating_ids (id, at) SELECT id, at FROM batch ORDER BY id
    ON CONFLICT DO NOTHING
    RETURNING id
), stored AS (
    INSERT INTO ratings ({COLUMNS})
    SELECT {COLUMNS} FROM batch JOIN fresh USING (id)
    RETURNING id, at, site, kiosk, cycle, moment, scale, score, flags
), counted AS (
    INSERT INTO tallies (hour, site, kiosk, cycle, moment, scale, score, flags, n)
    SELECT date_trunc('hour', at, 'UTC'), site, kiosk, cycle, moment, scale, score,
           (SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{{}}') FROM unnest(flags) f),
           count(*)
    FROM stored
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ORDER BY 2, 1, 3, 4, 5, 6, 7, 8
    ON CONFLICT (site, hour, kiosk, cycle, moment, scale, score, flags)
    DO UPDATE SET n = tallies.n + excluded.n
)
SELECT id, at FROM stored ORDER BY at, id
"""

CHANGES_SQL = """
INSERT INTO changes (kind, rating_id, at)
SELECT %s, id, at FROM unnest(%s::text[], %s::timestamptz[]) AS c(id, at)
ORDER BY at, id
RETURNING seq
"""

#: Errors after which the whole transaction is simply run again (it is idempotent).
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)

CURSOR_PREFIX = "pg1:"


@dataclass(frozen=True)
class Change:
    """One stored change: ``kind`` is ``"added"`` or ``"reasons"``; ``rating`` as it is now."""

    cursor: str
    kind: str
    rating: Rating


def rating_from_row(row: tuple[Any, ...]) -> Rating:
    id_, at, site, kiosk, cycle, stage, moment, score, scale, language, reasons, flags = row
    return Rating(
        id=id_,
        at=at,
        site=site,
        kiosk=kiosk,
        cycle=cycle,
        stage=stage,
        moment=moment,
        score=int(score),
        scale=int(scale),
        language=language,
        reasons=tuple(reasons),
        flags=tuple(flags),
    )


def parse_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    number = cursor.removeprefix(CURSOR_PREFIX)
    if not cursor.startswith(CURSOR_PREFIX) or not number.isdigit():
        raise StoreError(f"change feed: {cursor!r} is not a cursor this PostgreSQL store gave")
    return int(number)


class PostgresStore:
    """Ratings in one PostgreSQL database; one connection, re-opened when it breaks.

    ``retry_for``: how many seconds a write keeps trying to reconnect after losing its
    connection (a server restart) before it raises StoreError.
    """

    def __init__(self, url: str, *, migrate_schema: bool = True, retry_for: float = 15.0) -> None:
        self.where: StoreURL = parse_url(url)
        self.retry_for = retry_for
        self.conn = connect(self.where)
        try:
            if migrate_schema:
                migrate(self.conn, self.where.safe)
            else:
                self.check_schema(self.conn)
            self.months = partitions(self.conn)
            self.conn.commit()
        except BaseException:
            self.conn.close()
            raise

    # -- connection handling ------------------------------------------------------

    def check_schema(self, conn: psycopg.Connection) -> None:
        version = schema_version(conn)
        refuse_newer(version, self.where.safe)
        if version != SCHEMA:
            raise StoreError(
                f"the database {self.where.safe} has no servicecycle schema {SCHEMA} yet: "
                "run `servicecycle store migrate`"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reconnect(self, deadline: float, cause: Exception) -> None:
        """Replace a broken connection, trying until ``deadline``; else one clear line."""
        self.conn.close()
        while True:
            try:
                self.conn = connect(self.where)
                self.check_schema(self.conn)
                self.conn.commit()
                return
            except StoreError as exc:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"lost the connection to PostgreSQL at {self.where.server} and could "
                        f"not reconnect within {self.retry_for:g} s ({exc}); the last write may "
                        "not be stored: repeat it (a rating added twice is stored once)"
                    ) from None
                time.sleep(0.2)

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run ``work`` in one transaction; on a lost connection or a deadlock, run it again."""
        deadline = time.monotonic() + self.retry_for
        while True:
            try:
                with self.conn.transaction():
                    return work(self.conn)
            except RETRYABLE:
                continue
            except psycopg.OperationalError as exc:
                if not (self.conn.closed or self.conn.broken):
                    raise StoreError(self.refused(exc)) from None
                self.reconnect(deadline, exc)
            except psycopg.Error as exc:
                raise StoreError(self.refused(exc)) from None

    def refused(self, exc: psycopg.Error) -> str:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"PostgreSQL at {self.where.safe} refused a request: {redact(first, self.where)}"

    # -- writing --------------------------------------------------------------------

    def add(self, rating: Rating) -> bool:
        """Store one rating; False when it was already there. Durable when it returns."""
        return self.add_many([rating]) == 1

    def add_many(self, ratings: Iterable[Rating]) -> int:
        """Store ratings in one transaction; returns how many were new (duplicates: no-ops).

        After a retry the count covers the final attempt only (a commit whose
        acknowledgement was lost counts as already there).
        """
        batch = list(ratings)
        if not batch:
            return 0
        months = {month_start(r.at) for r in batch} - self.months
        if months:
            self.run(lambda conn: ensure_partitions(conn, months))
            self.months |= months
        payload = json.dumps([r.to_record() for r in batch])

        def work(conn: psycopg.Connection) -> int:
            stored = conn.execute(ADD_SQL, (payload,)).fetchall()
            if stored:
                self.append_changes(conn, "added", stored)
            return len(stored)

        return self.run(work)

    def add_reasons(self, rating_id: str, reasons: Iterable[str]) -> bool:
        """Set the reasons a customer picked; False when they were already those.

        Tallies do not count reasons, and a score never changes, so no tally moves.
        """
        wanted = list(reasons)

        def work(conn: psycopg.Connection) -> bool:
            changed = conn.execute(
                "UPDATE ratings SET reasons = %s"
                " WHERE id = %s AND at = (SELECT at FROM rating_ids WHERE id = %s)"
                " AND reasons IS DISTINCT FROM %s::text[] RETURNING id, at",
                (wanted, rating_id, rating_id, wanted),
            ).fetchall()
            if not changed:
                if conn.execute("SELECT 1 FROM rating_ids WHERE id = %s", (rating_id,)).fetchone():
                    return False
                raise StoreError(f"no rating {rating_id!r} in {self.where.safe}")
            self.append_changes(conn, "reasons", changed)
            return True

        return self.run(work)

    def append_changes(self, conn: psycopg.Connection, kind: str, rows: list[Any]) -> None:
        """Append to the feed under the feed lock, held to commit: sequence order is then
        commit order, so a follower that has read up to N can never later meet a smaller
        number committing (no change is skipped by a resumed cursor)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
        ids = [row[0] for row in rows]
        ats = [row[1] for row in rows]
        seqs = conn.execute(CHANGES_SQL, (kind, ids, ats)).fetchall()
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(seqs[-1][0])))

    # -- reading --------------------------------------------------------------------

    def get(self, rating_id: str) -> Rating | None:
        def work(conn: psycopg.Connection) -> Rating | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM ratings WHERE id = %s"
                " AND at = (SELECT at FROM rating_ids WHERE id = %s)",
                (rating_id, rating_id),
            ).fetchone()
            return rating_from_row(row) if row else None

        return self.run(work)

    def query(self, where: RatingFilter | None = None, *, batch: int = 2000) -> Iterator[Rating]:
        """Stream matching ratings in time order through a server-side cursor, on a
        connection of its own (so writes meanwhile are not part of its transaction)."""
        conditions, params = self.conditions(where or RatingFilter())
        statement = f"SELECT {COLUMNS} FROM ratings WHERE {conditions} ORDER BY at, id"
        with connect(self.where) as conn:
            try:
                with conn.transaction(), conn.cursor(name="servicecycle_query") as cursor:
                    cursor.itersize = batch
                    cursor.execute(statement, params)
                    for row in cursor:
                        yield rating_from_row(row)
            except psycopg.Error as exc:
                raise StoreError(self.refused(exc)) from None

    def count(self, where: RatingFilter | None = None) -> int:
        conditions, params = self.conditions(where or RatingFilter())
        return self.run(
            lambda conn: conn.execute(
                f"SELECT count(*) FROM ratings WHERE {conditions}", params
            ).fetchone()[0]
        )

    @staticmethod
    def conditions(where: RatingFilter) -> tuple[str, list[Any]]:
        parts, params = ["true"], []
        if where.since is not None:
            parts.append("at >= %s")
            params.append(where.since)
        if where.until is not None:
            parts.append("at < %s")
            params.append(where.until)
        for field in ("site", "kiosk", "cycle", "moment"):
            if (value := getattr(where, field)) is not None:
                parts.append(f"{field} = %s")
                params.append(value)
        if not where.include_suspect:
            parts.append("NOT ('suspect' = ANY (flags))")
        return " AND ".join(parts), params

    def changes(self, after: str | None = None, limit: int = 1000) -> list[Change]:
        """Changes after ``after`` (None: from the start), oldest first, at most ``limit``.

        At-least-once: resume from the last cursor handled; a consumer is idempotent on
        the rating id. ``rating`` is the rating as stored now (reasons included).
        """
        start = parse_cursor(after)
        rows = self.run(
            lambda conn: conn.execute(
                "SELECT c.seq, c.kind, "
                + ", ".join(f"r.{c.strip()}" for c in COLUMNS.split(","))
                + " FROM changes c JOIN ratings r ON r.id = c.rating_id AND r.at = c.at"
                " WHERE c.seq > %s ORDER BY c.seq LIMIT %s",
                (start, limit),
            ).fetchall()
        )
        return [
            Change(f"{CURSOR_PREFIX}{row[0]}", row[1], rating_from_row(row[2:])) for row in rows
        ]

    def wait_for_changes(self, after: str | None, timeout: float) -> bool:
        """Block until a change after ``after`` exists (LISTEN/NOTIFY), up to ``timeout`` s."""
        with connect(self.where, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            newest = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            if newest > parse_cursor(after):
                return True
            return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))

    def tallies(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> dict[tuple[Any, ...], int]:
        """Counts per (UTC hour, site, kiosk, cycle, moment, scale, score, flags)."""
        rows = self.run(
            lambda conn: conn.execute(
                "SELECT hour, site, kiosk, cycle, moment, scale, score, flags, n FROM tallies"
                " WHERE (%s::timestamptz IS NULL OR hour >= %s)"
                " AND (%s::timestamptz IS NULL OR hour < %s)",
                (since, since, until, until),
            ).fetchall()
        )
        return {(*row[:7], tuple(row[7])): int(row[8]) for row in rows}


__all__ = ["Change", "PostgresStore"]
