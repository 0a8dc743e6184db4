"""The ``notifications`` table: every delivery attempt and its outcome, durably.

One row per event of a delivery: ``queued`` (before the first attempt, with
the whole payload), ``retry`` (an attempt failed and another is scheduled),
``sent``, ``failed`` (attempts exhausted or not worth retrying) and
``suppressed`` (the group resolved but its receiver has ``send_resolved =
false``). Reading it back at start tells the dispatcher, per group and
receiver, what was last delivered and when (so a restart does not repeat it
before ``repeat_interval``) and which deliveries never finished (so they are
sent again, with the same idempotency key).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import StoreError
from ..store import Store
from ..store.contract import SiteStore
from ..store.folder import site_store_of
from .notification import Notification, parse_utc, utc_text

log = logging.getLogger(__name__)

TABLE = "notifications"
QUEUED, RETRY, SENT, FAILED, SUPPRESSED = "queued", "retry", "sent", "failed", "suppressed"
FINAL = (SENT, FAILED, SUPPRESSED)

#: (group key, receiver): the unit of grouping and of delivery bookkeeping.
GroupId = tuple[str, str]


@dataclass(frozen=True)
class Delivered:
    """What a receiver last got for a group, and when."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: datetime
    sequence: int


@dataclass
class Restored:
    """What the table says at start."""

    delivered: dict[GroupId, Delivered] = field(default_factory=dict)
    #: The last notification each group's receiver refused for good, if it was the last word.
    refused: dict[GroupId, Delivered] = field(default_factory=dict)
    sequences: dict[GroupId, int] = field(default_factory=dict)
    #: Deliveries with no final outcome: (notification, attempts already made).
    unfinished: list[tuple[Notification, int]] = field(default_factory=list)


class Journal:
    """Rows in and out of the ``notifications`` table.

    ``write_lock`` serialises this process's appends: the store's file lock
    excludes other processes (and other ``Store`` objects), not threads that
    share one ``Store``.
    """

    def __init__(
        self,
        store: SiteStore | Store,
        clock: Callable[[], datetime],
        write_lock: threading.Lock | None = None,
    ) -> None:
        self.table = site_store_of(store).journal
        self.clock = clock
        self.write_lock = write_lock or threading.Lock()

    def record(
        self,
        notification: Notification,
        outcome: str,
        attempt: int,
        error: str | None = None,
        *,
        permanent: bool = False,
    ) -> bool:
        """Append one row; a store failure is logged (and ``False`` returned), never raised."""
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "at": utc_text(self.clock()),
            "delivery": notification.id,
            "group_key": notification.group_key,
            "receiver": notification.receiver,
            "status": notification.status,
            "fingerprints": sorted(a.fingerprint for a in notification.alerts),
            "firing": sorted(notification.firing),
            "resolved": sorted(notification.resolved),
            "sequence": notification.sequence,
            "key": notification.idempotency_key,
            "attempt": attempt,
            "outcome": outcome,
            "error": error,
        }
        if outcome == QUEUED:
            row["payload"] = notification.payload()
        if permanent:
            row["permanent"] = True  # refused by the receiver: not sent again as it is
        try:
            with self.write_lock:
                self.table.append(row)
        except StoreError as exc:
            log.error(
                "cannot record %s notification %s for %s: %s",
                outcome,
                notification.id,
                notification.receiver,
                exc,
            )
            return False
        return True

    def restore(self, window: timedelta) -> Restored:
        """Read the last ``window`` of rows; unreadable history is logged and skipped."""
        since = self.clock() - window
        restored = Restored()
        queued: dict[str, Notification] = {}
        attempts: dict[str, int] = {}
        done: set[str] = set()
        try:
            rows = sorted(self.table.records(since), key=lambda r: r.get("at", ""))
        except StoreError as exc:
            log.error("cannot read the notifications table; starting without history: %s", exc)
            return restored
        for row in rows:
            try:
                gid = (row["group_key"], row["receiver"])
                sequence = int(row["sequence"])
                delivery = row["delivery"]
                outcome = row["outcome"]
            except (KeyError, TypeError, ValueError):
                continue
            restored.sequences[gid] = max(restored.sequences.get(gid, 0), sequence)
            attempts[delivery] = max(attempts.get(delivery, 0), int(row.get("attempt") or 0))
            if outcome == QUEUED and isinstance(row.get("payload"), dict):
                try:
                    queued[delivery] = Notification.from_payload(row["payload"])
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("cannot re-read queued notification %s: %s", delivery, exc)
            elif outcome in FINAL:
                done.add(delivery)
                outcome_of = Delivered(
                    firing=frozenset(row.get("firing", ())),
                    resolved=frozenset(row.get("resolved", ())),
                    at=parse_utc(row["at"]) or self.clock(),
                    sequence=sequence,
                )
                if outcome in (SENT, SUPPRESSED):
                    restored.delivered[gid] = outcome_of
                    restored.refused.pop(gid, None)
                elif row.get("permanent"):
                    restored.refused[gid] = outcome_of
        for delivery, notification in queued.items():
            if delivery not in done:
                restored.unfinished.append((notification, attempts.get(delivery, 0)))
        return restored
