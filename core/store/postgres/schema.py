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
SCHEMA = 1

#: Advisory lock keys (any constant bigint, namespaced by these values).
MIGRATE_LOCK = 0x5C_0001
PARTITION_LOCK = 0x5C_0002
FEED_LOCK = 0x5C_0003

#: Channel followers LISTEN on; the payload is the newest change's sequence number.
CHANNEL = "servicecycle_changes"

STEPS: dict[int, str] = {
    1: """
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
    CREATE INDEX ratings_scope ON ratings (site, kiosk, moment, at);
    -- Counts per UTC hour: any whole-hour time zone regroups them into its own local
    -- days exactly (DST included); the store does not need to know the site's zone.
    CREATE TABLE tallies (
        hour timestamptz NOT NULL,
        site text NOT NULL,
        kiosk text NOT NULL,
        cycle text NOT NULL,
        moment text NOT NULL,
        scale smallint NOT NULL,
        score smallint NOT NULL,
        flags text[] NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (site, hour, kiosk, cycle, moment, scale, score, flags)
    );
    CREATE INDEX tallies_hour ON tallies (hour);
    CREATE TABLE changes (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('added', 'reasons')),
        rating_id text NOT NULL,
        at timestamptz NOT NULL,
        stored timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE answers (
        rating_id text NOT NULL UNIQUE REFERENCES rating_ids (id),
        at timestamptz NOT NULL,
        record jsonb NOT NULL
    );
    """,
}


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


def migrate(conn: psycopg.Connection, where: str = "") -> int:
    """Create or upgrade the schema; idempotent. Returns how many steps it applied.

    ``conn`` must not be inside a transaction; the work is committed here.
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
