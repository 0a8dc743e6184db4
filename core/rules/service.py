"""Alerting for one site: rules + engine + alert book + plugins (+ notifications).

The kiosk runs this in a worker thread, `servicecycle alerts run` runs it on
its own: both follow the store, so ratings recorded by any process count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..alert import Alert, AlertState
from ..rating import Rating
from .book import AlertBook, RuleFault
from .engine import RuleEngine, Transition
from .follow import RatingFollower
from .loader import RuleSet, load_ruleset

if TYPE_CHECKING:
    from ..alerting import Dispatcher
    from ..runtime import Runtime

log = logging.getLogger(__name__)


def site_ruleset(runtime: Runtime) -> RuleSet:
    """Plugin rules with this site's additions, removals and overrides."""
    settings = runtime.config.rules
    return load_ruleset(
        runtime.plugins,
        runtime.catalogue,
        files=settings.files,
        add=settings.add,
        disable=settings.disable,
        override=settings.override,
        source=runtime.config.source,
    )


class Alerting:
    """Evaluate a site's rules against its ratings as they are recorded."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        ruleset: RuleSet | None = None,
        notify: Callable[[Alert], Any] | None = None,
        dispatcher: Dispatcher | None = None,
        known_kiosks: Iterable[tuple[str, str]] | None = None,
        site: str | None = None,
    ) -> None:
        """``dispatcher`` delivers notifications (``notify`` is a plain callback, for tests).

        ``site`` keeps the alert book to that site's alerts (a hub runs one of
        these per site over one store); ``known_kiosks`` are the kiosks a
        silence rule counts from the start (default: the configured one).
        """
        self.runtime = runtime
        self.dispatcher = dispatcher
        if dispatcher is not None and notify is None:
            notify = dispatcher.submit
        self.ruleset = ruleset if ruleset is not None else site_ruleset(runtime)
        for problem in self.ruleset.problems:
            log.warning("rule not loaded: %s", problem)
        self.book = AlertBook(runtime.site_store, site=site)
        self.notify = notify
        config = runtime.config
        self.engine = RuleEngine(
            self.ruleset.active(),
            runtime.catalogue,
            config.site,
            known_kiosks=(
                [(config.site.id, config.kiosk.id)] if known_kiosks is None else known_kiosks
            ),
            on_fault=self.book.record_fault,
        )
        self.follower: RatingFollower | None = None
        self.started = False

    def start(
        self,
        now: datetime | None = None,
        history: Iterable[tuple[str, Rating]] | None = None,
    ) -> list[Transition]:
        """Rebuild windows from recent history, take back stored alerts, announce what differs.

        ``history`` is given by a caller that follows the feed itself (a hub, for
        all its sites at once) and then hands each change to :meth:`feed`.
        """
        now = now or datetime.now(UTC)
        self.book.record_start((p.rule, str(p)) for p in self.ruleset.problems)
        if history is None:
            self.follower = RatingFollower(
                self.runtime.site_store.changes, now - self.engine.horizon
            )
            history = self.follower.poll()
        self.started = True
        for kind, rating in history:  # silently: these were judged before
            (self.engine.observe if kind == "new" else self.engine.amend)(rating)
        self.engine.tick(now)
        stored = {a.fingerprint: a for a in self.book.current()}
        computed = {a.fingerprint: a for a in self.engine.alerts()}
        self.engine.restore(stored.values())
        self.engine.on_change = self._changed
        missed = [(a, None) for fp, a in computed.items() if fp not in stored]
        for alert, previous in missed:  # active by the data, never announced (a crash between)
            self._changed(alert, previous)
        if self.dispatcher is not None:
            # The dispatcher's own journal knows what was delivered; it will not repeat it.
            for alert in stored.values():
                if alert.state is AlertState.FIRING:
                    self.dispatcher.submit(alert)
        return missed + self.tick(now)

    def poll(self, now: datetime | None = None) -> list[Transition]:
        """Observe what was recorded since the last poll, then let time pass."""
        if self.follower is None:
            return self.start(now)
        transitions: list[Transition] = []
        for kind, rating in self.follower.poll():
            transitions += self.feed(kind, rating)
        return transitions + self.tick(now or datetime.now(UTC))

    def feed(self, kind: str, rating: Rating, t: float | None = None) -> list[Transition]:
        """One change of the feed; ``t`` is when the rules take it to have happened
        (default: the rating's own time; a hub corrects a kiosk's wrong clock)."""
        if kind == "new":
            return self.engine.observe(rating, t)
        return self.engine.amend(rating)

    def tick(self, now: datetime) -> list[Transition]:
        transitions = self.engine.tick(now)
        if self.dispatcher is not None:
            self.dispatcher.tick()  # on its own clock: the one its timers were set with
        return transitions

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()

    def acknowledge(self, fingerprint: str, by: str, note: str = "") -> Alert:
        return self.book.acknowledge(fingerprint, by, note)

    def faults(self) -> list[RuleFault]:
        """Rules not loaded or failing, as staff should see them."""
        return self.book.faults()

    def _changed(self, alert: Alert, previous: AlertState | None) -> None:
        self.book.record(alert, previous)
        self.runtime.plugins.call_each("alert_changed", alert=alert, previous=previous)
        if self.notify is not None and alert.state is not AlertState.PENDING:
            self.notify(alert)
