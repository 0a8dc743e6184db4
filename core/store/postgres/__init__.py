"""Engine 2: the site store in PostgreSQL (see docs/store.md, "PostgreSQL").

Used through the store contract only: ``open_store("postgresql://...")`` finds
:class:`PostgresEngine` by its entry point.
"""

from .schema import SCHEMA, migrate, schema_version
from .site import PostgresEngine, PostgresStore
from .url import StoreURL, connect, is_postgres_url, parse_url

__all__ = [
    "SCHEMA",
    "PostgresEngine",
    "PostgresStore",
    "StoreURL",
    "connect",
    "is_postgres_url",
    "migrate",
    "parse_url",
    "schema_version",
]
