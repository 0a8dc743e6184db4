"""Ratings, their tallies and the change feed in PostgreSQL (engine 2).

Every write is one transaction that is safe to repeat: a rating id is stored once
(``rating_ids`` is its global unique index; ``ON CONFLICT DO NOTHING``), tallies count
only the rows that statement actually inserted, and a reasons patch that changes
nothing is not written. That is what lets a write retry after the server restarted
under it: a commit whose acknowledgement was lost is simply repeated as a no-op.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from ...errors import StoreError
from ...rating import Rating
from ..contract import Change, ChangeKind, Cursor
from ..ratings import RatingFilter
from .db import Database
from .schema import CHANNEL, FEED_LOCK, ensure_partitions, month_start, partitions
from .url import connect

COLUMNS = "id, at, site, kiosk, cycle, stage, moment, score, scale, language, reasons, flags"

TALLY_KEY = "cycle, moment, language, suspect, scale, score"

ADD_SQL = f"""
WITH batch AS (
    SELECT DISTINCT ON (id) *
    FROM (
        SELECT * FROM jsonb_to_recordset(%(batch)s::jsonb) AS r(
            id text, at timestamptz, site text, kiosk text, cycle text, stage text,
            moment text, score smallint, scale smallint, language text,
            reasons text[], flags text[])
        LIMIT %(size)s  -- all of them: it tells the planner how many, which it cannot see
    ) AS given
    ORDER BY id
), fresh AS (
    INSERT INTO rating_ids (id, at) SELECT id, at FROM batch ORDER BY id
    ON CONFLICT DO NOTHING
    RETURNING id
), stored AS (
    INSERT INTO ratings ({COLUMNS})
    SELECT {COLUMNS} FROM batch JOIN fresh USING (id)
    RETURNING id, at, site, kiosk, cycle, moment, language, scale, score, reasons,
              'suspect' = ANY (flags) AS suspect
), zoned AS (
    SELECT s.*, s.at AT TIME ZONE (SELECT tally_zone FROM store_settings) AS local_at
    FROM stored s
), local AS (
    SELECT z.*, z.local_at::date AS day, extract(hour FROM z.local_at)::smallint AS hour
    FROM zoned z
), days AS (
    INSERT INTO tally_days (day, site, kiosk, {TALLY_KEY}, n)
    SELECT day, site, kiosk, {TALLY_KEY}, count(*) FROM local
    GROUP BY site, day, kiosk, {TALLY_KEY} ORDER BY site, day, kiosk, {TALLY_KEY}
    ON CONFLICT (site, day, kiosk, {TALLY_KEY}) DO UPDATE SET n = tally_days.n + excluded.n
), months AS (
    INSERT INTO tally_months (month, site, kiosk, {TALLY_KEY}, n)
    SELECT date_trunc('month', day)::date, site, kiosk, {TALLY_KEY}, count(*) FROM local
    GROUP BY 1, site, kiosk, {TALLY_KEY} ORDER BY 1, site, kiosk, {TALLY_KEY}
    ON CONFLICT (month, site, kiosk, {TALLY_KEY}) DO UPDATE SET n = tally_months.n + excluded.n
), chain AS (
    INSERT INTO tally_chain_days (day, {TALLY_KEY}, n)
    SELECT day, {TALLY_KEY}, count(*) FROM local
    GROUP BY day, {TALLY_KEY} ORDER BY day, {TALLY_KEY}
    ON CONFLICT (day, {TALLY_KEY}) DO UPDATE SET n = tally_chain_days.n + excluded.n
), hours AS (
    INSERT INTO tally_hours (day, hour, site, cycle, language, suspect, scale, score, n)
    SELECT day, hour, site, cycle, language, suspect, scale, score, count(*) FROM local
    GROUP BY site, day, hour, cycle, language, suspect, scale, score
    ORDER BY site, day, hour, cycle, language, suspect, scale, score
    ON CONFLICT (site, day, hour, cycle, language, suspect, scale, score)
    DO UPDATE SET n = tally_hours.n + excluded.n
), chain_hours AS (
    INSERT INTO tally_chain_hours (day, hour, cycle, language, suspect, scale, score, n)
    SELECT day, hour, cycle, language, suspect, scale, score, count(*) FROM local
    GROUP BY day, hour, cycle, language, suspect, scale, score
    ORDER BY day, hour, cycle, language, suspect, scale, score
    ON CONFLICT (day, hour, cycle, language, suspect, scale, score)
    DO UPDATE SET n = tally_chain_hours.n + excluded.n
), picked AS (
    INSERT INTO reason_days (day, site, kiosk, cycle, moment, language, suspect, reason, n)
    SELECT day, site, kiosk, cycle, moment, language, suspect, reason, count(*)
    FROM local CROSS JOIN LATERAL unnest(reasons) AS reason
    GROUP BY site, day, kiosk, cycle, moment, language, suspect, reason
    ORDER BY site, day, kiosk, cycle, moment, language, suspect, reason
    ON CONFLICT (site, day, kiosk, cycle, moment, language, suspect, reason)
    DO UPDATE SET n = reason_days.n + excluded.n
), picked_months AS (
    INSERT INTO reason_months (month, site, kiosk, cycle, moment, language, suspect, reason, n)
    SELECT date_trunc('month', day)::date, site, kiosk, cycle, moment, language, suspect,
           reason, count(*)
    FROM local CROSS JOIN LATERAL unnest(reasons) AS reason
    GROUP BY 1, site, kiosk, cycle, moment, language, suspect, reason
    ORDER BY 1, site, kiosk, cycle, moment, language, suspect, reason
    ON CONFLICT (month, site, kiosk, cycle, moment, language, suspect, reason)
    DO UPDATE SET n = reason_months.n + excluded.n
), feed AS (
    INSERT INTO changes (kind, rating_id, at)
    SELECT 'new', id, at FROM stored ORDER BY at, id
    RETURNING seq
), newest AS (
    SELECT count(*) AS n, max(seq) AS seq FROM feed
)
-- Wake the followers (delivered at commit) with the newest number, if anything is new.
SELECT n, CASE WHEN n > 0 THEN (SELECT 1 FROM pg_notify('{CHANNEL}', seq::text)) END
FROM newest
"""

REASONS_SQL = """
WITH moved AS (
    SELECT (%(at)s::timestamptz AT TIME ZONE z.tally_zone)::date AS day, reason, delta
    FROM unnest(%(reasons)s::text[], %(deltas)s::bigint[]) AS d(reason, delta)
    CROSS JOIN store_settings z
), days AS (
    INSERT INTO reason_days (day, site, kiosk, cycle, moment, language, suspect, reason, n)
    SELECT day, %(site)s, %(kiosk)s, %(cycle)s, %(moment)s, %(language)s, %(suspect)s,
           reason, delta
    FROM moved ORDER BY reason
    ON CONFLICT (site, day, kiosk, cycle, moment, language, suspect, reason)
    DO UPDATE SET n = reason_days.n + excluded.n
)
INSERT INTO reason_months (month, site, kiosk, cycle, moment, language, suspect, reason, n)
SELECT date_trunc('month', day)::date, %(site)s, %(kiosk)s, %(cycle)s, %(moment)s,
       %(language)s, %(suspect)s, reason, delta
