"""The store contract: everything the rest of servicecycle may ask of a store.

One module of :class:`typing.Protocol` classes, so an engine (the data folder
today, PostgreSQL next) is any object with these methods, and a consumer that
types its store as :class:`SiteStore` cannot reach an engine's internals.
A site store is an aggregate of small stores, one per kind of record::

    store.ratings    RatingStore   add, patch reasons, get by id, query a period and scope
    store.changes    ChangeFeed    every new or amended rating, resumable from a cursor
    store.tallies    Tallies       counts per day, site, kiosk, moment and score, for reports
    store.alerts     AlertStore    the alert book's transitions, acknowledgements, faults
    store.answers    AnswerStore   survey answers: one per rating, claimed atomically, erasable
    store.journal    JournalStore  notification attempts and outcomes
    store.silences   SilenceStore  silences set by staff
    store.events     JournalStore  what kiosks did: opened, closed, a staff sign-in

Guarantees every engine gives (see docs/store.md, "The store contract"):

- **durable on return**: a write method that returns has made its record
  durable (fsynced, or committed); one that raises :class:`~..errors.StoreError`
  may or may not have written it, and says so;
- **records are never removed**: changes are appended (a patch, an event);
  the one exception is personal data: :meth:`AnswerStore.erase` blanks a
  survey answer's comment and contact details for good (a tombstone the data
  folder's compaction folds in, an ``UPDATE`` in PostgreSQL);
- **idempotence is the reader's**: adding a rating whose id is stored already
  is a no-op on PostgreSQL but a second copy in the data folder, so anything
  that may repeat an add (import, copy) checks ``get`` first, and consumers of
  the change feed are idempotent on the rating id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ..rating import Rating
from .ratings import RatingFilter

if TYPE_CHECKING:  # the reports package reads through this contract; no import cycle at run time
    from ..reports.collect import Progress, Rollups, Scope, Windows
    from ..reports.known import StoredValues

#: An opaque, printable position in a change feed: save it, hand it back later.
Cursor = str
#: What happened to a rating: recorded, or changed afterwards (reasons added).
ChangeKind = Literal["new", "amend"]
#: A stored record: a JSON object with at least a string ``id`` and ``at`` (UTC ISO time).
Record = dict[str, Any]
#: The fields of a survey answer that hold personal data, as erasing them leaves them.
#: An erased answer also has ``erased``: who erased it, when and why (never the text).
ERASED_ANSWER: Mapping[str, Any] = {"comment": "", "contact": None, "contact_consent": False}


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


@runtime_checkable
class Tallies(Protocol):
    """The counts reports read, kept by the store so a report never re-reads the ratings.

    A report asks for one :class:`~..reports.collect.Rollups`: tallies (whole
    numbers per scale and score, and per reason) added up by moment, site,
    kiosk, language, local day and month over the report's windows. The folder
    keeps a summary per partition and time zone (``cache/reports/``); PostgreSQL
    keeps daily and monthly rollups updated in the same transaction as the
    ratings. Both give exactly the figures a count of :meth:`RatingStore.query`
    would.
    """

    def rollup(
        self,
        zone: ZoneInfo,
        windows: Windows,
        scope: Scope,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> Rollups:
        """The tallies of ``windows`` (local days of ``zone``) for the ratings in ``scope``.

        ``use_cache=False`` recounts from the ratings (what a suspected stale
        rollup is checked against); ``progress`` is called as (done, of all).
        """

    def values(
        self,
        zone: ZoneInfo,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> StoredValues:
        """Every site, kiosk, language, cycle and moment some stored rating names."""


@runtime_checkable
class AlertStore(Protocol):
    """The alert book: transitions, acknowledgements, engine starts and rule faults."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one event (a record with ``id`` and ``at``); durable when this returns."""

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        """Events filed in [since, until) (None: open), in the order they were filed."""

    def version(self) -> object:
        """A cheap value that differs after any change: lets a reader keep what it computed."""


