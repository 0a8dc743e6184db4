"""Silences: "don't notify about alerts matching these labels until then".

As in Alertmanager: matchers, ``starts_at``/``ends_at``, who created it and why.
A silence stops notifications, never recording: the engine still stores the
alert. Silences live in the store table ``silences`` (append-only; expiring one
appends a patch setting ``ends_at``), so the CLI in another process can add one
and the running dispatcher picks it up at its next refresh.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import ServiceCycleError, StoreError
from ..store import Store
from ..store.contract import SiteStore
from ..store.folder import site_store_of
from .matchers import Matcher, matches_all, parse_matchers
from .notification import parse_utc, utc_text

log = logging.getLogger(__name__)

TABLE = "silences"


class SilenceError(ServiceCycleError):
    """A silence that cannot be added or expired, and why."""


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime

    def is_active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": utc_text(self.created_at),
            "matchers": [str(m) for m in self.matchers],
            "starts_at": utc_text(self.starts_at),
            "ends_at": utc_text(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Silence:
        return cls(
            id=record["id"],
            matchers=parse_matchers(record["matchers"]),
            starts_at=parse_utc(record["starts_at"]) or datetime.min.replace(tzinfo=UTC),
            ends_at=parse_utc(record["ends_at"]) or datetime.min.replace(tzinfo=UTC),
            created_by=record.get("created_by", ""),
            comment=record.get("comment", ""),
            created_at=parse_utc(record["at"]) or datetime.min.replace(tzinfo=UTC),
        )


def new_silence(
    matchers: Mapping[str, Any] | Iterable[str | Matcher],
    *,
    created_by: str,
    comment: str,
    now: datetime,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    starts_at: datetime | None = None,
) -> Silence:
    """Validate a silence's fields; :class:`SilenceError` names the one at fault."""
    try:
        parsed = parse_matchers(matchers)
    except ValueError as exc:
        raise SilenceError(f"matchers: {exc}") from None
    if not parsed:
        raise SilenceError("matchers: give at least one, e.g. severity=warning")
    if all(m.matches({}) for m in parsed):
        raise SilenceError(
            "matchers: these match every alert (each matches an empty label); "
            "name at least one label value"
        )
    if not isinstance(created_by, str) or not created_by.strip():
        raise SilenceError("created_by: say who is silencing (a name or role)")
    if not isinstance(comment, str) or not comment.strip():
        raise SilenceError("comment: say why (e.g. 'lift repair until 14:00')")
    start = starts_at or now
    if (ends_at is None) == (duration is None):
        raise SilenceError("give either ends_at or duration")
    end = ends_at if ends_at is not None else start + duration  # type: ignore[operator]
    for name, value in (("starts_at", start), ("ends_at", end)):
        if value.tzinfo is None:
            raise SilenceError(f"{name}: {value.isoformat()} needs a time zone")
    if end <= start:
        raise SilenceError(
            f"ends_at: {end.isoformat()} must be after starts_at {start.isoformat()}"
        )
    if end <= now:
        raise SilenceError(f"ends_at: {end.isoformat()} is already past")
    return Silence(
        id=uuid.uuid4().hex,
        matchers=parsed,
        starts_at=start.astimezone(UTC),
        ends_at=end.astimezone(UTC),
        created_by=created_by.strip(),
        comment=comment.strip(),
        created_at=now.astimezone(UTC),
    )


class SilenceBook:
    """The silences of one store, cached in memory and refreshed on demand."""

    def __init__(self, store: SiteStore | Store, write_lock: threading.Lock | None = None) -> None:
        self.table = site_store_of(store).silences
        self.write_lock = write_lock or threading.Lock()
        self._silences: dict[str, Silence] = {}

    def load(self) -> None:
        """Read the table again (another process may have added or expired silences)."""
        found: dict[str, Silence] = {}
        try:
            for record in self.table.records():
                try:
                    silence = Silence.from_record(record)
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("ignoring unreadable silence %r: %s", record.get("id"), exc)
                    continue
                found[silence.id] = silence
        except StoreError as exc:
            log.error("cannot read silences (keeping the ones known): %s", exc)
            return
        self._silences = found

    def add(self, silence: Silence) -> Silence:
        with self.write_lock:
            self.table.append(silence.record())
        self._silences = {**self._silences, silence.id: silence}
        return silence

    def expire(self, silence_id: str, now: datetime) -> Silence:
        silence = self._silences.get(silence_id)
        if silence is None:
            self.load()
            silence = self._silences.get(silence_id)
        if silence is None:
            raise SilenceError(f"no silence with id {silence_id!r}")
        if silence.ends_at <= now:
            return silence
        ended = replace(silence, ends_at=max(now, silence.starts_at))
        with self.write_lock:
            self.table.patch(silence_id, {"ends_at": utc_text(ended.ends_at)})
        self._silences = {**self._silences, silence_id: ended}
        return ended

    def all(self) -> list[Silence]:
        return sorted(self._silences.values(), key=lambda s: (s.starts_at, s.id))

    def active(self, now: datetime) -> list[Silence]:
        return [s for s in self.all() if s.is_active(now)]