FROM moved ORDER BY reason
ON CONFLICT (month, site, kiosk, cycle, moment, language, suspect, reason)
DO UPDATE SET n = reason_months.n + excluded.n
"""

CHANGES_SQL = """
INSERT INTO changes (kind, rating_id, at)
SELECT %s, id, at FROM unnest(%s::text[], %s::timestamptz[]) AS c(id, at)
ORDER BY at, id
RETURNING seq
"""

CURSOR_PREFIX = "pg1:"


def rating_from_row(row: tuple[Any, ...]) -> Rating:
    id_, at, site, kiosk, cycle, stage, moment, score, scale, language, reasons, flags = row
    return Rating(
        id=id_,
        at=at.astimezone(UTC),
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


class PostgresRatings:
    """The contract's :class:`~..contract.RatingStore`: adding a stored id again is a no-op."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.months = db.run(partitions)

    def add(self, rating: Rating) -> None:
        self.add_many([rating])

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
            self.db.run(lambda conn: ensure_partitions(conn, months))
            self.months |= months
        payload = json.dumps([r.to_record() for r in batch])

        def work(conn: psycopg.Connection) -> int:
            # The feed lock first, held to commit: writers take turns, so sequence order
            # is commit order (a resumed cursor never skips a change) and no two writers
            # upsert the same tally rows in different orders.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
            stored, _ = conn.execute(ADD_SQL, {"batch": payload, "size": len(batch)}).fetchone()
            return stored

        return self.db.run(work)

    def set_reasons(self, rating: Rating, reasons: Iterable[str]) -> None:
        """Set the reasons a customer picked; the reason tallies move by the difference."""
        wanted = list(reasons)
        rating_id = rating.id

        def work(conn: psycopg.Connection) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
            row = conn.execute(
                "SELECT at, site, kiosk, cycle, moment, language, 'suspect' = ANY (flags), reasons"
                " FROM ratings WHERE id = %s AND at = (SELECT at FROM rating_ids WHERE id = %s)"
                " FOR UPDATE",
                (rating_id, rating_id),
            ).fetchone()
            if row is None:
                raise StoreError(f"no rating {rating_id!r} in {self.db.where.safe}")
            at, site, kiosk, cycle, moment, language, suspect, before = row
            if list(before) == wanted:
                return
            conn.execute(
                "UPDATE ratings SET reasons = %s WHERE id = %s AND at = %s",
                (wanted, rating_id, at),
            )
            delta = Counter(wanted)
            delta.subtract(Counter(before))
            moved = sorted((r, n) for r, n in delta.items() if n)
            if moved:
                conn.execute(
                    REASONS_SQL,
                    {
                        "at": at,
                        "site": site,
                        "kiosk": kiosk,
                        "cycle": cycle,
                        "moment": moment,
                        "language": language,
                        "suspect": suspect,
                        "reasons": [r for r, _ in moved],
                        "deltas": [n for _, n in moved],
                    },
                )
            append_changes(conn, "amend", [(rating_id, at)])

        self.db.run(work)

    def get(self, rating_id: str) -> Rating | None:
        def work(conn: psycopg.Connection) -> Rating | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM ratings WHERE id = %s"
                " AND at = (SELECT at FROM rating_ids WHERE id = %s)",
                (rating_id, rating_id),
            ).fetchone()
            return rating_from_row(row) if row else None

        return self.db.run(work)

    def query(self, where: RatingFilter | None = None, *, batch: int = 2000) -> Iterator[Rating]:
        """Stream matching ratings in time order through a server-side cursor, on a
        connection of its own (so writes meanwhile are not part of its transaction)."""
        conditions, params = self.conditions(where or RatingFilter())
        statement = f"SELECT {COLUMNS} FROM ratings WHERE {conditions} ORDER BY at, id"
        with connect(self.db.where) as conn:
            try:
                with conn.transaction(), conn.cursor(name="servicecycle_query") as cursor:
                    cursor.itersize = batch
                    cursor.execute(statement, params)
                    for row in cursor:
                        yield rating_from_row(row)
            except psycopg.Error as exc:
                raise StoreError(self.db.refused(exc)) from None

    def count(self, where: RatingFilter | None = None) -> int:
        conditions, params = self.conditions(where or RatingFilter())
        return self.db.run(
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


def append_changes(conn: psycopg.Connection, kind: str, rows: list[Any]) -> None:
    """Append to the feed (the caller holds the feed lock) and wake the followers."""
    ids = [row[0] for row in rows]
    ats = [row[1] for row in rows]
    seqs = conn.execute(CHANGES_SQL, (kind, ids, ats)).fetchall()
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(seqs[-1][0])))


