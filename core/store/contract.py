"""The store contract: everything the rest of servicecycle may ask of a store.

One module of :class:`typing.Protocol` classes, so an engine (the data folder
today, PostgreSQL next) is any object with these methods, and a consumer that
types its store as :class:`SiteStore` cannot reach an engine's internals.
A site store is an aggregate of small stores, one per kind of record::

    store.ratings    RatingStore   add, patch reasons, get by id, query a period and scope
    store.changes    ChangeFeed    every new or amended rating, resumable from a cursor
    store.tallies    Tallies       per-day counts per site, kiosk, cycle, moment and score
    store.alerts     AlertStore    the alert book's transitions, acknowledgements, faults
    store.answers    AnswerStore   survey answers: one per rating, claimed atomically
    store.journal    JournalStore  notification attempts and outcomes
    store.silences   SilenceStore  silences set by staff

Guarantees every engine gives (see docs/store.md, "The store contract"):

- **durable on return**: a write method that returns has made its record
  durable (fsynced, or committed); one that raises :class:`~..errors.StoreError`
  may or may not have written it, and says so;
- **records are never removed**: changes are appended (a patch, an event);
- **idempotence is the reader's**: adding a rating whose id is stored already
  is a no-op on PostgreSQL but a second copy in the data folder, so anything
  that may repeat an add (import, copy) checks ``get`` first, and consumers of
  the change feed are idempotent on the rating id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ..rating import Rating
from .ratings import RatingFilter

#: An opaque, printable position in a change feed: save it, hand it back later.
Cursor = str
#: What happened to a rating: recorded, or changed afterwards (reasons added).
ChangeKind = Literal["new", "amend"]
#: A stored record: a JSON object with at least a string ``id`` and ``at`` (UTC ISO time).
Record = dict[str, Any]


@runtime_checkable
class RatingStore(Protocol):
    """Recorded ratings, filed by their time."""

    def add(self, rating: Rating) -> None:
        """Store one rating; durable when this returns."""

    def add_many(self, ratings: Iterable[Rating]) -> int:
        """Store many ratings at once (cheaper than one by one); returns how many."""

    def set_reasons(self, rating: Rating, reasons: Iterable[str]) -> None:
        """Attach the reasons a customer picked after rating; durable when this returns."""

    def get(self, rating_id: str) -> Rating | None:
        """The rating with this id, reasons applied, or None."""

    def query(self, where: RatingFilter | None = None) -> Iterator[Rating]:
        """Matching ratings, streamed (never all held at once), in the order they were filed."""

    def count(self, where: RatingFilter | None = None) -> int:
        """How many ratings match."""


@dataclass(frozen=True)
class Change:
    """One entry of the change feed; ``cursor`` resumes the feed just after it."""

    cursor: Cursor
    kind: ChangeKind
    rating: Rating


@runtime_checkable
class ChangeFeed(Protocol):
    """Every rating as it is recorded or amended, by any process, in one ordered feed.

    - **ordered**: a rating's ``new`` comes before its ``amend``; changes that
      land after a cursor was handed out come after it;
    - **resumable**: ``changes(after=c.cursor)`` continues just after ``c``,
      in this process or in another one after a restart;
    - **at-least-once**: nothing recorded after a cursor is skipped, but a
      change may be delivered again (after a compaction or repair rewrote its
      partition, for instance): consumers are idempotent on ``rating.id``.
    """

    def start(self, since: datetime | None = None) -> Cursor:
        """A cursor before every rating recorded at or after ``since`` (None: all of them)."""

    def changes(self, after: Cursor | None = None, limit: int = 1000) -> list[Change]:
        """Up to ``limit`` changes after ``after`` (None: ``start()``), oldest first.

        An empty list means nothing new: ask again later with the same cursor.
        A cursor this engine did not make raises :class:`~..errors.StoreError`.
        """


@dataclass(frozen=True)
class DayTally:
    """The ratings of one local day in one cell (site, kiosk, cycle, moment, language).

    ``scores`` holds (scale, score, how many) for each score given at least
    once, ``reasons`` (reason, how many times picked): whole numbers that add
    up exactly across days and sites, so a report over a year and a chain is
    a sum, never a re-read of the ratings.
    """

    day: date
    site: str
    kiosk: str
    cycle: str
    moment: str
    language: str
    suspect: bool
    scores: tuple[tuple[int, int, int], ...]
    reasons: tuple[tuple[str, int], ...] = ()

    @property
    def count(self) -> int:
        return sum(n for _, _, n in self.scores)


@runtime_checkable
class Tallies(Protocol):
    """Per-day counts of the ratings, kept by the store so reports never rebuild them."""

    def days(
        self,
        zone: ZoneInfo,
        since: date,
        until: date,
        *,
        site: str | None = None,
        kiosk: str | None = None,
        cycle: str | None = None,
        moment: str | None = None,
    ) -> list[DayTally]:
        """The tallies of the local days [since, until) in ``zone``, one per day and cell.

        They count exactly the ratings :meth:`RatingStore.query` would return
        for that period (suspect presses included, marked ``suspect``).
        """


@runtime_checkable
class AlertStore(Protocol):
    """The alert book: transitions, acknowledgements, engine starts and rule faults."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one event (a record with ``id`` and ``at``); durable when this returns."""

    def records(self, since: datetime | None = None) -> Iterator[Record]:
        """Events filed at or after ``since``, in the order they were filed."""


