"""Follow-up survey answers: the customer's second, fuller word on a visit.

A kiosk rating covers one moment; the survey behind its QR code asks about
the whole service cycle, stage by stage. An answer is validated against the
catalogue here (not in the web app), stored once per kiosk rating in the
``answers`` table, and also turned into ordinary ratings — one per answered
stage, recorded with ``kiosk="survey"`` and the ``survey`` flag — so that the
rule engine, which follows the ratings partitions, can raise an alert on a bad
stage exactly as it does for a bad press on a kiosk.

One answer per kiosk rating: the answer's id *is* the rating id, and the
look-up and the insert happen under the data folder's ``answers.lock``, a
file lock that every process and thread of the site takes for that short
section (see :func:`record_answer`).

An answer's comment and contact details are personal data, and the scores are
not: :func:`erase_answer` (a guest's request) and :func:`prune_answers` (the
site's ``[survey] keep_contact_days``) blank the first and keep the second,
recording who erased them and when but never the text. The erasure is the
store's (:meth:`~.store.contract.AnswerStore.erase`), so every reader of
answers — the report's survey section, the console's follow-ups, the CLI —
gets the blanked answer without doing anything.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .cycle import Cycle, Moment, Stage
from .errors import ServiceCycleError, StoreError
from .rating import Rating, format_time, new_rating_id, parse_time, utc_now
from .store import RatingFilter
from .store.contract import ERASED_ANSWER, SiteStore
from .store.folder import site_store_of

if TYPE_CHECKING:
    from .catalogue import Catalogue
    from .runtime import Runtime
    from .store import Store

log = logging.getLogger(__name__)

#: The store table answers are kept in.
TABLE = "answers"
#: The kiosk id that ratings derived from survey answers carry (rules scope on it).
SURVEY_KIOSK = "survey"
#: The flag those ratings carry.
SURVEY_FLAG = "survey"
#: Longest comment kept, in characters (after line endings are normalised).
MAX_COMMENT = 2000
#: Longest contact detail kept, in characters.
MAX_CONTACT = 200
#: Flags of the kiosk rating that carry over to the derived ratings.
_INHERITED_FLAGS = ("test",)
#: Why an answer was erased, when the caller does not say: the guest asked.
ERASE_REQUEST = "request"
#: Who the erasures of :func:`prune_answers` are recorded as made by.
RETENTION = "retention"
#: Longest name (``by``) or reason an erasure records, in characters.
MAX_NOTE = 200
#: The personal fields an erasure may find text in, in the order messages name them.
PERSONAL = ("comment", "contact")
#: An answer's id: the kiosk rating's, 32 lowercase hex digits (a UUID's hex form).
_ANSWER_ID = re.compile(r"^[0-9a-f]{32}$", re.ASCII)
_DASHED_UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.ASCII
)
#: How to find an answer's id, for the messages that need one.
FIND_IDS = (
    "`servicecycle answers list` lists the answers with their ids "
    "(--contact TEXT finds a guest's, --since/--until a period)"
)


class AnswerError(ServiceCycleError):
    """An answer handed in by a caller has a bad field (the message says which)."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "…"
        super().__init__(f"answer field {field!r}: {shown!r} is not allowed; {allowed}")


class AlreadyAnswered(ServiceCycleError):
    """This kiosk rating already has its survey answer (one answer per token)."""

    def __init__(self, answer: SurveyAnswer) -> None:
        self.answer = answer
        super().__init__(f"rating {answer.id} was already answered at {format_time(answer.at)}")


@dataclass(frozen=True)
class Erasure:
    """What an erased answer keeps of its erasure: when, who, why, and what held text.

    Never the text itself: ``fields`` only names which of :data:`PERSONAL` had
    something in them (a report may still say "12 answers, 3 with a comment,
    erased").
    """

    at: datetime
    by: str
    reason: str
    fields: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "by": self.by,
            "reason": self.reason,
            "fields": list(self.fields),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Erasure:
        return cls(
            at=parse_time(record["at"]),
            by=str(record.get("by", "")),
            reason=str(record.get("reason", "")),
            fields=tuple(str(f) for f in record.get("fields", ())),
        )


