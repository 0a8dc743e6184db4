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
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .cycle import Cycle, Moment, Stage
from .errors import ServiceCycleError, StoreError
from .rating import Rating, format_time, new_rating_id, parse_time, utc_now
from .store import RatingFilter
from .store.contract import SiteStore
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

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready form stored in the ``answers`` table."""
        return {
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
            comment=record.get("comment", ""),
            contact=record.get("contact"),
            contact_consent=bool(record.get("contact_consent", False)),
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


def answers(store: SiteStore | Store, since: datetime | None = None) -> Iterator[SurveyAnswer]:
    """Stream stored answers (given at or after ``since``), in the order they were filed."""
    for record in site_store_of(store).answers.records(since):
        yield SurveyAnswer.from_record(record)
