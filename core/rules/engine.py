"""The rule engine: in-memory windows per rule and key, and the alert lifecycle.

Every rating is observed once; each rule that has it in scope updates the
window of its key (site, kiosk, moment...). Windows hold only what falls inside
them, so memory is bounded by window sizes, never by history, and the store is
never queried per rating. A clock tick expires windows, promotes pending
alerts and resolves alerts when a kiosk goes quiet.
"""

from __future__ import annotations

import heapq
import logging
import math
import operator
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ..alert import Alert, AlertState
from ..catalogue import Catalogue
from ..config import WEEKDAYS, SiteSettings
from ..duration import format_duration
from ..opening import after_open_time
from ..rating import Rating
from ..reports.figures import LOW_THRESHOLD
from ..sites import SiteRegistry
from .conditions import compile_conditions
from .drift import DAYS, MONTHS, QUIET_RESOLVE, DriftKey, DriftSpec, WeekClock, words_for
from .loader import AnyRule
from .rule import PythonRule
from .rule import render as _render

log = logging.getLogger(__name__)

Transition = tuple[Alert, AlertState | None]
OnChange = Callable[[Alert, AlertState | None], None]
#: Told ``(rule id, what went wrong)`` the first time a rule fails while running.
OnFault = Callable[[str, str], None]

#: A single-rating rule holds at the instant of the rating; keep_firing_for says how long it stays.
DEFAULT_SINGLE_WINDOW = timedelta(seconds=1)


class Observation:
    """A rating as rules see it: its fields plus what the catalogue and site add."""

    __slots__ = (
        "at",
        "critical",
        "cycle",
        "kiosk",
        "language",
        "moment",
        "rating",
        "reasons",
        "scale",
        "score",
        "site",
        "stage",
        "survey",
        "suspect",
        "t",
        "target",
        "time_of_day",
        "value",
        "weekday",
    )

    def __init__(
        self,
        rating: Rating,
        critical: bool,
        target: float,
        cycle_scale: int,
        zone: Any,
        t: float | None = None,
    ) -> None:
        self.rating = rating
        self.at = rating.at
        self.t = rating.at.timestamp() if t is None else t
        self.score = rating.score
        self.scale = rating.scale
        self.moment = rating.moment
        self.stage = rating.stage
        self.cycle = rating.cycle
        self.kiosk = rating.kiosk
        self.site = rating.site
        self.language = rating.language
        self.reasons = rating.reasons
        self.suspect = "suspect" in rating.flags
        self.survey = "survey" in rating.flags
        self.critical = critical
        self.target = target
        # Scores on another scale are moved onto the cycle's, so means compare with targets.
        self.value = (
            rating.score
            if rating.scale == cycle_scale
            else 1 + (rating.score - 1) * (cycle_scale - 1) / (rating.scale - 1)
        )
        if zone is not None:
            local = rating.at.astimezone(zone)
            self.time_of_day = f"{local.hour:02d}:{local.minute:02d}"
            self.weekday = WEEKDAYS[local.weekday()]
        else:
            self.time_of_day = ""
            self.weekday = ""


