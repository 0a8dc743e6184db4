"""PostgreSQL URLs and connecting: every user mistake becomes one line naming what to fix.

A store URL is typed by a person into ``--store`` or a configuration file, so a typo,
a server that is down, a wrong password and a missing database must each read as
what it is, and the password must never be echoed back (messages show `safe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg

from ...errors import StoreError

SCHEMES = ("postgresql", "postgres")

#: How long a connection attempt may take before the server counts as unreachable.
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class StoreURL:
    """A parsed ``postgresql://user:password@host:port/database`` URL."""

    url: str
    user: str | None
    host: str | None
    port: int
    database: str

    @property
    def safe(self) -> str:
        """The URL as messages show it: never with the password."""
        user = f"{self.user}@" if self.user else ""
        host = self.host or "localhost"
        return f"postgresql://{user}{host}:{self.port}/{self.database}"

    @property
    def server(self) -> str:
        return f"{self.host or 'localhost'}:{self.port}"


def is_postgres_url(text: str) -> bool:
    """Whether a ``--store`` value names PostgreSQL (rather than a data folder)."""
    return text.split(":", 1)[0].lower() in SCHEMES and "://" in text


def parse_url(text: str) -> StoreURL:
    """Check a store URL's shape before any connection is tried."""
    example = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise StoreError(
            f"store URL: the port is not a number from 1 to 65535; write {example}"
        ) from None
    if parts.scheme.lower() not in SCHEMES or not text.lower().startswith(
        f"{parts.scheme.lower()}://"
    ):
        raise StoreError(
            f"store URL: it must start with postgresql:// (or postgres://); write {example}"
        )
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise StoreError(f"store URL names no database: add /DATABASE at its end, as in {example}")
    if parts.fragment:
        raise StoreError(
            f"store URL: '#' is not allowed (in a password write %23); as in {example}"
        )
    user = unquote(parts.username) if parts.username else None
    return StoreURL(url=text, user=user, host=parts.hostname, port=port or 5432, database=database)


def describe_connect_error(where: StoreURL, exc: psycopg.Error) -> str:
    """One line for a failed connection, from libpq's message (it has no SQLSTATE then)."""
    text = str(exc)
    lower = text.lower()
    if "password authentication failed" in lower or ("role" in lower and "does not exist" in lower):
        return (
            f"PostgreSQL at {where.server} refused user {where.user!r}: wrong user name or "
            f"password; fix them in the store URL {where.safe}"
        )
    if "no password supplied" in lower:
        return (
            f"PostgreSQL at {where.server} wants a password for user {where.user!r}: add it "
            f"to the store URL (postgresql://USER:PASSWORD@...) or to ~/.pgpass"
        )
    if "database" in lower and "does not exist" in lower:
        return (
            f"PostgreSQL at {where.server} has no database {where.database!r}: create it "
            f"(createdb {where.database}) or fix the database name in {where.safe}"
        )
    if "pg_hba.conf" in lower:
        return (
            f"PostgreSQL at {where.server} does not let this machine in as {where.user!r}: "
            f"add a line for it to the server's pg_hba.conf ({where.safe})"
        )
    if (
        "connection refused" in lower
        or "timeout expired" in lower
        or "could not translate host name" in lower
        or "failed to resolve host" in lower
        or "no route to host" in lower
        or "network is unreachable" in lower
        or "no such file or directory" in lower
        or "server closed the connection" in lower
        or "the database system is" in lower
    ):
        return (
            f"cannot reach PostgreSQL at {where.server}: is the server running, and are the "
            f"host and port in the store URL right? ({where.safe})"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"cannot connect to PostgreSQL at {where.safe}: {redact(first, where)}"


def redact(text: str, where: StoreURL) -> str:
    """Take the URL's password out of a message that might quote it."""
    password = urlsplit(where.url).password
    return text.replace(password, "***") if password else text


def connect(where: StoreURL | str, *, autocommit: bool = False) -> psycopg.Connection:
    """Connect, or raise StoreError with one line saying what to fix."""
    if isinstance(where, str):
        where = parse_url(where)
    try:
        return psycopg.connect(
            where.url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="servicecycle",
        )
    except psycopg.ProgrammingError as exc:  # libpq refused the conninfo itself
        raise StoreError(
            f"store URL {where.safe} is not valid: {redact(str(exc), where)}"
        ) from None
    except psycopg.Error as exc:
        raise StoreError(describe_connect_error(where, exc)) from None
