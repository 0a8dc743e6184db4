"""The hub's side of shipping: a kiosk's batch of changes, stored exactly once.

A kiosk sends what its own change feed holds, and sends it again whenever it
is not sure the hub kept it (a cut line, a lost reply, a hub killed mid-batch).
So taking a batch is idempotent on the rating id: a rating stored already is
counted as a duplicate and changes nothing, and reasons arriving again (or an
older copy without them, out of order) never undo what is stored.

Every record is checked as a recording on this machine would be (one path,
:meth:`Catalogue.new_rating`), except that its time is the kiosk's own and may
be ahead of the hub's clock. A record the hub cannot take is refused on its
own, with the reason, so the records behind it still go in.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..catalogue import Catalogue
from ..errors import RatingError, ServiceCycleError
from ..importing import KnownIds
from ..rating import Rating, parse_time
from ..store.contract import SiteStore
from ..text import shown

#: How far ahead of the hub's clock a kiosk's rating time is still taken (a fast clock).
AHEAD = timedelta(days=2)
#: The fields a shipped rating carries (its stored record).
FIELDS = ("id", "at", "site", "kiosk", "cycle", "stage", "moment", "score", "scale", "language")


@dataclass
class BatchResult:
    """What one batch did: counted per record, refusals with the reason."""

    accepted: int = 0
    duplicates: int = 0
    amended: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "amended": self.amended,
            "refused": self.refused,
        }


class Ingest:
    """Take kiosks' batches into one store; one batch at a time (they are short)."""

    def __init__(self, store: SiteStore, catalogue: Catalogue) -> None:
        self.store = store
        self.catalogue = catalogue
        self.lock = threading.Lock()
        # The data folder files a second copy of an id it holds; PostgreSQL ignores it.
        self.known = KnownIds(store.ratings) if getattr(store.ratings, "filed_on", None) else None

    def take(self, site: str, kiosk: str, changes: Sequence[object]) -> BatchResult:
        """Store a batch from kiosk ``kiosk`` of site ``site``; durable when this returns."""
        result = BatchResult()
        checked: list[tuple[int, str, Rating]] = []
        for index, change in enumerate(changes):
            try:
                kind, rating = self.check(change, site, kiosk)
            except ServiceCycleError as exc:
                rating_id = change.get("rating", {}).get("id") if isinstance(change, dict) else None
                result.refused.append(
                    {
                        "index": index,
                        "id": rating_id if isinstance(rating_id, str) else None,
                        "error": str(exc),
                    }
                )
                continue
            checked.append((index, kind, rating))
        with self.lock:
            self._store(checked, result)
        return result

    def check(self, change: object, site: str, kiosk: str) -> tuple[str, Rating]:
        """One shipped change as a validated rating, or :class:`ServiceCycleError` saying why."""
        if not isinstance(change, dict):
            raise ServiceCycleError("a change is a JSON object with 'kind' and 'rating'")
        kind = change.get("kind")
        if kind not in ("new", "amend"):
            raise ServiceCycleError(f"kind {shown(kind)} is not allowed; allowed: new, amend")
        record = change.get("rating")
        if not isinstance(record, dict):
            raise ServiceCycleError("'rating' must be a JSON object (a stored rating record)")
        missing = [name for name in FIELDS if name not in record]
        if missing:
            raise ServiceCycleError(f"rating is missing {', '.join(missing)}")
        if record["site"] != site or record["kiosk"] != kiosk:
            raise ServiceCycleError(
                f"rating of site {shown(record['site'])} kiosk {shown(record['kiosk'])}: "
                f"this kiosk's credential writes only as site {site!r} kiosk {kiosk!r}"
            )
        for name in ("id", "cycle", "stage", "moment", "language"):
            if not isinstance(record[name], str):
                raise RatingError(name, record[name], "text, as the store writes it")
        at = record["at"]
        if not isinstance(at, str):
            raise RatingError("at", at, "an ISO 8601 time with a zone, as the store writes it")
        try:
            when = parse_time(at)
        except (ValueError, OverflowError):
            raise RatingError(
                "at", at, "an ISO 8601 time with a zone, as the store writes it"
            ) from None
        reasons, flags = record.get("reasons", []), record.get("flags", [])
        for name, value in (("reasons", reasons), ("flags", flags)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RatingError(name, value, "a list of ids")
        rating = self.catalogue.new_rating(
            id=record["id"],
            at=when,
            site=site,
            kiosk=kiosk,
            cycle=record["cycle"],
            stage=record["stage"],
            moment=record["moment"],
            score=record["score"],
            scale=record["scale"],
            language=record["language"],
            reasons=reasons,
            flags=flags,
            ahead=AHEAD,
        )
        return kind, rating

    def _store(self, checked: list[tuple[int, str, Rating]], result: BatchResult) -> None:
        new: dict[str, Rating] = {}
        reasons: dict[str, Rating] = {}
        for _, _kind, rating in checked:
            if rating.id in new:  # the same rating twice in one batch (new, then amend)
                if rating.reasons and rating.reasons != new[rating.id].reasons:
                    new[rating.id] = rating
                else:
                    result.duplicates += 1
                continue
            stored = self._stored(rating)
            if stored is None:
                new[rating.id] = rating
                continue
            if rating.reasons and tuple(stored.get("reasons", ())) != rating.reasons:
                reasons[rating.id] = rating  # reasons come later, never taken away
            else:
                result.duplicates += 1
        if new:
            batch = list(new.values())
            stored_count = self.store.ratings.add_many(batch)
            result.accepted += len(batch) if self.known is not None else stored_count
            result.duplicates += 0 if self.known is not None else len(batch) - stored_count
            if self.known is not None:
                for rating in batch:
                    self.known.add(rating)
        for rating in reasons.values():
            self.store.ratings.set_reasons(rating, rating.reasons)
            if self.known is not None:
                self.known.add(rating)
            result.amended += 1

    def _stored(self, rating: Rating) -> dict[str, Any] | None:
        if self.known is not None:
            return self.known.find(rating)
        if not rating.reasons:
            return None  # a no-op insert on an engine that keeps ids unique
        found = self.store.ratings.get(rating.id)
        return found.to_record() if found is not None else None
