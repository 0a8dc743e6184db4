"""The durable store: TinyDB's document API over append-only, partitioned logs.

See docs/store.md for the design: why appends are cheap at any size, how a crash
is recovered, and how several processes share one data folder.
"""

from .ratings import RatingFilter, RatingTable
from .store import SCHEMA, Store, StoreBusy
from .table import LogTable, StoreCorruption

__all__ = [
    "SCHEMA",
    "LogTable",
    "RatingFilter",
    "RatingTable",
    "Store",
    "StoreBusy",
    "StoreCorruption",
]
