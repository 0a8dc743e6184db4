"""A rating: one customer's verdict on one moment of truth.

Ratings carry their own UUID (store-level ids get reused) and a UTC timestamp;
the site's time zone only matters for opening hours and reports.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

#: Flags a rating may carry, and what each means.
FLAGS: dict[str, str] = {
    "suspect": "a repeated press too soon after the previous one; kept, but not "
    "counted in alerts or statistics by default",
    "test": "recorded to try the system out, not by a customer",
    "survey": "given on the follow-up survey page (kiosk 'survey'), one per answered stage",
}

#: Site and kiosk ids: letters, digits, dot, dash and underscore, up to 64 characters.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Rating:
    """A recorded rating. Build new ones with :meth:`Catalogue.new_rating`."""

    id: str
    at: datetime
    site: str
    kiosk: str
    cycle: str
    stage: str
    moment: str
    score: int
    scale: int
    language: str
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = field(default=())

    @property
    def suspect(self) -> bool:
        return "suspect" in self.flags

    def with_reasons(self, reasons: tuple[str, ...]) -> Rating:
        return replace(self, reasons=reasons)

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready form stored on disk and exported."""
        return {
            "id": self.id,
            "at": format_time(self.at),
            "site": self.site,
            "kiosk": self.kiosk,
            "cycle": self.cycle,
            "stage": self.stage,
            "moment": self.moment,
            "score": self.score,
            "scale": self.scale,
            "language": self.language,
            "reasons": list(self.reasons),
            "flags": list(self.flags),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Rating:
        """Rebuild a rating the store wrote (trusted input: no catalogue checks)."""
        return cls(
            id=record["id"],
            at=parse_time(record["at"]),
            site=record["site"],
            kiosk=record["kiosk"],
            cycle=record["cycle"],
            stage=record["stage"],
            moment=record["moment"],
            score=int(record["score"]),
            scale=int(record["scale"]),
            language=record["language"],
            reasons=tuple(record.get("reasons", ())),
            flags=tuple(record.get("flags", ())),
        )


def new_rating_id(at: datetime | None = None) -> str:
    """A UUIDv7 (RFC 9562) whose time part is ``at``: unique, and it says where to look.

    The store files a rating by its time, so an id that carries the time lets
    the store find a rating by id in one partition instead of the whole history.
    """
    millis = int((at or utc_now()).timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(os.urandom(10)) & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value).hex


def id_time(rating_id: str) -> datetime | None:
    """The time a UUIDv7 rating id carries, or ``None`` for other ids."""
    if len(rating_id) != 32 or rating_id[12] != "7":
        return None
    try:
        millis = int(rating_id[:12], 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: sorts as text in time order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Read a timestamp; a naive one is taken to be UTC."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)