@runtime_checkable
class JournalStore(Protocol):
    """The notification journal: one row per delivery attempt and outcome."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one row; durable when this returns."""

    def records(self, since: datetime | None = None) -> Iterator[Record]:
        """Rows filed at or after ``since``, in the order they were filed."""


@runtime_checkable
class SilenceStore(Protocol):
    """Silences set by staff: added, and ended early by a patch."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one silence; durable when this returns."""

    def records(self, since: datetime | None = None) -> Iterator[Record]:
        """Silences (changes applied), in the order they were filed."""

    def patch(self, record_id: str, fields: Mapping[str, Any]) -> bool:
        """Change fields of the silence ``record_id``; False when there is no such silence."""


@runtime_checkable
class AnswerStore(Protocol):
    """Follow-up survey answers, keyed by the id of the rating they answer."""

    def claim(self, record: Mapping[str, Any]) -> Record | None:
        """Store ``record`` as the answer to rating ``record["id"]`` unless it has one.

        Returns None when stored (durably), else the answer already stored,
        which is left as it was. Atomic across threads and processes: of any
        number of concurrent claims for one rating, exactly one stores.
        """

    def find(self, rating_id: str) -> Record | None:
        """The answer to the rating ``rating_id``, or None."""

    def records(self, since: datetime | None = None) -> Iterator[Record]:
        """Answers given at or after ``since``, in the order they were filed."""


@runtime_checkable
class SiteStore(Protocol):
    """One site's store, whatever the engine; close it when done."""

    @property
    def engine(self) -> str:
        """The name of the engine behind it (``folder``, ``postgresql``)."""

    @property
    def ratings(self) -> RatingStore: ...

    @property
    def changes(self) -> ChangeFeed: ...

    @property
    def tallies(self) -> Tallies: ...

    @property
    def alerts(self) -> AlertStore: ...

    @property
    def answers(self) -> AnswerStore: ...

    @property
    def journal(self) -> JournalStore: ...

    @property
    def silences(self) -> SilenceStore: ...

    def close(self) -> None:
        """Release what the store holds (locks, connections); closing twice is fine."""


@runtime_checkable
class StoreEngine(Protocol):
    """What an engine registers under the ``servicecycle.stores`` entry-point group."""

    #: The name it is registered (and shown) under.
    name: str

    def open(self, target: str, *, read_only: bool = False) -> SiteStore:
        """Open the store at ``target`` (a path, or a URL of this engine's scheme).

        Raises :class:`~..errors.StoreError` with one line naming what to fix
        (a missing folder, an unreachable server), never another exception.
        """