class KeyState:
    """One rule's window and alert lifecycle for one key."""

    __slots__ = (
        "active_since",
        "alert",
        "drift",
        "due",
        "events",
        "extra",
        "key",
        "last",
        "last_active",
        "last_seen",
        "matched",
        "reasons",
        "site",
        "state",
        "sum_target",
        "sum_value",
    )

    def __init__(self, key: tuple[str, ...]) -> None:
        self.key = key
        self.events: deque[tuple[float, bool, Observation]] = deque()
        self.matched = 0
        self.sum_value = 0.0
        self.sum_target = 0.0
        self.state: AlertState | None = None
        self.active_since: float | None = None
        self.last_active: float | None = None
        self.last_seen: float | None = None
        self.site = ""  # the site of the last rating seen (a silence's opening hours)
        self.alert: Alert | None = None
        self.due: float | None = None  # when this key next needs a look without a new rating
        self.extra: dict[str, Any] | None = None  # a Python rule's template values
        self.drift: DriftKey | None = None  # a drift rule's baseline and detectors
        self.last: Observation | None = None  # a drift rule's latest rating
        self.reasons: Counter[str] | None = None  # a drift: reasons since the change began

    def add(self, t: float, matched: bool, obs: Observation) -> None:
        events = self.events
        if events and t < events[-1][0]:  # late arrival (a reason added later): keep order
            index = len(events)
            while index and events[index - 1][0] > t:
                index -= 1
            events.insert(index, (t, matched, obs))
        else:
            events.append((t, matched, obs))
        self.matched += matched
        self.sum_value += obs.value
        self.sum_target += obs.target

    def expire(self, horizon: float) -> None:
        events = self.events
        while events and events[0][0] <= horizon:
            _, matched, obs = events.popleft()
            self.matched -= matched
            self.sum_value -= obs.value
            self.sum_target -= obs.target

    @property
    def idle(self) -> bool:
        return (
            not self.events and self.state is None and self.last_seen is None and self.drift is None
        )


#: Fields fixed by the moment a rating is about: conditions on them are decided once.
STATIC_FIELDS = frozenset({"cycle", "moment", "stage", "critical"})


class _Plan:
    """A rule compiled for speed: plain attributes, no validation machinery."""

    __slots__ = (
        "below",
        "count",
        "drift",
        "for_s",
        "id",
        "in_scope",
        "include_survey",
        "include_suspect",
        "keep_s",
        "key_by",
        "key_of",
        "kind",
        "matches",
        "min_samples",
        "only_matches",
        "resolve_above",
        "resolve_count",
        "resolve_share",
        "rule",
        "share",
        "states",
        "window",
        "window_text",
    )

    def __init__(self, rule: AnyRule) -> None:
        self.rule = rule
        self.states: dict[tuple[str, ...], KeyState] = {}
        self.id = rule.id
        self.kind = rule.kind
        self.key_by = rule.key_by
        self.key_of = _key_getter(rule.key_by)
        self.in_scope = rule.in_scope
        self.matches = rule.matches
        self.include_suspect = rule.include_suspect
        self.include_survey = rule.include_survey
        self.window = _window_seconds(rule)
        self.window_text = format_duration(timedelta(seconds=self.window))
        self.for_s = rule.for_.total_seconds()
        self.keep_s = rule.keep_firing_for.total_seconds()
        self.min_samples = rule.min_samples
        self.count = getattr(rule, "count", None)
        self.resolve_count = getattr(rule, "resolve_count", None) or self.count
        self.share = getattr(rule, "share", None)
        self.resolve_share = getattr(rule, "resolve_share", None)
        if self.resolve_share is None:
            self.resolve_share = self.share
        self.below = getattr(rule, "below", None)
        self.resolve_above = getattr(rule, "resolve_above", None)
        if self.resolve_above is None:
            self.resolve_above = self.below
        # Single and count rules only ever look at matching ratings.
        self.only_matches = self.kind in ("single", "count")
        self.drift: DriftSpec | None = None
        if self.kind == "drift":
            setting = rule.drift_setting  # type: ignore[union-attr]
            self.drift = DriftSpec(
                rule.figure,  # type: ignore[union-attr,arg-type]
                setting("shift"),
                setting("direction"),
                setting("false_alarm_every"),
                setting("baseline"),
                setting("baseline_weeks"),
                setting("min_samples"),
            )
            if not rule.when:  # a share drift counts negative ratings unless told
                self.matches = _negative

    def applies_to(self, cycle: str, stage: str, moment: str, critical: bool) -> bool:
        """Whether the rule can ever see ratings of this moment (static conditions only)."""
        rule = self.rule
        if rule.cycle not in (None, cycle):
            return False
        probe = {"cycle": cycle, "stage": stage, "moment": moment, "critical": critical}
        parts = [rule.scope] + ([rule.when] if self.only_matches else [])
        for spec in parts:
            static = {k: v for k, v in spec.items() if k in STATIC_FIELDS}
            if static and not compile_conditions(static)(_Probe(probe)):
                return False
        return True