class PostgresChangeFeed:
    """The contract's :class:`~..contract.ChangeFeed`: the ``changes`` table's sequence.

    Cursors are ``pg1:<sequence number>``. Writers append under one advisory
    lock held to commit, so numbers become visible in order and a resumed
    cursor never skips one; a change is delivered again only when a consumer
    resumes from an older cursor.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, since: datetime | None = None) -> Cursor:
        if since is None:
            return f"{CURSOR_PREFIX}0"

        def work(conn: psycopg.Connection) -> int:
            row = conn.execute(
                "SELECT coalesce((SELECT min(seq) - 1 FROM changes WHERE at >= %s),"
                " (SELECT max(seq) FROM changes), 0)",
                (since,),
            ).fetchone()
            return int(row[0])

        return f"{CURSOR_PREFIX}{self.db.run(work)}"

    def changes(self, after: Cursor | None = None, limit: int = 1000) -> list[Change]:
        if limit < 1:
            raise StoreError(f"change feed: limit must be at least 1, not {limit}")
        start = parse_cursor(after)
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT c.seq, c.kind, "
                + ", ".join(f"r.{c.strip()}" for c in COLUMNS.split(","))
                + " FROM changes c JOIN ratings r ON r.id = c.rating_id AND r.at = c.at"
                " WHERE c.seq > %s ORDER BY c.seq LIMIT %s",
                (start, limit),
            ).fetchall()
        )
        kinds: dict[str, ChangeKind] = {"new": "new", "amend": "amend"}
        return [
            Change(f"{CURSOR_PREFIX}{row[0]}", kinds[row[1]], rating_from_row(row[2:]))
            for row in rows
        ]

    def wait(self, after: Cursor | None, timeout: float) -> bool:
        """Block until a change after ``after`` exists (LISTEN/NOTIFY), up to ``timeout`` s."""
        with connect(self.db.where, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            newest = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            if newest > parse_cursor(after):
                return True
            return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
