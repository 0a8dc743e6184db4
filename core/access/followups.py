"""Follow-ups: survey comments and "you may contact me" requests, until someone closes the loop.

An answer with a comment, or with contact details its guest agreed to be
contacted at, is a follow-up. Its state moves open → taken → closed; each
step is an event in the store's ``events`` journal (``kind = "follow-up"``)
with who took or closed it and when, so every console process and a restart
agree. Comments are shown only to roles that may read them (``comments``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..answers import ErasedAnswer, SurveyAnswer
from ..rating import format_time, new_rating_id, parse_time
from .desk import Forbidden
from .users import AccessError

if TYPE_CHECKING:
    from ..fleet.chain import Chain
    from ..runtime import Runtime
    from .roles import User

KIND = "follow-up"
STATES = ("open", "taken", "closed")
#: What each step needs the follow-up to be in first.
STEPS = {"take": ("open", "taken"), "close": ("taken", "closed")}
#: How far back the follow-up list looks, by default.
WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class FollowUp:
    answer: SurveyAnswer
    state: str
    by: str | None  # who took or closed it last
    changed: datetime | None
    comment: str | None  # None: this user may not read comments
    contact: str | None  # only with the guest's consent

    @property
    def site(self) -> str:
        return self.answer.site


class FollowUpDesk:
    """The follow-ups of the sites a user may see; take one, close it."""

    def __init__(self, runtime: Runtime, chain: Chain) -> None:
        self.runtime = runtime
        self.chain = chain

    def _sites(self, user: User, sites: list[str] | None) -> list[str]:
        if not user.can("followups"):
            raise Forbidden(f"{user.name} may not see follow-ups")
        chosen = sites if sites is not None else user.sites(self.chain)
        for site in chosen:
            if not user.may_see(self.chain, site):
                raise Forbidden(f"{user.name} may not see site {site!r}")
        return chosen

    def _states(self) -> dict[str, tuple[str, str, datetime]]:
        states: dict[str, tuple[str, str, datetime]] = {}
        for record in self.runtime.site_store.events.records():
            if record.get("kind") == KIND and record.get("state") in STATES:
                states[str(record["answer"])] = (
                    str(record["state"]),
                    str(record.get("by", "")),
                    parse_time(str(record["at"])),
                )
        return states

    def followups(
        self, user: User, sites: list[str] | None = None, *, now: datetime | None = None
    ) -> list[FollowUp]:
        """Newest first, over the last :data:`WINDOW`."""
        chosen = set(self._sites(user, sites))
        since = (now or datetime.now(UTC)) - WINDOW
        states = self._states()
        readable = user.can("comments")
        found = []
        for record in self.runtime.site_store.answers.records(since=since):
            answer = SurveyAnswer.from_record(record)
            wants_call = bool(answer.contact) and answer.contact_consent
            if answer.site not in chosen or not (answer.comment or wants_call):
                continue
            state, by, changed = states.get(answer.id, ("open", None, None))
            found.append(
                FollowUp(
                    answer,
                    state,
                    by,
                    changed,
                    answer.comment if readable else None,
                    answer.contact if wants_call else None,
                )
            )
        found.sort(key=lambda f: f.answer.at, reverse=True)
        return found

    def step(self, user: User, site: str, answer_id: str, step: str) -> FollowUp:
        """``take`` an open follow-up, or ``close`` a taken one; ``user`` is recorded."""
        if step not in STEPS:
            raise AccessError(f"follow-up step {step!r} is not one of: {', '.join(STEPS)}")
        self._sites(user, [site])
        current = next((f for f in self.followups(user, [site]) if f.answer.id == answer_id), None)
        if current is None:
            raise AccessError(f"no follow-up {answer_id!r} at site {site!r}")
        before, after = STEPS[step]
        if current.state != before:
            raise AccessError(
                f"follow-up {answer_id} is {current.state}"
                + (f" (by {current.by})" if current.by else "")
                + f"; only an {before} one can be {'taken' if step == 'take' else 'closed'}"
            )
        now = datetime.now(UTC)
        self.runtime.site_store.events.append(
            {
                "id": new_rating_id(now),
                "at": format_time(now),
                "kind": KIND,
                "answer": answer_id,
                "site": site,
                "state": after,
                "by": user.name,
            }
        )
        return FollowUp(current.answer, after, user.name, now, current.comment, current.contact)

    def erase(self, user: User, site: str, answer_id: str) -> ErasedAnswer:
        """Erase this answer's comment and contact at the guest's request (managers, admins).

        The same path as `servicecycle answers erase` (:func:`~..answers.erase_answer`),
        with the user's name recorded; the answer must be one of ``site``'s.
        """
        from ..answers import erase_answer

        if not user.can("comments"):
            raise Forbidden(f"{user.name} ({user.role.value}) may not erase answers")
        self._sites(user, [site])
        current = next((f for f in self.followups(user, [site]) if f.answer.id == answer_id), None)
        if current is None:
            raise AccessError(f"no follow-up {answer_id!r} at site {site!r}")
        return erase_answer(self.runtime.site_store, answer_id, user.name, "asked in the console")