@runtime_checkable
class JournalStore(Protocol):
    """The notification journal: one row per delivery attempt and outcome."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one row; durable when this returns."""

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        """Rows filed in [since, until) (None: open), in the order they were filed."""


@runtime_checkable
class SilenceStore(Protocol):
    """Silences set by staff: added, and ended early by a patch."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one silence; durable when this returns."""

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        """Silences filed in [since, until) (changes applied), in the order they were filed."""

    def patch(self, record_id: str, fields: Mapping[str, Any]) -> bool:
        """Change fields of the silence ``record_id``; False when there is no such silence."""


@runtime_checkable
class AnswerStore(Protocol):
    """Follow-up survey answers, keyed by the id of the rating they answer."""

    def claim(
        self, record: Mapping[str, Any], then: Callable[[], None] | None = None
    ) -> Record | None:
        """Store ``record`` as the answer to rating ``record["id"]`` unless it has one.

        Returns None when stored (durably), else the answer already stored,
        which is left as it was. Atomic across threads and processes: of any
        number of concurrent claims for one rating, exactly one stores. ``then``
        runs once the answer is stored, inside :meth:`held` (the answer's own
        follow-up writes, so a recovery never sees them half done).
        """

    def held(self) -> AbstractContextManager[None]:
        """Exclude claims while held: what a recovery of half-done claims runs in.

        An engine on which adding a rating twice is a no-op may hold nothing.
        """

    def find(self, rating_id: str) -> Record | None:
        """The answer to the rating ``rating_id``, or None (erasures applied)."""

    def erase(self, targets: Mapping[str, datetime], fields: Mapping[str, Any]) -> list[str]:
        """Set ``fields`` in each answer of ``targets`` not erased yet; durable on return.

        ``targets`` maps a rating id to when its answer was given (its ``at``,
        which says where it is filed); ``fields`` is :data:`ERASED_ANSWER` and
        an ``erased`` note (``core/answers.py`` builds them). An answer that
        has an ``erased`` note already is left as it is, so the first erasure
        stands, and one not found is skipped. Returns the ids erased by this
        call. Every reader gives the fields as set from then on; the data
        folder appends a patch (compaction rewrites the file without the old
        text), PostgreSQL updates the row. Atomic against claims.
        """

    def compact(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Make erased text leave the engine's files now, not at its next maintenance.

        The data folder rewrites the answers' partitions (``store compact`` for
        that table alone); an engine that erases in place has nothing to do and
        returns False. ``progress`` is called as (done, of all).
        """

    def records(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        """Answers given in [since, until) (None: open), in the order they were filed.

        Erasures are applied: an erased answer comes with its text blanked.
        """


@runtime_checkable
class SiteStore(Protocol):
    """One site's store, whatever the engine; close it when done."""

    @property
    def engine(self) -> str:
        """The name of the engine behind it (``folder``, ``postgresql``)."""

    @property
    def schema(self) -> int:
        """The version of the engine's own layout this store is at."""

    @property
    def tally_zone(self) -> str | None:
        """The zone whose local days the stored daily tallies count, if they count one.

        ``None`` for an engine that counts any zone's days when asked (the folder).
        Reports in another zone are still exact, computed from the ratings.
        """

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

    @property
    def events(self) -> JournalStore: ...

    def close(self) -> None:
        """Release what the store holds (locks, connections); closing twice is fine."""


@runtime_checkable
class StoreEngine(Protocol):
    """What an engine registers under the ``servicecycle.stores`` entry-point group."""

    #: The name it is registered (and shown) under.
    name: str

    def open(self, target: str, *, read_only: bool = False, zone: str = "UTC") -> SiteStore:
        """Open the store at ``target`` (a path, or a URL of this engine's scheme).

        ``zone`` is the site's time zone: an engine that keeps daily rollups
        counts a new store's local days in it (an existing store keeps its own).

        Raises :class:`~..errors.StoreError` with one line naming what to fix
        (a missing folder, an unreachable server), never another exception.
        """
