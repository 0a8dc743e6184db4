"""The PostgreSQL schema servicecycle creates and migrates for itself.

``servicecycle_schema`` holds one row, the schema version. `migrate` brings a database
up to `SCHEMA` step by step, each step in the same transaction as the version bump and
under an advisory lock, so two processes starting at once migrate it once; a database
written by a newer servicecycle is refused rather than half-understood.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg import sql

from ...errors import StoreError

#: The schema this servicecycle writes.
SCHEMA = 2

#: Advisory lock keys (any constant bigint, namespaced by these values).
MIGRATE_LOCK = 0x5C_0001
PARTITION_LOCK = 0x5C_0002
FEED_LOCK = 0x5C_0003

#: Channel followers LISTEN on; the payload is the newest change's sequence number.
CHANNEL = "servicecycle_changes"

STEPS: dict[int, str] = {
    1: """
    -- What this store was set up with: the zone its daily tallies count local days in.
    CREATE TABLE store_settings (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        tally_zone text NOT NULL
    );
    -- Every rating id once, whatever its time: the global uniqueness a partitioned
    -- table cannot give (its primary key must include the partition key), and the
    -- id -> time index that lets `get` read one partition.
    CREATE TABLE rating_ids (
        id text PRIMARY KEY,
        at timestamptz NOT NULL
    );
    CREATE TABLE ratings (
        id text NOT NULL,
        at timestamptz NOT NULL,
        site text NOT NULL,
        kiosk text NOT NULL,
        cycle text NOT NULL,
        stage text NOT NULL,
        moment text NOT NULL,
        score smallint NOT NULL,
        scale smallint NOT NULL,
        language text NOT NULL,
        reasons text[] NOT NULL DEFAULT '{}',
        flags text[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (id, at)
    ) PARTITION BY RANGE (at);
    CREATE INDEX ratings_at ON ratings (at);
    CREATE INDEX ratings_scope ON ratings (site, kiosk, moment, at);
    -- Tallies, written in the same transaction as the ratings they count, at three
    -- grains: local day per kiosk (exact for any period of whole days), month per
    -- kiosk (a year is 12 rows per cell), and local day for the whole chain (a
    -- chain's daily series without reading every kiosk). Reasons per day and month.
    CREATE TABLE tally_days (
        day date NOT NULL,
        site text NOT NULL,
        kiosk text NOT NULL,
        cycle text NOT NULL,
        moment text NOT NULL,
        language text NOT NULL,
        suspect boolean NOT NULL,
        scale smallint NOT NULL,
        score smallint NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (site, day, kiosk, cycle, moment, language, suspect, scale, score)
    );
    CREATE INDEX tally_days_day ON tally_days (day);
    CREATE TABLE tally_months (
        month date NOT NULL,
        site text NOT NULL,
        kiosk text NOT NULL,
        cycle text NOT NULL,
        moment text NOT NULL,
        language text NOT NULL,
        suspect boolean NOT NULL,
        scale smallint NOT NULL,
        score smallint NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (month, site, kiosk, cycle, moment, language, suspect, scale, score)
    );
    CREATE TABLE tally_chain_days (
        day date NOT NULL,
        cycle text NOT NULL,
        moment text NOT NULL,
        language text NOT NULL,
        suspect boolean NOT NULL,
        scale smallint NOT NULL,
        score smallint NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (day, cycle, moment, language, suspect, scale, score)
    );
    CREATE TABLE reason_days (
        day date NOT NULL,
        site text NOT NULL,
        kiosk text NOT NULL,
        cycle text NOT NULL,
        moment text NOT NULL,
        language text NOT NULL,
        suspect boolean NOT NULL,
        reason text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (site, day, kiosk, cycle, moment, language, suspect, reason)
    );
    CREATE INDEX reason_days_day ON reason_days (day);
    CREATE TABLE reason_months (
        month date NOT NULL,
        site text NOT NULL,
        kiosk text NOT NULL,
        cycle text NOT NULL,
        moment text NOT NULL,
        language text NOT NULL,
        suspect boolean NOT NULL,
        reason text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (month, site, kiosk, cycle, moment, language, suspect, reason)
    );
    CREATE INDEX reason_months_site ON reason_months (site, month);
    CREATE INDEX tally_months_site ON tally_months (site, month);
    CREATE TABLE changes (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('new', 'amend')),
        rating_id text NOT NULL,
        at timestamptz NOT NULL,
        stored timestamptz NOT NULL DEFAULT now()
    );
    -- The alert book, the notification journal, silences and kiosk events: records
    -- appended in order, each a JSON object with an id and a time.
    CREATE TABLE records (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL,
        id text NOT NULL,
        at timestamptz NOT NULL,
        body jsonb NOT NULL
    );
    CREATE INDEX records_kind_at ON records (kind, at);
    CREATE INDEX records_kind_id ON records (kind, id);
    -- One answer per rating: the unique key is the claim.
    CREATE TABLE answers (
        rating_id text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        at timestamptz NOT NULL,
        body jsonb NOT NULL
    );
    CREATE INDEX answers_at ON answers (at);
    """,
    2: """
    -- Local hours, for the report's hour-of-day x weekday heat map: per site (all
    -- kiosks and moments together) and for the whole chain. Filled from the ratings
    -- already stored; written with every rating from now on.
    CREATE TABLE tally_hours (
        day date NOT NULL,
        hour smallint NOT NULL,
        site text NOT NULL,
        cycle text NOT NULL,
        language text NOT NULL,
        suspect boolean NOT NULL,
        scale smallint NOT NULL,
        score smallint NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (site, day, hour, cycle, language, suspect, scale, score)
    );
    CREATE TABLE tally_chain_hours (
        day date NOT NULL,
        hour smallint NOT NULL,
        cycle text NOT NULL,
        language text NOT NULL,
        suspect boolean NOT NULL,
        scale smallint NOT NULL,
        score smallint NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (day, hour, cycle, language, suspect, scale, score)
    );
    INSERT INTO tally_hours
    SELECT (at AT TIME ZONE z.tally_zone)::date, extract(hour FROM at AT TIME ZONE z.tally_zone),
           site, cycle, language, 'suspect' = ANY (flags), scale, score, count(*)
    FROM ratings CROSS JOIN store_settings z GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    INSERT INTO tally_chain_hours
    SELECT day, hour, cycle, language, suspect, scale, score, sum(n)
    FROM tally_hours GROUP BY 1, 2, 3, 4, 5, 6, 7;
    """,
}

#: The record kinds (the folder's table names) kept in ``records``.
RECORD_KINDS = ("alerts", "notifications", "silences", "events")


def tally_zone(conn: psycopg.Connection) -> str:
    """The time zone the store's daily tallies count local days in."""
    row = conn.execute("SELECT tally_zone FROM store_settings").fetchone()
    return str(row[0]) if row else "UTC"


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def partition_name(start: datetime) -> str:
    return f"ratings_{start:%Y_%m}"


