"""The rule engine: in-memory windows per rule and key, and the alert lifecycle.

Every rating is observed once; each rule that has it in scope updates the
window of its key (site, kiosk, moment...). Windows hold only what falls inside
them, so memory is bounded by window sizes, never by history, and the store is
never queried per rating. A clock tick expires windows, promotes pending
alerts and resolves alerts when a kiosk goes quiet.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ..alert import Alert, AlertState
from ..catalogue import Catalogue
from ..config import WEEKDAYS, SiteSettings
from ..rating import Rating
from .duration import format_duration
from .loader import AnyRule
from .rule import PythonRule, render

log = logging.getLogger(__name__)

Transition = tuple[Alert, AlertState | None]
OnChange = Callable[[Alert, AlertState | None], None]

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
        "suspect",
        "t",
        "target",
        "time_of_day",
        "value",
        "weekday",
    )

    def __init__(
        self, rating: Rating, critical: bool, target: float, cycle_scale: int, zone: Any
    ) -> None:
        self.rating = rating
        self.at = rating.at
        self.t = rating.at.timestamp()
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
        "events",
        "key",
        "last_active",
        "last_seen",
        "matched",
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
        self.alert: Alert | None = None

    def add(self, t: float, matched: bool, obs: Observation) -> None:
        self.events.append((t, matched, obs))
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
        return not self.events and self.state is None and self.last_seen is None


class RuleEngine:
    """Evaluates rules on every rating and on a clock tick."""

    def __init__(
        self,
        rules: Iterable[AnyRule],
        catalogue: Catalogue,
        site: SiteSettings | None = None,
        on_change: OnChange | None = None,
        known_kiosks: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.catalogue = catalogue
        self.site = site or SiteSettings()
        self.on_change = on_change
        self.states: dict[str, dict[tuple[str, ...], KeyState]] = {r.id: {} for r in self.rules}
        self._windows = {r.id: _window_seconds(r) for r in self.rules}
        uses_clock = any(
            "time_of_day" in r.scope
            or "time_of_day" in r.when
            or "weekday" in r.scope
            or "weekday" in r.when
            for r in self.rules
        )
        self._zone = self.site.zone if uses_clock else None
        self._moments = {
            (cycle.id, moment.id): (moment.critical, moment.target, cycle.scale, moment.question)
            for cycle in catalogue.cycles.values()
            for _, moment in cycle.moments()
        }
        self._by_cycle: dict[str, list[AnyRule]] = {}
        for cycle_id in catalogue.cycles:
            self._by_cycle[cycle_id] = [
                r for r in self.rules if r.kind != "silence" and r.cycle in (None, cycle_id)
            ]
        self._silences = [r for r in self.rules if r.kind == "silence"]
        self.now: float = 0.0
        for site, kiosk in known_kiosks:  # a kiosk silent since start-up counts as silent
            self._seed_kiosk(site, kiosk, datetime.now(UTC).timestamp())

    # -- input ---------------------------------------------------------------

    def observe(self, rating: Rating) -> list[Transition]:
        """Feed one recorded rating; returns the alert transitions it caused."""
        info = self._moments.get((rating.cycle, rating.moment))
        if info is None:
            return []
        critical, target, cycle_scale, _ = info
        obs = Observation(rating, critical, target, cycle_scale, self._zone)
        t = obs.t
        if t > self.now:
            self.now = t
        transitions: list[Transition] = []
        for rule in self._by_cycle.get(rating.cycle, ()):
            if obs.suspect and not rule.include_suspect:
                continue
            if not rule.in_scope(obs):
                continue
            key = tuple([getattr(obs, f) for f in rule.key_by])
            states = self.states[rule.id]
            state = states.get(key)
            if state is None:
                state = states[key] = KeyState(key)
            state.add(t, rule.matches(obs), obs)
            self._evaluate(rule, state, max(t, self.now), transitions)
        for rule in self._silences:
            if (obs.suspect and not rule.include_suspect) or not rule.in_scope(obs):
                continue
            key = tuple([getattr(obs, f) for f in rule.key_by])
            state = self.states[rule.id].setdefault(key, KeyState(key))
            state.last_seen = max(state.last_seen or t, t)
            self._evaluate(rule, state, max(t, self.now), transitions)
        return self._emit(transitions)

    def amend(self, rating: Rating) -> list[Transition]:
        """A rating already observed got its reasons: re-match it where it is counted."""
        info = self._moments.get((rating.cycle, rating.moment))
        if info is None:
            return []
        critical, target, cycle_scale, _ = info
        obs = Observation(rating, critical, target, cycle_scale, self._zone)
        transitions: list[Transition] = []
        for rule in self._by_cycle.get(rating.cycle, ()):
            if (obs.suspect and not rule.include_suspect) or not rule.in_scope(obs):
                continue
            state = self.states[rule.id].get(tuple([getattr(obs, f) for f in rule.key_by]))
            if state is None:
                continue
            for index, (t, matched, old) in enumerate(state.events):
                if old.rating.id == rating.id:
                    now_matched = rule.matches(obs)
                    state.events[index] = (t, now_matched, obs)
                    state.matched += now_matched - matched
                    self._evaluate(rule, state, self.now, transitions)
                    break
        return self._emit(transitions)

    def tick(self, now: datetime | None = None) -> list[Transition]:
        """Expire windows, promote and resolve alerts as time passes."""
        t = (now or datetime.now(UTC)).timestamp()
        self.now = max(self.now, t)
        transitions: list[Transition] = []
        for rule in self.rules:
            states = self.states[rule.id]
            for key, state in list(states.items()):
                self._evaluate(rule, state, self.now, transitions)
                if state.idle:
                    del states[key]
        return self._emit(transitions)

    def _seed_kiosk(self, site: str, kiosk: str, t: float) -> None:
        for rule in self._silences:
            values = {"site": site, "kiosk": kiosk}
            if not set(rule.key_by) <= set(values):
                continue
            key = tuple(values[f] for f in rule.key_by)
            self.states[rule.id].setdefault(key, KeyState(key)).last_seen = t

    # -- evaluation ------------------------------------------------------------

    def _evaluate(self, rule: AnyRule, state: KeyState, now: float, out: list[Transition]) -> None:
        window = self._windows[rule.id]
        state.expire(now - window)
        active, values = self._condition(rule, state, now)
        self._advance(rule, state, active, values, now, out)

    def _condition(self, rule: AnyRule, state: KeyState, now: float) -> tuple[bool, dict[str, Any]]:
        kind = rule.kind
        firing = state.state is AlertState.FIRING
        samples = len(state.events)
        if kind in ("single", "count"):
            need = (
                1
                if kind == "single"
                else (rule.resolve_count or rule.count)
                if firing
                else rule.count
            )
            return state.matched >= need, {"count": state.matched, "samples": samples}
        if kind == "share":
            if samples < rule.min_samples or samples == 0:
                return False, {}
            ratio = state.matched / samples
            threshold = (
                rule.resolve_share if firing and rule.resolve_share is not None else rule.share
            )
            return ratio >= threshold, {
                "count": state.matched,
                "samples": samples,
                "share": f"{ratio:.0%}",
            }
        if kind == "mean":
            if samples < rule.min_samples or samples == 0:
                return False, {}
            mean = state.sum_value / samples
            target = state.sum_target / samples
            limit = rule.resolve_above if firing and rule.resolve_above is not None else rule.below
            threshold = target if limit == "target" else float(limit)
            return mean < threshold, {
                "mean": f"{mean:.2f}",
                "samples": samples,
                "target": f"{target:.1f}",
                "threshold": f"{threshold:.1f}",
            }
        if kind == "silence":
            if state.last_seen is None:
                return False, {}
            quiet = now - state.last_seen
            local = datetime.fromtimestamp(now, UTC).astimezone(self.site.zone)
            active = quiet >= self._windows[rule.id] and self.site.is_open(
                local.weekday(), local.time()
            )
            return active, {"quiet_for": format_duration(timedelta(seconds=int(quiet)))}
        if isinstance(rule, PythonRule):
            observations = [obs for _, _, obs in state.events]
            result = (
                rule.evaluate(observations, datetime.fromtimestamp(now, UTC))
                if observations
                else None
            )
            return result is not None, dict(result or {})
        raise AssertionError(kind)

    def _advance(
        self,
        rule: AnyRule,
        state: KeyState,
        active: bool,
        values: dict[str, Any],
        now: float,
        out: list[Transition],
    ) -> None:
        if active:
            state.last_active = now
            hold = rule.for_.total_seconds()
            if state.state is None:
                state.active_since = now
                state.state = AlertState.PENDING if hold else AlertState.FIRING
                out.append(self._transition(rule, state, state.state, None, values, now))
            elif state.state is AlertState.PENDING and now - (state.active_since or now) >= hold:
                state.state = AlertState.FIRING
                out.append(
                    self._transition(
                        rule, state, AlertState.FIRING, AlertState.PENDING, values, now
                    )
                )
            return
        if state.state is AlertState.PENDING:
            # Never fired: it just goes away (Prometheus does the same); still reported.
            out.append(
                self._transition(rule, state, AlertState.RESOLVED, AlertState.PENDING, values, now)
            )
            state.state = None
        elif (
            state.state is AlertState.FIRING
            and now - (state.last_active or now) >= rule.keep_firing_for.total_seconds()
        ):
            out.append(
                self._transition(rule, state, AlertState.RESOLVED, AlertState.FIRING, values, now)
            )
            state.state = None

    def _values(self, rule: AnyRule, state: KeyState, values: dict[str, Any]) -> dict[str, Any]:
        filled: dict[str, Any] = {"rule": rule.id, "severity": rule.severity}
        filled.update(zip(rule.key_by, state.key, strict=True))
        window = self._windows[rule.id]
        filled["window"] = format_duration(timedelta(seconds=window))
        if state.events:
            last = state.events[-1][2]
            for name in ("site", "kiosk", "cycle", "stage", "moment"):
                filled.setdefault(name, getattr(last, name))
            info = self._moments.get((last.cycle, last.moment))
            filled["score"] = last.score
            filled.setdefault("target", f"{last.target:.1f}")
            if info:
                cycle = self.catalogue.cycles[last.cycle]
                filled["moment_question"] = info[3].get(cycle.languages[0], "")
            reasons = Counter(r for _, _, obs in state.events for r in obs.reasons)
            filled["top_reasons"] = ", ".join(r for r, _ in reasons.most_common(3)) or "none given"
        filled.update(values)
        return filled

    def _transition(
        self,
        rule: AnyRule,
        state: KeyState,
        new: AlertState,
        previous: AlertState | None,
        values: dict[str, Any],
        now: float,
    ) -> Transition:
        at = datetime.fromtimestamp(now, UTC)
        filled = self._values(rule, state, values)
        if state.alert is None or previous is None:
            state.alert = Alert(
                rule=rule.id,
                key=tuple(zip(rule.key_by, state.key, strict=True)),
                state=new,
                severity=rule.severity,
                summary=render(rule.summary, filled),
                since=at,
                response=rule.response,
                active_since=datetime.fromtimestamp(state.active_since or now, UTC),
                labels=dict(rule.labels),
                values=filled,
            )
        else:
            summary = (
                render(rule.summary, filled)
                if new is not AlertState.RESOLVED
                else state.alert.summary
            )
            state.alert = state.alert.moved_to(new, at, summary=summary, values=filled)
        alert = state.alert
        if new is AlertState.RESOLVED:
            state.alert = None
            state.active_since = None
        return alert, previous

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

    def replay(
        self,
        ratings: Iterable[Rating],
        tick_every: timedelta = timedelta(minutes=1),
        until: datetime | None = None,
    ) -> Iterator[Transition]:
        """Run history through the rules in time order, ticking on the data's own clock."""
        step = tick_every.total_seconds()
        next_tick: float | None = None
        for rating in ratings:
            t = rating.at.timestamp()
            if next_tick is None:
                next_tick = t + step
            while t >= next_tick:
                yield from self.tick(datetime.fromtimestamp(next_tick, UTC))
                next_tick += step
            yield from self.observe(rating)
        if until is not None and next_tick is not None:
            end = until.timestamp()
            while next_tick <= end:
                yield from self.tick(datetime.fromtimestamp(next_tick, UTC))
                next_tick += step

    @property
    def horizon(self) -> timedelta:
        """History a restart replays to rebuild the windows."""
        return max((r.horizon for r in self.rules), default=timedelta(0))


def _window_seconds(rule: AnyRule) -> float:
    window = rule.window if rule.window is not None else DEFAULT_SINGLE_WINDOW
    return window.total_seconds()
