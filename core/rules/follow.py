"""Following the store: new ratings from any process, as they land.

The kiosk, `servicecycle record` and the survey page may record in different
processes; the rule engine sees all of them by reading what was appended to
the ratings partitions since it last looked. Only complete lines are read, and
a partition rewritten by compaction is re-read with already-seen ids skipped.
A damaged line is logged once and passed over: one bad line must not stop
alerting for every rating after it (``store check`` and ``repair`` deal with it).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime

from ..errors import RatingError
from ..rating import Rating, format_time
from ..store import Store, segment

log = logging.getLogger(__name__)


class RatingFollower:
    def __init__(self, store: Store, since: datetime) -> None:
        self.folder = store.tables_dir / "ratings"
        self.since = format_time(since)
        self.positions: dict[str, tuple[int, int]] = {}  # file name -> (inode, offset)
        self.seen: OrderedDict[str, Rating] = OrderedDict()
        self.remember = 50_000
        self.reported: set[tuple[str, int]] = set()  # damaged lines already logged

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
                    self._report(item, offset)
                    continue
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
                try:
                    rating = Rating.from_record(record)
                except (RatingError, KeyError, TypeError, ValueError) as exc:
                    self._report(f"{path}: record {rating_id!r} is not a rating ({exc})", offset)
                    continue
                self.seen[rating_id] = rating
                if len(self.seen) > self.remember:
                    self.seen.popitem(last=False)
                yield "new", rating

    def _report(self, problem: object, base: int) -> None:
        """Log a damaged line once, not at every poll; the rules go on without it."""
        where = (str(problem), base)
        if where not in self.reported:
            self.reported.add(where)
            log.error("skipped by the rules: %s; run `servicecycle store check`", problem)
