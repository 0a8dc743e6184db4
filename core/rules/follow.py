"""Following the store's change feed: new ratings from any process, as they land.

The kiosk, `servicecycle record` and the survey page may record in different
processes; the rule engine sees all of them through the store's change feed
(:class:`~..store.contract.ChangeFeed`), never by reading files itself. The
feed is at-least-once — a data folder's compaction or repair delivers a
partition's ratings again — so this follower makes it exactly-once for the
engine: a rating seen before is passed over, or handed on as amended when
its reasons changed meanwhile.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime

from ..rating import Rating
from ..store.contract import ChangeFeed, Cursor

#: Changes asked of the feed at once.
BATCH = 1000


class RatingFollower:
    """``("new", rating)`` once per rating, ``("amended", rating)`` when its reasons come."""

    def __init__(self, feed: ChangeFeed, since: datetime, remember: int = 50_000) -> None:
        self.feed = feed
        self.cursor: Cursor = feed.start(since)
        self.seen: OrderedDict[str, Rating] = OrderedDict()
        self.remember = remember

    def poll(self) -> Iterator[tuple[str, Rating]]:
        """What the feed has had since the last poll (since ``since`` on the first)."""
        while True:
            batch = self.feed.changes(self.cursor, limit=BATCH)
            for change in batch:
                self.cursor = change.cursor
                rating = change.rating
                known = self.seen.get(rating.id)
                if known == rating:
                    continue  # delivered again (a compaction, a repair): judged already
                self.seen[rating.id] = rating
                self.seen.move_to_end(rating.id)
                if len(self.seen) > self.remember:
                    self.seen.popitem(last=False)
                yield ("new" if known is None else "amended"), rating
            if len(batch) < BATCH:
                return