@dataclass(frozen=True)
class StageScore:
    """One stage's rating on the survey page, and the derived rating recorded for it."""

    stage: str
    score: int
    moment: str  # the moment the derived rating was recorded on
    rating: str  # the derived rating's id


@dataclass(frozen=True)
class SurveyAnswer:
    """A stored survey answer, linked to the kiosk rating whose QR code led to it."""

    id: str  # = the kiosk rating's id
    at: datetime  # when the answer was given (UTC)
    rating_at: datetime  # when the kiosk rating was given
    site: str
    kiosk: str
    cycle: str
    moment: str
    language: str
    scale: int
    stages: tuple[StageScore, ...]
    comment: str
    contact: str | None
    contact_consent: bool
    #: Set once the comment and contact were erased (they are blank then).
    erased: Erasure | None = None

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready form stored in the ``answers`` table."""
        record = {
            "id": self.id,
            "at": format_time(self.at),
            "rating_at": format_time(self.rating_at),
            "site": self.site,
            "kiosk": self.kiosk,
            "cycle": self.cycle,
            "moment": self.moment,
            "language": self.language,
            "scale": self.scale,
            "stages": [
                {"stage": s.stage, "score": s.score, "moment": s.moment, "rating": s.rating}
                for s in self.stages
            ],
            "comment": self.comment,
            "contact": self.contact,
            "contact_consent": self.contact_consent,
        }
        if self.erased is not None:
            record["erased"] = self.erased.to_record()
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SurveyAnswer:
        """Rebuild an answer the store wrote (trusted input)."""
        return cls(
            id=record["id"],
            at=parse_time(record["at"]),
            rating_at=parse_time(record["rating_at"]),
            site=record["site"],
            kiosk=record["kiosk"],
            cycle=record["cycle"],
            moment=record["moment"],
            language=record["language"],
            scale=int(record["scale"]),
            stages=tuple(
                StageScore(s["stage"], int(s["score"]), s["moment"], s["rating"])
                for s in record.get("stages", ())
            ),
            comment=record.get("comment") or "",
            contact=record.get("contact"),
            contact_consent=bool(record.get("contact_consent", False)),
            erased=Erasure.from_record(record["erased"]) if record.get("erased") else None,
        )


def survey_moment(stage: Stage) -> Moment:
    """The moment a stage's survey score is recorded on: its first critical one, else its first.

    Critical moments are where alerts watch, so a bad stage lands where a rule can see it.
    """
    return next((m for m in stage.moments if m.critical), stage.moments[0])


def find_answer(store: SiteStore | Store, rating: Rating) -> SurveyAnswer | None:
    """The answer to ``rating``'s survey, if any."""
    record = site_store_of(store).answers.find(rating.id)
    if record is None:
        return None
    try:
        return SurveyAnswer.from_record(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{TABLE}: record {rating.id!r} is malformed: {exc}") from exc


def clean_text(value: str | None, field: str, limit: int) -> str:
    """Normalise a free-text field (line endings, NFC, outer blanks) and enforce its limit.

    Browsers send a textarea's line breaks as CRLF but count them as one
    character for ``maxlength``; normalising first keeps the two limits equal.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AnswerError(field, value, "text")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(text) > limit:
        raise AnswerError(field, text, f"at most {limit} characters (this has {len(text)})")
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t"]
    if bad:
        raise AnswerError(field, text, "text without control characters")
    return text


def check_answer(
    cycle: Cycle,
    rating: Rating,
    stage_scores: Mapping[str, int],
    comment: str | None,
    contact: str | None,
    contact_consent: bool,
) -> tuple[list[tuple[Stage, int]], str, str | None]:
    """Validate an answer against the rating's cycle; returns (stages in cycle order, comment,
    contact). Raises :class:`AnswerError` naming the field and what is allowed."""
    stages = {s.id: s for s in cycle.stages}
    if not isinstance(stage_scores, Mapping):
        raise AnswerError("stages", stage_scores, "a mapping of stage id to score")
    for stage_id, score in stage_scores.items():
        if stage_id not in stages:
            raise AnswerError(
                f"stages.{stage_id}", score, f"stages of cycle {cycle.id!r}: {', '.join(stages)}"
            )
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= rating.scale:
            raise AnswerError(
                f"stages.{stage_id}", score, f"a whole number from 1 to {rating.scale}"
            )
    comment = clean_text(comment, "comment", MAX_COMMENT)
    contact_text = clean_text(contact, "contact", MAX_CONTACT)
    if contact_text and not contact_consent:
        raise AnswerError(
            "contact", contact_text, "contact details are kept only when the customer consents"
        )
    if not stage_scores and not comment:
        raise AnswerError("stages", {}, "rate at least one stage, or leave a comment")
    ordered = [(s, stage_scores[s.id]) for s in cycle.stages if s.id in stage_scores]
    return ordered, comment, contact_text or None


def record_answer(
    runtime: Runtime,
    rating: Rating,
    stage_scores: Mapping[str, int],
    comment: str | None = None,
    contact: str | None = None,
    *,
    contact_consent: bool = False,
    now: datetime | None = None,
) -> SurveyAnswer:
    """Validate and store the survey answer to ``rating``, then feed it to the rule engine.

    1. Everything is validated first (the stages of the rating's cycle, scores
       1..the rating's scale, text sizes, consent for contact details, and each
       derived rating through the catalogue), so nothing is stored half-valid.
    2. Under the answers lock, the store is asked whether this rating already
       has an answer (:class:`AlreadyAnswered` if so) and the answer is appended;
       two concurrent submissions, in any processes, store exactly one answer.
    3. Still under the lock, one rating per answered stage is recorded through
       the recorder (kiosk ``survey``, flag ``survey``, on
       :func:`survey_moment`), where the rule engine sees it. The answer lists
       their ids; should the process die between 2 and 3,
       :func:`complete_answers` (run when the survey server starts) records
       the missing ones.
    """
    catalogue = runtime.catalogue
    cycle = catalogue.cycles.get(rating.cycle)
    if cycle is None:
        raise AnswerError("cycle", rating.cycle, "the rating's cycle is no longer loaded")
    ordered, comment_text, contact_text = check_answer(
        cycle, rating, stage_scores, comment, contact, contact_consent
    )
    at = now or utc_now()
    flags = (SURVEY_FLAG, *(f for f in _INHERITED_FLAGS if f in rating.flags))
    derived: list[Rating] = []
    scores: list[StageScore] = []
    for stage, score in ordered:
        moment = survey_moment(stage)
        # validated now; recorded after the answer
        derived_rating = _stage_rating(
            catalogue, rating, moment.id, score, flags, at, new_rating_id(at)
        )
        derived.append(derived_rating)
        scores.append(StageScore(stage.id, score, moment.id, derived_rating.id))
    answer = SurveyAnswer(
        id=rating.id,
        at=at,
        rating_at=rating.at,
        site=rating.site,
        kiosk=rating.kiosk,
        cycle=rating.cycle,
        moment=rating.moment,
        language=rating.language,
        scale=rating.scale,
        stages=tuple(scores),
        comment=comment_text,
        contact=contact_text,
        contact_consent=bool(contact_consent and contact_text),
    )

    def stage_ratings() -> None:
        # inside the claim: complete_answers() never sees an answer half recorded
        for item in derived:
            _record(runtime, item)

    existing = runtime.site_store.answers.claim(answer.to_record(), then=stage_ratings)
    if existing is not None:
        try:
            raise AlreadyAnswered(SurveyAnswer.from_record(existing))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{TABLE}: record {rating.id!r} is malformed: {exc}") from exc
    log.info(
        "survey answer for %s: %d stage(s), comment %s, contact %s",
        rating.id,
        len(scores),
        "yes" if comment_text else "no",
        "yes" if contact_text else "no",
    )
    return answer


def _stage_rating(
    catalogue: Catalogue,
    origin: Rating | SurveyAnswer,
    moment: str,
    score: int,
    flags: tuple[str, ...],
    at: datetime,
    rating_id: str,
) -> Rating:
    """The survey rating of one answered stage, validated through the catalogue."""
    return catalogue.new_rating(
        site=origin.site,
        kiosk=SURVEY_KIOSK,
        cycle=origin.cycle,
        moment=moment,
        score=score,
        scale=origin.scale,
        language=origin.language,
        flags=flags,
        at=at,
        id=rating_id,
    )


def _record(runtime: Runtime, item: Rating) -> Rating:
    return runtime.recorder.record(
        site=item.site,
        kiosk=item.kiosk,
        cycle=item.cycle,
        moment=item.moment,
        score=item.score,
        scale=item.scale,
        language=item.language,
        flags=item.flags,
        at=item.at,
        id=item.id,
    )


def complete_answers(runtime: Runtime, since: datetime) -> int:
    """Record the stage ratings of answers (given since ``since``) a crash left unrecorded.

    An answer is stored before its stage ratings; a process that dies in
    between leaves the answer with ratings missing. Their ids, stages and
    scores are in the answer, so they are recorded now, exactly as they would
    have been (same ids and times: the rules see them once). Returns how many
    were recorded. Runs under the answers lock, so it never races a submission.
    """
    store = runtime.site_store
    recorded = 0
    with store.answers.held():
        pending = [a for a in answers(store, since) if a.stages]
        if not pending:
            return 0
        first = min(a.at for a in pending)
        last = max(a.at for a in pending) + timedelta(microseconds=1)
        present = {
            r.id
            for r in store.ratings.query(RatingFilter(since=first, until=last, kiosk=SURVEY_KIOSK))
        }
        for answer in pending:
            missing = [s for s in answer.stages if s.rating not in present]
            if not missing:
                continue
            original = store.ratings.get(answer.id)
            inherited = tuple(f for f in _INHERITED_FLAGS if original and f in original.flags)
            flags = (SURVEY_FLAG, *inherited)
            for stage in missing:
                item = _stage_rating(
                    runtime.catalogue,
                    answer,
                    stage.moment,
                    stage.score,
                    flags,
                    answer.at,
                    stage.rating,
                )
                _record(runtime, item)
                recorded += 1
            log.warning(
                "survey answer for %s: recorded %d stage rating(s) an interrupted "
                "submission had left unrecorded",
                answer.id,
                len(missing),
            )
    return recorded


def answers(
    store: SiteStore | Store, since: datetime | None = None, until: datetime | None = None
) -> Iterator[SurveyAnswer]:
    """Stream stored answers given in [since, until), in the order they were filed.

    Erased answers come with their comment and contact blank (``erased`` set).
    """
    for record in site_store_of(store).answers.records(since, until):
        yield _answer_of(record)


def _answer_of(record: Mapping[str, Any]) -> SurveyAnswer:
    try:
        return SurveyAnswer.from_record(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{TABLE}: record {record.get('id')!r} is malformed: {exc}") from exc


# -- personal data: erasure and retention ---------------------------------------------


class AnswerNotFound(ServiceCycleError):
    """No stored answer has this id."""

    def __init__(self, answer_id: str, where: str = "this store") -> None:
        self.answer_id = answer_id
        super().__init__(
            f"no survey answer {answer_id} in {where}: an answer's id is the id of the "
            f"kiosk rating it answers; {FIND_IDS}"
        )


@dataclass(frozen=True)
class ErasedAnswer:
    """An answer whose comment and contact details are erased, and that erasure."""

    #: The answer as every reader gives it now: comment ``""``, contact ``None``.
    answer: SurveyAnswer
    erasure: Erasure

    @property
    def id(self) -> str:
        return self.answer.id


class AlreadyErased(ServiceCycleError):
    """This answer was erased before; that erasure stands (when and by whom: ``erased``)."""

    def __init__(self, erased: ErasedAnswer) -> None:
        self.erased = erased
        e = erased.erasure
        super().__init__(
            f"survey answer {erased.id} was already erased at {format_time(e.at)} "
            f"by {e.by} ({e.reason}); nothing to do"
        )


def parse_answer_id(value: object) -> str:
    """The answer id ``value`` names: 32 hex digits (a dashed UUID or capitals are read too).

    Raises :class:`AnswerError` naming the value and the form allowed.
    """
    text = value.strip().lower() if isinstance(value, str) else None
    if text is not None and _DASHED_UUID.match(text):
        text = text.replace("-", "")
    if text is None or not _ANSWER_ID.match(text):
        raise AnswerError(
            "id",
            value,
            "an answer's id is its kiosk rating's: 32 hexadecimal digits such as "
            f"0193a5c2e1b07c3d9f4a6b2e8d1c0f57; {FIND_IDS}",
        )
    return text


def _note(value: object, name: str) -> str:
    """A name or reason an erasure records: one line of printable text, 1 to MAX_NOTE long."""
    if not isinstance(value, str):
        raise AnswerError(name, value, "text")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise AnswerError(name, value, "a name or reason to record: not empty")
    if len(text) > MAX_NOTE:
        raise AnswerError(name, text, f"at most {MAX_NOTE} characters (this has {len(text)})")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise AnswerError(name, text, "one line of text, without control characters")
    return text


def _held(record: Mapping[str, Any]) -> tuple[str, ...]:
    """Which personal fields of a stored answer hold something."""
    return tuple(name for name in PERSONAL if str(record.get(name) or "").strip())


def _tombstone(erasure: Erasure) -> dict[str, Any]:
    return {**ERASED_ANSWER, "erased": erasure.to_record()}


def erase_answer(
    store: SiteStore | Store,
    answer_id: str,
    by: str,
    reason: str = ERASE_REQUEST,
    *,
    now: datetime | None = None,
) -> ErasedAnswer:
    """Erase the comment and contact details of one survey answer, for good.

    Why: they are the guest's personal data, which the guest may ask to have
    erased (and which a site keeps no longer than it needs); the scores are
    not, and the ratings derived from them stay, so reports keep their figures.
    This is the one path for that: the CLI's ``answers erase`` and the console
    call it, and the store applies the erasure for every reader of answers.

    ``by`` (who erases: a user's name) and ``reason`` are recorded with the time
    in the answer's ``erased`` note; the text is not. In the data folder the
    erasure is a tombstone appended at once and the text leaves the files at
    the next compaction (``store compact``); PostgreSQL updates the row in place.

    Raises :class:`AnswerError` for a malformed id, an empty ``by`` or
    ``reason``; :class:`AnswerNotFound` for an id no answer has; and
    :class:`AlreadyErased` (whose ``erased`` says when and by whom) when an
    earlier erasure stands.
    """
    answer_id = parse_answer_id(answer_id)
    who = _note(by, "by")
    why = _note(reason, "reason")
    site = site_store_of(store)
    record = site.answers.find(answer_id)
    if record is None:
        raise AnswerNotFound(answer_id)
    answer = _answer_of(record)
    if answer.erased is not None:
        raise AlreadyErased(ErasedAnswer(answer, answer.erased))
    erasure = Erasure(now or utc_now(), who, why, _held(record))
    done = site.answers.erase({answer.id: answer.at}, _tombstone(erasure))
    if answer.id not in done:  # erased by someone else between the look and the write
        again = site.answers.find(answer.id)
        current = _answer_of(again) if again is not None else None
        if current is None or current.erased is None:
            raise StoreError(f"{TABLE}: answer {answer.id} could not be erased; try again")
        if current.erased != erasure:  # (equal: our own write, repeated after a lost reply)
            raise AlreadyErased(ErasedAnswer(current, current.erased))
    log.info(
        "survey answer %s: %s erased by %s (%s)",
        answer.id,
        " and ".join(erasure.fields) or "nothing held",
        who,
        why,
    )
    blank = replace(answer, comment="", contact=None, contact_consent=False, erased=erasure)
    return ErasedAnswer(blank, erasure)


#: Called as (done, of all) while :func:`prune_answers` works.
PruneProgress = Callable[[int, int], None]


@dataclass
class PruneResult:
    """What :func:`prune_answers` did with the answers given before ``before``."""

    keep_days: int
    before: datetime
    erased: int = 0  # answers whose comment or contact was erased now
    already: int = 0  # erased earlier (by retention, or on request)
    without: int = 0  # held neither: nothing to erase
    skipped: list[str] = field(default_factory=list)  # malformed records (ids), left alone


def prune_answers(
    store: SiteStore | Store,
    keep_days: int,
    *,
    now: datetime | None = None,
    progress: PruneProgress | None = None,
    batch: int = 200,
) -> PruneResult:
    """Erase the comment and contact of every answer given more than ``keep_days`` ago.

    Why: a site keeps personal data only as long as it needs it (``[survey]
    keep_contact_days``); scores and the ratings derived from them stay. Each
    erasure is :func:`erase_answer`'s (``by`` :data:`RETENTION`, the setting as
    the reason), written ``batch`` answers at a time so a survey page waits
    for the answers lock for one batch at most. Idempotent: an answer erased
    before is counted in ``already`` and left as it is. ``progress`` is called
    as (done, of all) over the answers to erase.
    """
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 1:
        raise AnswerError("keep_contact_days", keep_days, "a whole number of days, 1 or more")
    at = now or utc_now()
    result = PruneResult(keep_days, at - timedelta(days=keep_days))
    site = site_store_of(store)
    reason = f"older than {keep_days} days ([survey] keep_contact_days)"

    def due(record: Mapping[str, Any]) -> tuple[str, datetime, tuple[str, ...]] | None:
        rating_id, filed = record.get("id"), record.get("at")
        try:
            when = parse_time(filed) if isinstance(filed, str) else None
        except ValueError:
            when = None
        if not isinstance(rating_id, str) or when is None:
            result.skipped.append(str(rating_id))
            return None
        if record.get("erased") is not None:
            result.already += 1
            return None
        held = _held(record)
        if not held:
            result.without += 1
            return None
        return rating_id, when, held

    total = sum(
        1 for r in site.answers.records(None, result.before) if r.get("erased") is None and _held(r)
    )
    if progress is not None:
        progress(0, total)
    pending: list[tuple[str, datetime, tuple[str, ...]]] = []

    def flush() -> None:
        groups: dict[tuple[str, ...], dict[str, datetime]] = {}
        for rating_id, when, held in pending:
            groups.setdefault(held, {})[rating_id] = when
        for held, targets in groups.items():
            erasure = Erasure(at, RETENTION, reason, held)
            done = site.answers.erase(targets, _tombstone(erasure))
            result.erased += len(done)
            result.already += len(targets) - len(done)  # erased meanwhile by someone else
        pending.clear()
        if progress is not None:
            progress(result.erased, max(total, result.erased))

    for record in site.answers.records(None, result.before):
        item = due(record)
        if item is None:
            continue
        pending.append(item)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    if result.erased:
        log.info(
            "retention: erased the comment and contact of %d answer(s) given before %s",
            result.erased,
            format_time(result.before),
        )
    return result