def schema_version(conn: psycopg.Connection) -> int | None:
    """The database's schema version, or None when servicecycle never wrote to it."""
    exists = conn.execute("SELECT to_regclass('servicecycle_schema') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT version FROM servicecycle_schema").fetchone()
    return int(row[0]) if row else None


def refuse_newer(version: int | None, where: str) -> None:
    if version is not None and version > SCHEMA:
        raise StoreError(
            f"the database {where} has servicecycle schema {version}, newer than this "
            f"servicecycle knows ({SCHEMA}): upgrade servicecycle to use it"
        )


def migrate(conn: psycopg.Connection, where: str = "", zone: str = "UTC") -> int:
    """Create or upgrade the schema; idempotent. Returns how many steps it applied.

    ``conn`` must not be inside a transaction; the work is committed here. ``zone``
    is the time zone a new store's daily tallies count local days in (see
    :func:`tally_zone`); an existing store keeps its own.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS servicecycle_schema ("
            " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
            " version integer NOT NULL,"
            " migrated timestamptz NOT NULL DEFAULT now())"
        )
        version = schema_version(conn) or 0
        refuse_newer(version, where)
        applied = 0
        for step in range(version + 1, SCHEMA + 1):
            conn.execute(STEPS[step])
            applied += 1
        if applied:
            conn.execute(
                "INSERT INTO store_settings (tally_zone) VALUES (%s) ON CONFLICT DO NOTHING",
                (zone,),
            )
            conn.execute(
                "INSERT INTO servicecycle_schema (version) VALUES (%s)"
                " ON CONFLICT (one) DO UPDATE SET version = excluded.version, migrated = now()",
                (SCHEMA,),
            )
    return applied


def ensure_partitions(conn: psycopg.Connection, months: set[datetime]) -> None:
    """Create the month partitions ``months`` (first instants, UTC) that are missing.

    Run in its own short transaction *before* a write transaction: creating a partition
    locks the parent table exclusively, and a writer that already holds a lock on it
    while waiting for that would deadlock with another writer doing the same.
    """
    if not months:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        for start in sorted(months):
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF ratings FOR VALUES FROM ({}) TO ({})"
                ).format(
                    sql.Identifier(partition_name(start)),
                    sql.Literal(start),
                    sql.Literal(next_month(start)),
                )
            )


def partitions(conn: psycopg.Connection) -> set[datetime]:
    """The months that have a partition (their first instants, UTC)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'ratings'::regclass"
    ).fetchall()
    found = set()
    for (name,) in rows:
        year, month = name.removeprefix("ratings_").split("_")
        found.add(datetime(int(year), int(month), 1, tzinfo=UTC))
    return found
