"""Engine 2, PostgreSQL, as a :class:`~..contract.SiteStore` and a registered engine.

Selected with ``--store postgresql://...`` or ``[store] url``; registered under the
``servicecycle.stores`` entry-point group as ``postgresql``. Nothing outside this
package imports its modules (an import-linter contract says so): consumers see the
contract only.
"""

from __future__ import annotations

import os

from .db import Database
from .ratings import PostgresChangeFeed, PostgresRatings
from .records import PostgresAnswers, PostgresLog, PostgresSilences
from .schema import SCHEMA
from .tallies import PostgresTallies


class PostgresStore:
    """One PostgreSQL database as a site store; safe to share between threads."""

    engine = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        migrate_schema: bool = True,
        retry_for: float = 15.0,
        zone: str = "UTC",
    ) -> None:
        self.db = Database(
            url,
            migrate_schema=migrate_schema,
            read_only=read_only,
            retry_for=retry_for,
            zone=zone,
        )
        try:
            self.ratings = PostgresRatings(self.db)
        except BaseException:
            self.db.close()
            raise
        self.changes = PostgresChangeFeed(self.db)
        self.tallies = PostgresTallies(self.db)
        self.alerts = PostgresLog(self.db, "alerts")
        self.journal = PostgresLog(self.db, "notifications")
        self.silences = PostgresSilences(self.db, "silences")
        self.events = PostgresLog(self.db, "events")
        self.answers = PostgresAnswers(self.db)

    @property
    def schema(self) -> int:
        return SCHEMA

    @property
    def tally_zone(self) -> str:
        return self.db.tally_zone

    @property
    def where(self) -> str:
        """The store's URL as messages show it (never the password)."""
        return self.db.where.safe

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresEngine:
    """The PostgreSQL engine, as registered under ``servicecycle.stores``."""

    name = "postgresql"

    def open(self, target: str, *, read_only: bool = False, zone: str = "UTC") -> PostgresStore:
        return PostgresStore(target, read_only=read_only, zone=zone, retry_for=retry_window())


#: Seconds a write waits for a restarting server before it fails (default 15).
RETRY_ENV = "SERVICECYCLE_STORE_RETRY"


def retry_window() -> float:
    """How long writes ride out a server restart: ``$SERVICECYCLE_STORE_RETRY`` or 15 s.

    A hub sets it short, so a kiosk hears 503 and backs off instead of waiting
    on a held request; a CLI import keeps the long default.
    """
    try:
        return min(3600.0, max(0.5, float(os.environ.get(RETRY_ENV, "15"))))
    except ValueError:
        return 15.0
