"""Following the store: new ratings from any process, as they land.

The kiosk, `servicecycle record` and the survey page may record in different
processes; the rule engine sees all of them by reading what was appended to
the ratings partitions since it last looked. Only complete lines are read, and
a partition rewritten by compaction is re-read with already-seen ids skipped.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime

from ..rating import Rating, format_time
from ..store import Store, segment
from ..store.table import StoreCorruption


class RatingFollower:
    def __init__(self, store: Store, since: datetime) -> None:
        self.folder = store.tables_dir / "ratings"
        self.since = format_time(since)
        self.positions: dict[str, tuple[int, int]] = {}  # file name -> (inode, offset)
        self.seen: OrderedDict[str, Rating] = OrderedDict()
        self.remember = 50_000

    def poll(self) -> Iterator[tuple[str, Rating]]:
        """``("new", rating)`` for ratings appended since the last poll (all since
        ``since`` on the first), ``("amended", rating)`` when reasons were added later.
        """
        if not self.folder.is_dir():
            return
        names = sorted(
            n for n in os.listdir(self.folder) if n.endswith(".log") and not n.startswith(".")
        )
        for name in names:
            if name[: len(name) - 4] < self.since[: len(name) - 4]:
                continue
            path = self.folder / name
            try:
                with open(path, "rb") as handle:
                    inode = os.fstat(handle.fileno()).st_ino
                    known_inode, offset = self.positions.get(name, (inode, 0))
                    if known_inode != inode:
                        offset = 0  # rewritten by compaction or repair: read again, skip seen ids
                    handle.seek(offset)
                    data = handle.read()
            except FileNotFoundError:
                self.positions.pop(name, None)
                continue
            end = data.rfind(b"\n") + 1  # only complete lines
            self.positions[name] = (inode, offset + end)
            for item in segment.scan(path, data[:end]):
                if isinstance(item, segment.Damage):
                    raise StoreCorruption(item)
                kind, record = item
                rating_id = record.get("id")
                if kind == segment.PATCH:
                    known = self.seen.get(rating_id)
                    if known is not None and "reasons" in record.get("set", {}):
                        known = known.with_reasons(tuple(record["set"]["reasons"]))
                        self.seen[rating_id] = known
                        yield "amended", known
                    continue
                if rating_id in self.seen or record.get("at", "") < self.since:
                    continue
                rating = Rating.from_record(record)
                self.seen[rating_id] = rating
                if len(self.seen) > self.remember:
                    self.seen.popitem(last=False)
                yield "new", rating
