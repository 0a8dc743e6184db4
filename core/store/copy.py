"""Copy one site store into another, engine to engine, through the contract only.

``store copy SRC DST`` moves a data folder into PostgreSQL (or back) with this. It
is idempotent, which is what makes it resumable: every rating and record is looked
for in the destination by its id before it is written, so a copy interrupted at any
point is finished by running it again, and a copy run twice changes nothing. A
rating already in the destination whose reasons differ gets the source's reasons
(a patch); a silence ended early in the source is ended in the destination too,
and so is a survey answer erased in the source (an erasure in the destination
stays: a copy never brings erased text back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from ..rating import Rating, parse_time
from .contract import ERASED_ANSWER, SiteStore
from .ratings import RatingFilter

#: Called as (done, of all) after each batch.
CopyProgress = Callable[[int, int], None]
#: Ratings per destination transaction (and per look-up of what it holds already).
BATCH = 1000
#: The record stores a site store has, by the names the folder gives their tables.
RECORD_PARTS = ("alerts", "journal", "silences", "events", "answers")


@dataclass
class CopyResult:
    """What a copy did: per kind, how many were written and how many were there already."""

    copied: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    patched: dict[str, int] = field(default_factory=dict)

    def note(self, kind: str, *, copied: int = 0, present: int = 0, patched: int = 0) -> None:
        self.copied[kind] = self.copied.get(kind, 0) + copied
        self.present[kind] = self.present.get(kind, 0) + present
        self.patched[kind] = self.patched.get(kind, 0) + patched

    @property
    def changed(self) -> int:
        return sum(self.copied.values()) + sum(self.patched.values())


def _batches(items: Iterator[Rating], size: int) -> Iterator[list[Rating]]:
    while batch := list(islice(items, size)):
        yield batch


def total_of(source: SiteStore) -> int:
    """How many things a copy of ``source`` looks at (for a progress bar)."""
    ratings = source.ratings.count(RatingFilter(include_suspect=True))
    records = sum(sum(1 for _ in getattr(source, part).records()) for part in RECORD_PARTS)
    return ratings + records


def copy_store(
    source: SiteStore,
    target: SiteStore,
    *,
    progress: CopyProgress | None = None,
    total: int | None = None,
) -> CopyResult:
    """Copy every rating, reason, alert, answer, journal row, silence and event."""
    result = CopyResult()
    done = 0
    every = total if total is not None else 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, max(every, done))

    for batch in _batches(source.ratings.query(RatingFilter(include_suspect=True)), BATCH):
        first = min(r.at for r in batch)
        last = max(r.at for r in batch) + timedelta(microseconds=1)
        held = {
            r.id: r
            for r in target.ratings.query(
                RatingFilter(since=first, until=last, include_suspect=True)
            )
        }
        fresh = [r for r in batch if r.id not in held]
        if fresh:
            target.ratings.add_many(fresh)
        patched = 0
        for rating in batch:
            there = held.get(rating.id)
            if there is not None and tuple(there.reasons) != tuple(rating.reasons):
                target.ratings.set_reasons(there, rating.reasons)
                patched += 1
        result.note("ratings", copied=len(fresh), present=len(batch) - len(fresh), patched=patched)
        tick(len(batch))
    for part in RECORD_PARTS:
        _copy_records(part, getattr(source, part), getattr(target, part), result, tick)
    return result


def _copy_records(part: str, source, target, result: CopyResult, tick) -> None:  # noqa: ANN001
    held = {r.get("id"): r for r in target.records()}
    for record in source.records():
        record_id = record.get("id")
        there = held.get(record_id)
        if there is None:
            if part == "answers":
                target.claim(record)
            else:
                target.append(record)
            held[record_id] = record
            result.note(part, copied=1)
        elif part == "silences" and there.get("ends_at") != record.get("ends_at"):
            target.patch(record_id, {"ends_at": record.get("ends_at")})
            result.note(part, patched=1)
        elif part == "answers" and record.get("erased") and there.get("erased") is None:
            fields = {**ERASED_ANSWER, "erased": record["erased"]}
            target.erase({record_id: parse_time(there["at"])}, fields)
            held[record_id] = {**there, **fields}
            result.note(part, patched=1)
        else:
            result.note(part, present=1)
        tick(1)
