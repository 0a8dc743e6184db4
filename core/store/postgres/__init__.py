"""Engine 2: the rating store in PostgreSQL (in progress; not yet behind the store contract).

See docs/store.md, "PostgreSQL (engine 2, in progress)": the schema, what each write
guarantees, and the throw-away server the tests run against.
"""

from .ratings import Change, PostgresStore
from .schema import SCHEMA, migrate, schema_version
from .url import StoreURL, connect, is_postgres_url, parse_url

__all__ = [
    "SCHEMA",
    "Change",
    "PostgresStore",
    "StoreURL",
    "connect",
    "is_postgres_url",
    "migrate",
    "parse_url",
    "schema_version",
]