def _negative(obs: Observation) -> bool:
    return obs.score <= LOW_THRESHOLD


class _Probe:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class RuleEngine:
    """Evaluates rules on every rating and on a clock tick."""

    def __init__(
        self,
        rules: Iterable[AnyRule],
        catalogue: Catalogue,
        site: SiteSettings | SiteRegistry | None = None,
        on_change: OnChange | None = None,
        known_kiosks: Iterable[tuple[str, str]] = (),
        on_fault: OnFault | None = None,
    ) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.on_fault = on_fault
        #: Rules that failed while running, with the first failure: the others go on.
        self.faults: dict[str, str] = {}
        self.catalogue = catalogue
        #: Each site's time zone and opening hours: one engine may watch many sites.
        self.sites = SiteRegistry.of(site)
        self.site = self.sites.default
        self.on_change = on_change
        self.plans = {r.id: _Plan(r) for r in self.rules}
        self.states: dict[str, dict[tuple[str, ...], KeyState]] = {
            plan.id: plan.states for plan in self.plans.values()
        }
        uses_clock = any(
            field in part
            for r in self.rules
            for part in (r.scope, r.when)
            for field in ("time_of_day", "weekday")
        )
        self._uses_clock = uses_clock
        self._moments: dict[
            tuple[str, str], tuple[bool, float, int, Any, list[_Plan], list[_Plan], str]
        ] = {}
        self._clocks: dict[str, WeekClock] = {}  # each site's local week and hour (drift)
        for cycle in catalogue.cycles.values():
            for stage, moment in cycle.moments():
                applies = [
                    plan
                    for plan in self.plans.values()
                    if plan.applies_to(cycle.id, stage.id, moment.id, moment.critical)
                ]
                self._moments[(cycle.id, moment.id)] = (
                    moment.critical,
                    moment.target,
                    cycle.scale,
                    moment.question.get(cycle.languages[0], ""),
                    [p for p in applies if p.kind != "silence"],
                    [p for p in applies if p.kind == "silence"],
                    moment.label(cycle.languages[0], cycle.languages[0]),
                )
        self._wakeups: list[tuple[float, int, str, tuple[str, ...]]] = []
        self._sequence = 0
        self.now: float = 0.0
        for site, kiosk in known_kiosks:  # a kiosk silent since start-up counts as silent
            self._seed_kiosk(site, kiosk, datetime.now(UTC).timestamp())

    def _zone_of(self, rating: Rating) -> Any:
        """The rating's site's time zone, when a rule reads the clock (else no work)."""
        return self.sites.zone(rating.site) if self._uses_clock else None

    # -- input ---------------------------------------------------------------

    def observe(self, rating: Rating, t: float | None = None) -> list[Transition]:
        """Feed one recorded rating; returns the alert transitions it caused."""
        if t is None:
            t = rating.at.timestamp()
        info = self._moments.get((rating.cycle, rating.moment))
        if info is None:
            return []
        critical, target, cycle_scale, _, plans, silences, _ = info
        if not plans and not silences:
            if t > self.now:
                self.now = t
            return []
        obs = Observation(rating, critical, target, cycle_scale, self._zone_of(rating), t)
        now = self.now = t if t > self.now else self.now
        transitions: list[Transition] = []
        suspect, survey = obs.suspect, obs.survey
        for plan in plans:
            if (suspect and not plan.include_suspect) or (survey and not plan.include_survey):
                continue
            try:
                if not plan.in_scope(obs):
                    continue
                matched = plan.matches(obs)
                if plan.only_matches and not matched:
                    continue
                key = plan.key_of(obs)
                state = plan.states.get(key)
                if state is None:
                    state = plan.states[key] = KeyState(key)
                if plan.drift is None:
                    state.add(t, matched, obs)
                else:
                    self._drift(plan, state, obs, t, matched, cycle_scale)
                    if (
                        state.state is None
                        and not state.drift.active  # type: ignore[union-attr]
                        and (state.due is not None or plan.drift.figure != "volume")
                    ):
                        continue  # nothing to decide: no alert, no alarm, a wake-up set
                self._evaluate(plan, state, now, transitions)
            except Exception as exc:  # one broken rule never stops the others
                self._fault(plan.id, exc)
        for plan in silences:
            if (
                (suspect and not plan.include_suspect)
                or (survey and not plan.include_survey)
                or not plan.in_scope(obs)
            ):
                continue
            key = tuple([getattr(obs, f) for f in plan.key_by])
            state = plan.states.get(key)
            if state is None:
                state = plan.states[key] = KeyState(key)
            if state.last_seen is None or t > state.last_seen:
                state.last_seen = t
                state.site = obs.site
            if state.state is not None or state.due is None:
                try:
                    self._evaluate(plan, state, now, transitions)  # the kiosk speaks again
                except Exception as exc:
                    self._fault(plan.id, exc)
        return self._emit(transitions) if transitions else transitions

    def amend(self, rating: Rating) -> list[Transition]:
        """A rating already observed got its reasons: re-match it where it is counted."""
        info = self._moments.get((rating.cycle, rating.moment))
        if info is None:
            return []
        critical, target, cycle_scale, _, plans, _, _ = info
        obs = Observation(rating, critical, target, cycle_scale, self._zone_of(rating))
        transitions: list[Transition] = []
        for plan in plans:
            try:
                self._amend(plan, rating, obs, transitions)
            except Exception as exc:
                self._fault(plan.id, exc)
        return self._emit(transitions)

    def _amend(
        self, plan: _Plan, rating: Rating, obs: Observation, transitions: list[Transition]
    ) -> None:
        """Re-match one plan's copy of a rating that got its reasons later."""
        if plan.drift is not None:
            return  # a drift judges each rating as it arrives (its `when` cannot name reasons)
        if (
            (obs.suspect and not plan.include_suspect)
            or (obs.survey and not plan.include_survey)
            or not plan.in_scope(obs)
        ):
            return
        if obs.t <= self.now - plan.window:
            return  # already out of the window
        key = tuple([getattr(obs, f) for f in plan.key_by])
        state = self.states[plan.id].get(key)
        now_matched = plan.matches(obs)
        found = False
        for index, (t, matched, old) in enumerate(state.events if state else ()):
            if old.rating.id == rating.id:
                state.events[index] = (t, now_matched, obs)  # type: ignore[union-attr]
                state.matched += now_matched - matched  # type: ignore[union-attr]
                found = True
                break
        if not found and now_matched and plan.only_matches:
            state = self.states[plan.id].setdefault(key, KeyState(key))
            state.add(obs.t, True, obs)
            found = True
        if found and state is not None:
            self._evaluate(plan, state, self.now, transitions)

    def tick(self, now: datetime | None = None) -> list[Transition]:
        """Let time pass: expire windows, promote pending alerts, resolve quiet ones.

        Only keys whose wake-up time has come are looked at, so a tick costs
        nothing when nothing is due, however many keys are being watched.
        """
        return self._run_due((now or datetime.now(UTC)).timestamp(), exact=False)

    def _run_due(self, until: float, exact: bool) -> list[Transition]:
        """Evaluate every key due by ``until``: at ``until`` (a clock tick), or at
        its own due time (``exact``, for replay, where time is the data's)."""
        self.now = max(self.now, until)
        transitions: list[Transition] = []
        wakeups = self._wakeups
        while wakeups and wakeups[0][0] <= until:
            due, _, rule_id, key = heapq.heappop(wakeups)
            state = self.states[rule_id].get(key)
            if state is None or state.due != due:
                continue  # superseded by a later wake-up
            state.due = None
            try:
                self._evaluate(self.plans[rule_id], state, due if exact else until, transitions)
            except Exception as exc:
                self._fault(rule_id, exc)
            if state.idle and state.due is None:
                del self.states[rule_id][key]
        return self._emit(transitions) if transitions else transitions

    def _seed_kiosk(self, site: str, kiosk: str, t: float) -> None:
        for plan in self.plans.values():
            values = {"site": site, "kiosk": kiosk}
            if plan.kind != "silence" or not set(plan.key_by) <= set(values):
                continue
            key = tuple(values[f] for f in plan.key_by)
            state = self.states[plan.id].setdefault(key, KeyState(key))
            state.last_seen = t
            state.site = site
            self._wake(plan, state, after_open_time(self.sites.get(site), t, plan.window))

    # -- evaluation ------------------------------------------------------------

    def _clock(self, site: str) -> WeekClock:
        clock = self._clocks.get(site)
        if clock is None:
            clock = self._clocks[site] = WeekClock(self.sites.zone(site))
        return clock

    def _drift(
        self, plan: _Plan, state: KeyState, obs: Observation, t: float, matched: bool, scale: int
    ) -> bool:
        """One rating into a drift rule's baseline and detectors; whether it tells a story."""
        drift = state.drift
        if drift is None:
            drift = state.drift = plan.drift.new_key()  # type: ignore[union-attr]
            state.reasons = Counter()
        value = obs.value if plan.drift.figure == "mean" else float(matched)  # type: ignore[union-attr]
        story = drift.rate(self._clock(obs.site), t, value, scale)
        state.last = obs
        state.site = obs.site
        if story:
            if obs.reasons:
                state.reasons.update(obs.reasons)  # type: ignore[union-attr]
        elif state.reasons:
            state.reasons.clear()
        return story

    def _evaluate(self, plan: _Plan, state: KeyState, now: float, out: list[Transition]) -> None:
        window = plan.window
        hour_end = None
        unrated_at = None
        if state.drift is not None and plan.drift.figure == "volume":  # type: ignore[union-attr]
            hour_end = state.drift.close_hours(self._clock(state.site), now)
        elif state.drift is not None and state.last is not None and state.drift.active:
            unrated_at = state.last.t + QUIET_RESOLVE
            if now >= unrated_at:  # no rating for a week: the moment is not being rated
                state.drift.clear()
                unrated_at = None
        state.expire(now - window)
        try:
            active = self._condition(plan, state, now)
        except Exception as exc:
            # Undecided: the key stays as it is (a firing alert neither resolves nor repeats).
            self._fault(plan.id, exc)
        else:
            self._advance(plan, state, active, now, out)
        # When must this key be looked at again if no rating comes?
        due = None
        if state.events:
            due = state.events[0][0] + window
        if state.state is AlertState.PENDING:
            due = _earliest(due, (state.active_since or now) + plan.for_s)
        elif state.state is AlertState.FIRING and not active and plan.keep_s:
            due = _earliest(due, (state.last_active or now) + plan.keep_s)
        if plan.kind == "silence" and state.last_seen is not None:
            quiet_at = after_open_time(self.sites.get(state.site), state.last_seen, window)
            if now < quiet_at < math.inf:  # once quiet, it stays so until a rating comes
                due = _earliest(due, quiet_at)
        if hour_end is not None:
            due = _earliest(due, hour_end)
        if unrated_at is not None:
            due = _earliest(due, unrated_at)
        if due is not None:
            self._wake(plan, state, due)

    def _wake(self, plan: _Plan, state: KeyState, due: float) -> None:
        if state.due is not None and state.due <= due:
            return
        state.due = due
        self._sequence += 1
        heapq.heappush(self._wakeups, (due, self._sequence, plan.id, state.key))

    def _condition(self, plan: _Plan, state: KeyState, now: float) -> bool:
        """Whether the rule's condition holds for this key now (numbers only, no text)."""
        kind = plan.kind
        firing = state.state is AlertState.FIRING
        if kind == "count":
            return state.matched >= (plan.resolve_count if firing else plan.count)
        if kind == "single":
            return state.matched >= 1
        samples = len(state.events)
        if kind == "share":
            if samples < plan.min_samples:
                return False
            return state.matched / samples >= (plan.resolve_share if firing else plan.share)
        if kind == "mean":
            if samples < plan.min_samples:
                return False
            limit = plan.resolve_above if firing else plan.below
            threshold = state.sum_target / samples if limit == "target" else limit
            return state.sum_value / samples < threshold
        if kind == "drift":
            return state.drift is not None and state.drift.active
        if kind == "silence":  # quiet for `window` of the site's opening time
            if state.last_seen is None:
                return False
            return now >= after_open_time(self.sites.get(state.site), state.last_seen, plan.window)
        rule = plan.rule
        if isinstance(rule, PythonRule):
            observations = [obs for _, _, obs in state.events]
            result = (
                rule.evaluate(observations, datetime.fromtimestamp(now, UTC))
                if observations
                else None
            )
            state.extra = dict(result) if result is not None else None
            return result is not None
        raise AssertionError(kind)

    def _figures(self, plan: _Plan, state: KeyState, now: float) -> dict[str, Any]:
        """The numbers a summary may name, formatted only when an alert changes state."""
        samples = len(state.events)
        figures: dict[str, Any] = {"count": state.matched, "samples": samples}
        if samples:
            figures["share"] = f"{state.matched / samples:.0%}"
            figures["mean"] = f"{state.sum_value / samples:.2f}"
            figures["target"] = f"{state.sum_target / samples:.1f}"
        limit = plan.below if plan.kind == "mean" else None
        if limit is not None:
            figures["threshold"] = (
                figures.get("target", "-") if limit == "target" else f"{limit:.1f}"
            )
        if plan.kind == "silence" and state.last_seen is not None:
            figures["quiet_for"] = format_duration(timedelta(seconds=int(now - state.last_seen)))
        if state.extra:
            figures.update(state.extra)
        if state.drift is not None:
            figures.update(self._drift_figures(plan, state, now))
        return figures

    def _drift_figures(self, plan: _Plan, state: KeyState, now: float) -> dict[str, Any]:
        """What a drift says: the figure since the change began against its normal."""
        spec = plan.drift
        drift = state.drift
        watch = max(drift.watches, key=lambda w: (w.alarmed, w.n))  # type: ignore[union-attr]
        if not watch.n or spec is None:
            return {}
        n = watch.n
        observed, normal = watch.total / n, watch.expected / n
        zone = self.sites.zone(state.site)
        since = _since_words(watch.since or now, now, zone)
        if len(watch.slots) <= 2:
            normal_for = " and ".join(
                words_for(level, slot, spec.weeks) for level, slot in watch.slots
            )
        else:
            normal_for = f"those times of the week in the last {spec.weeks} weeks"
        if spec.figure == "mean":
            shown_now, shown_normal, what = f"{observed:.1f}", f"{normal:.1f}", "mean"
            counted = f"{n:,} rating{'s' * (n != 1)}"
        elif spec.figure == "share":
            shown_now, shown_normal = f"{observed:.0%}", f"{normal:.0%}"
            what = "share of matching ratings" if plan.rule.when else "negative share"
            counted = f"{n:,} rating{'s' * (n != 1)}"
        else:
            shown_now, shown_normal = f"{observed:.1f} an hour", f"{normal:.1f} an hour"
            what = "ratings"
            counted = f"{n:,} hour{'s' * (n != 1)}"
        change = (
            f"{what} {shown_now} since {since} ({counted}) against a normal {shown_normal} "
            f"for {normal_for}"
        )
        figures: dict[str, Any] = {
            "observed": shown_now,
            "normal": shown_normal,
            "normal_for": normal_for,
            "since": since,
            "change": change,
            "samples": n,
        }
        if spec.figure == "mean":
            figures["mean"] = f"{observed:.2f}"
        elif spec.figure == "share":
            figures["share"] = shown_now
            figures["count"] = round(watch.total)
        return figures

    def _advance(
        self,
        plan: _Plan,
        state: KeyState,
        active: bool,
        now: float,
        out: list[Transition],
    ) -> None:
        if active:
            state.last_active = now
            if state.state is None:
                state.active_since = now
                state.state = AlertState.PENDING if plan.for_s else AlertState.FIRING
                out.append(self._transition(plan.rule, state, state.state, None, now))
            elif (
                state.state is AlertState.PENDING
                and now - (state.active_since or now) >= plan.for_s
            ):
                state.state = AlertState.FIRING
                out.append(
                    self._transition(plan.rule, state, AlertState.FIRING, AlertState.PENDING, now)
                )
            return
        if state.state is AlertState.PENDING:
            # Never fired: it just goes away (Prometheus does the same); still reported.
            out.append(
                self._transition(plan.rule, state, AlertState.RESOLVED, AlertState.PENDING, now)
            )
            state.state = None
        elif state.state is AlertState.FIRING and now - (state.last_active or now) >= plan.keep_s:
            out.append(
                self._transition(plan.rule, state, AlertState.RESOLVED, AlertState.FIRING, now)
            )
            state.state = None

    def _values(self, rule: AnyRule, state: KeyState, now: float) -> dict[str, Any]:
        plan = self.plans[rule.id]
        filled: dict[str, Any] = {"rule": rule.id, "severity": rule.severity}
        filled.update(zip(plan.key_by, state.key, strict=True))
        filled["window"] = plan.window_text
        last = state.events[-1][2] if state.events else state.last
        if last is not None:
            for name in ("site", "kiosk", "cycle", "stage", "moment"):
                filled.setdefault(name, getattr(last, name))
            filled["score"] = last.score
            filled.setdefault("target", f"{last.target:.1f}")
            info = self._moments.get((last.cycle, last.moment))
            if info is not None:
                filled["moment_question"] = info[3]
                filled["moment_name"] = info[6]
            reasons = (
                state.reasons
                if state.reasons is not None
                else Counter(r for _, _, obs in state.events for r in obs.reasons)
            )
            filled["top_reasons"] = ", ".join(r for r, _ in reasons.most_common(3)) or "none given"
        filled.update(self._figures(plan, state, now))
        return filled

    def _transition(
        self,
        rule: AnyRule,
        state: KeyState,
        new: AlertState,
        previous: AlertState | None,
        now: float,
    ) -> Transition:
        at = datetime.fromtimestamp(now, UTC)
        filled = self._values(rule, state, now)

        def render(template: str) -> str:
            return _render(template, filled, lambda problem: self._fault(rule.id, problem))

        if state.alert is None or previous is None:
            state.alert = Alert(
                rule=rule.id,
                key=tuple(zip(rule.key_by, state.key, strict=True)),
                state=new,
                severity=rule.severity,
                summary=render(rule.summary),
                since=at,
                response=render(rule.response),
                active_since=datetime.fromtimestamp(state.active_since or now, UTC),
                labels=dict(rule.labels),
                values=filled,
            )
        else:
            summary = (
                render(rule.summary) if new is not AlertState.RESOLVED else state.alert.summary
            )
            previous_alert = state.alert
            state.alert = Alert(
                rule=previous_alert.rule,
                key=previous_alert.key,
                state=new,
                severity=previous_alert.severity,
                summary=summary,
                since=at,
                response=previous_alert.response,
                active_since=previous_alert.active_since,
                labels=previous_alert.labels,
                values=filled,
                acknowledged_by=previous_alert.acknowledged_by,
            )
        alert = state.alert
        if new is AlertState.RESOLVED:
            state.alert = None
            state.active_since = None
        return alert, previous

    def _fault(self, rule_id: str, problem: BaseException | str) -> None:
        """Remember a rule's first failure and say so once; it keeps being evaluated."""
        if rule_id in self.faults:
            return
        if isinstance(problem, BaseException):
            log.error("rule %r failed and is skipped where it fails", rule_id, exc_info=problem)
            text = f"{type(problem).__name__}: {problem}".rstrip(": ")
        else:
            log.error("rule %r: %s", rule_id, problem)
            text = problem
        self.faults[rule_id] = text
        if self.on_fault is not None:
            try:
                self.on_fault(rule_id, text)
            except Exception:
                log.exception("could not record the failure of rule %r", rule_id)

    def _emit(self, transitions: list[Transition]) -> list[Transition]:
        if self.on_change is not None:
            for alert, previous in transitions:
                try:
                    self.on_change(alert, previous)
                except Exception:  # an alert sink must never stop evaluation
                    log.exception("alert sink failed for %s", alert.fingerprint)
        return transitions

    # -- state -------------------------------------------------------------------

    def alerts(self) -> list[Alert]:
        """Alerts pending or firing now."""
        return [
            state.alert
            for states in self.states.values()
            for state in states.values()
            if state.alert is not None and state.state is not None
        ]

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Take back pending and firing alerts from before a restart (they are not re-sent)."""
        by_rule = {rule.id: rule for rule in self.rules}
        for alert in alerts:
            rule = by_rule.get(alert.rule)
            if rule is None or alert.state is AlertState.RESOLVED:
                continue
            key = tuple(value for _, value in alert.key)
            state = self.states[rule.id].setdefault(key, KeyState(key))
            state.state = alert.state
            state.alert = alert
            state.active_since = (alert.active_since or alert.since).timestamp()
            state.last_active = self.now or alert.since.timestamp()
            self._wake(self.plans[rule.id], state, self.now)

    def replay(
        self, ratings: Iterable[Rating], until: datetime | None = None
    ) -> Iterator[Transition]:
        """Run history through the rules in time order, on the data's own clock.

        Between ratings, every key is evaluated at the moment it falls due
        (a window emptying, a ``for`` running out), as a live engine's ticks would.
        """
        wakeups = self._wakeups
        for rating in ratings:
            t = rating.at.timestamp()
            if wakeups and wakeups[0][0] < t:
                yield from self._run_due(t - 1e-6, exact=True)
            yield from self.observe(rating, t)
        if until is not None:
            yield from self._run_due(until.timestamp(), exact=True)

    @property
    def horizon(self) -> timedelta:
        """History a restart replays to rebuild the windows."""
        return max((r.horizon for r in self.rules), default=timedelta(0))


def _window_seconds(rule: AnyRule) -> float:
    window = rule.window if rule.window is not None else DEFAULT_SINGLE_WINDOW
    return window.total_seconds()


def _since_words(t: float, now: float, zone: Any) -> str:
    """When a change began, on the site's clock: "09:10", "Monday 09:10", "2 Nov 09:10"."""
    local = datetime.fromtimestamp(t, zone)
    today = datetime.fromtimestamp(now, zone).date()
    days = (today - local.date()).days
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if days == 0:
        return clock
    if 0 < days < 7:
        return f"{DAYS[local.weekday()]} {clock}"
    return f"{local.day} {MONTHS[local.month - 1]} {clock}"


def _earliest(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


def _key_getter(fields: tuple[str, ...]) -> Callable[[Observation], tuple[str, ...]]:
    """A fast function from an observation to its key tuple."""
    if len(fields) == 1:
        name = fields[0]
        return lambda obs: (getattr(obs, name),)
    return operator.attrgetter(*fields)  # type: ignore[return-value]
