"""One PostgreSQL database: a connection pool, the schema check, and retried transactions.

Every write the engine makes is one transaction that is safe to repeat (a rating id
is stored once, a claim is a unique key), so losing the connection mid-write is
handled by running the whole transaction again on a fresh connection, for up to
``retry_for`` seconds; after that the caller gets one line saying the server is gone
and that the write may not be stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ...errors import StoreError
from .schema import SCHEMA, migrate, refuse_newer, schema_version, tally_zone
from .url import CONNECT_TIMEOUT, StoreURL, connect, parse_url, redact

T = TypeVar("T")

#: Errors after which the whole transaction is simply run again (it is idempotent).
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
#: Session settings of every pooled connection. JIT off: compiling a plan takes tens
#: of milliseconds (40 ms for the write of one rating, which then runs in 0.5 ms), more
#: than any query the engine makes on its rollups takes to run.
OPTIONS = ("-c jit=off",)
#: Connections one process keeps at most (the recorder, a dispatcher thread, a reader).
POOL_SIZE = 4

log = logging.getLogger(__name__)


class Database:
    """The pool and the retry loop every part of the PostgreSQL engine shares."""

    def __init__(
        self,
        url: str,
        *,
        migrate_schema: bool = True,
        read_only: bool = False,
        retry_for: float = 15.0,
        zone: str = "UTC",
    ) -> None:
        self.where: StoreURL = parse_url(url)
        self.retry_for = retry_for
        self.read_only = read_only
        with connect(self.where) as first:  # a clear line for a wrong URL, password, database
            if migrate_schema and not read_only:
                migrate(first, self.where.safe, zone)
            else:
                self.check_schema(first)
            self.tally_zone = tally_zone(first)
            first.commit()
        self.pool = ConnectionPool(
            self.where.url,
            kwargs={
                "connect_timeout": CONNECT_TIMEOUT,
                "application_name": "servicecycle",
                "options": " ".join(
                    OPTIONS + (("-c default_transaction_read_only=on",) if read_only else ())
                ),
            },
            min_size=1,
            max_size=POOL_SIZE,
            check=ConnectionPool.check_connection,
            open=True,
            name="servicecycle",
        )

    def check_schema(self, conn: psycopg.Connection) -> None:
        version = schema_version(conn)
        refuse_newer(version, self.where.safe)
        if version != SCHEMA:
            raise StoreError(
                f"the database {self.where.safe} has no servicecycle schema {SCHEMA} yet: "
                "run `servicecycle --store URL store migrate`"
            )

    def close(self) -> None:
        self.pool.close()

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run ``work`` in one transaction; on a lost connection or a deadlock, run it again."""
        deadline = time.monotonic() + self.retry_for
        while True:
            left = deadline - time.monotonic()
            try:
                with (
                    self.pool.connection(timeout=max(0.5, left)) as conn,
                    conn.transaction(),
                ):
                    return work(conn)
            except RETRYABLE:
                continue
            except PoolTimeout:
                self.gone(deadline)
            except psycopg.OperationalError as exc:
                if conn_broken(exc):
                    self.gone(deadline)
                    continue
                raise StoreError(self.refused(exc)) from None
            except psycopg.Error as exc:
                raise StoreError(self.refused(exc)) from None

    def gone(self, deadline: float) -> None:
        """The server did not answer: wait a little and let the caller retry, or give up."""
        if time.monotonic() < deadline:
            time.sleep(0.2)
            return
        try:  # the reason, in the words of a direct connection attempt
            connect(self.where).close()
            reason = "it answers again now"
        except StoreError as exc:
            reason = str(exc)
        raise StoreError(
            f"lost the connection to PostgreSQL at {self.where.server} and could not "
            f"reconnect within {self.retry_for:g} s ({reason}); the last write may not be "
            "stored: repeat it (a rating added twice is stored once)"
        ) from None

    def refused(self, exc: psycopg.Error) -> str:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return f"the store {self.where.safe} is open read-only; nothing was written"
        return f"PostgreSQL at {self.where.safe} refused a request: {redact(first, self.where)}"


def conn_broken(exc: psycopg.OperationalError) -> bool:
    """Whether an error means the connection (not the request) failed."""
    if isinstance(exc, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow):
        return True
    return exc.sqlstate is None or exc.sqlstate.startswith("08")
