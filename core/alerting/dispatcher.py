"""The dispatcher: alerts in, notifications out, Alertmanager-style.

``submit`` (on the recording path) only routes and groups in memory. ``tick``
(called by the engine every few seconds) decides, per group and receiver,
whether a notification is due, applying silences, quiet hours and the three
timers:

* ``group_wait``: a new group waits this long, so alerts that fire together go
  out together;
* ``group_interval``: after a group's first notification it is looked at again
  only this often; what changed meanwhile (new firing alerts, resolutions) goes
  out then;
* ``repeat_interval``: a group still firing, unchanged and not acknowledged is
  sent again after this long.

Delivery runs on one daemon thread per receiver (see :mod:`.delivery`); every
attempt is recorded in the ``notifications`` table, which is read back at start.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..alert import Alert, AlertState
from ..errors import ConfigError
from ..plugins import PluginHost
from ..store import Store
from ..store.contract import SiteStore
from ..store.folder import site_store_of
from .config import NotifySettings, ReceiverConfig, Route
from .delivery import DeliveryWorker, RetryPolicy
from .grouping import Group, group_key, needs_update
from .journal import FAILED, QUEUED, SUPPRESSED, Delivered, GroupId, Journal
from .matchers import Matcher, matches_all
from .notification import (
    FIRING,
    RESOLVED,
    Notification,
    NotifiedAlert,
    Notifier,
    idempotency_key,
)
from .notifiers import NotifierFactory, build_notifier, builtin_notifiers, collect_notifiers
from .silences import Silence, SilenceBook, new_silence

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Routes, groups, silences and delivers alerts; see the module docstring.

    ``notifier_factories`` maps notifier types to factories
    (:func:`collect_notifiers`); ``clock`` returns the current UTC time and is
    injectable for tests. Raises :class:`ConfigError` when a receiver cannot be
    built (unknown type, bad plugin settings, apprise not installed).
    """

    def __init__(
        self,
        settings: NotifySettings,
        notifier_factories: Mapping[str, NotifierFactory],
        store: SiteStore | Store,
        site_timezone: str | tzinfo = "UTC",
        *,
        clock: Clock = utc_now,
        data_dir: Path | None = None,
        source: str = "[notify]",
        history: timedelta = timedelta(days=30),
        silence_refresh: timedelta = timedelta(seconds=10),
        start: bool = True,
    ) -> None:
        self.settings = settings
        self.zone = ZoneInfo(site_timezone) if isinstance(site_timezone, str) else site_timezone
        self.clock = clock
        self.receivers: dict[str, ReceiverConfig] = settings.all_receivers
        site = site_store_of(store)
        folder = data_dir or getattr(site, "data_dir", None)
        if folder is None:
            raise ValueError("a dispatcher on a store that is not a data folder needs data_dir")
        self.notifiers = self._build(notifier_factories, Path(folder), self.zone, source)
        # The store is shared with the recorder; our threads take turns through one lock.
        writes = threading.Lock()
        self.journal = Journal(site, clock, writes)
        self.silence_book = SilenceBook(site, writes)
        self.silence_refresh = silence_refresh
        self._lock = threading.Lock()
        self._groups: dict[GroupId, Group] = {}
        self._in_flight: dict[GroupId, Notification] = {}
        self._closed = False
        self._last_refresh: datetime | None = None
        restored = self.journal.restore(history)
        self._delivered: dict[GroupId, Delivered] = restored.delivered
        self._refused: dict[GroupId, Delivered] = restored.refused
        self._sequences: dict[GroupId, int] = restored.sequences
        #: Receivers whose last answer was a refusal (HTTP 4xx...): why, and since when.
        self.broken: dict[str, tuple[str, datetime]] = {}
        self._workers = {
            name: DeliveryWorker(
                name,
                notifier,
                RetryPolicy(
                    max_attempts=self.receivers[name].max_attempts,
                    base=self.receivers[name].backoff.total_seconds(),
                    cap=self.receivers[name].backoff_max.total_seconds(),
                ),
                self.journal,
                self._on_done,
            )
            for name, notifier in self.notifiers.items()
        }
        self.silence_book.load()
        self._last_refresh = clock()
        self._unfinished = restored.unfinished
        if start:
            self.start()

    @classmethod
    def from_config(
        cls,
        config: Any,
        store: SiteStore | Store,
        host: PluginHost | None = None,
        *,
        clock: Clock = utc_now,
        start: bool = True,
        data_dir: Path | None = None,
    ) -> Dispatcher:
        """Build from a site :class:`~servicecycle.core.Config` (its ``notify`` section)."""
        settings = getattr(config, "notify", None) or NotifySettings()
        factories = collect_notifiers(host) if host is not None else builtin_notifiers()
        return cls(
            settings,
            factories,
            store,
            config.site.timezone,
            clock=clock,
            data_dir=data_dir,
            source=getattr(config, "source", "[notify]"),
            start=start,
        )

    def _build(
        self,
        factories: Mapping[str, NotifierFactory],
        data_dir: Path,
        zone: tzinfo,
        source: str,
    ) -> dict[str, Notifier]:
        notifiers: dict[str, Notifier] = {}
        problems: list[str] = []
        for name, receiver in self.receivers.items():
            factory = factories.get(receiver.type)
            if factory is None:
                problems.append(
                    f"notify.receivers.{name}.type = {receiver.type!r}: unknown notifier type; "
                    f"known types: {', '.join(sorted(factories))}"
                )
                continue
            try:
                notifiers[name] = build_notifier(
                    name,
                    receiver.type,
                    factory,
                    receiver.settings,
                    data_dir=data_dir,
                    timezone=zone,
                    source=source,
                )
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(source, problems)
        return notifiers

    # -- life ----------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery threads and resend deliveries a stop interrupted."""
        for worker in self._workers.values():
            worker.start()
        unfinished, self._unfinished = self._unfinished, []
        for notification, attempts in unfinished:
            worker = self._workers.get(notification.receiver)
            if worker is None:
                self.journal.record(
                    notification,
                    FAILED,
                    attempts,
                    f"receiver {notification.receiver!r} is no longer configured",
                )
                continue
            log.info(
                "resending notification %s to %s (interrupted by a stop)",
                notification.id,
                notification.receiver,
            )
            with self._lock:
                self._in_flight[(notification.group_key, notification.receiver)] = notification
            worker.put(notification, attempts + 1)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery has finished (sent or failed); ``False`` on timeout.

        Groups still waiting for ``group_wait`` are not forced out: call
        :meth:`tick` first for that.
        """
        deadline = time.monotonic() + timeout
        return all(worker.wait_idle(deadline) for worker in self._workers.values())

    def close(self, timeout: float = 5.0) -> bool:
        """Stop accepting alerts, let deliveries finish for up to ``timeout`` s, stop threads.

        A delivery still unfinished is in the table as queued (or retry) and is
        sent again by the next dispatcher on the same store.
        """
        with self._lock:
            self._closed = True
        finished = self.flush(timeout)
        for worker in self._workers.values():
            worker.stop(0.5)
        return finished

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- alerts in -----------------------------------------------------------

    def routes_for(self, labels: Mapping[str, str]) -> Iterator[Route]:
        """The routes an alert with ``labels`` takes: first match, plus any after ``continue``."""
        for route in self.settings.routes:
            if matches_all(route.matchers, labels):
                yield route
                if not route.continue_:
                    return

    def submit(self, alert: Alert) -> None:
        """Take an alert transition. Never blocks on I/O and never raises.

        Pending alerts are ignored; firing and resolved ones join a group per
        matching route, to be looked at by the next :meth:`tick`.
        """
        try:
            if alert.state not in (AlertState.FIRING, AlertState.RESOLVED):
                return
            now = self.clock()
            labels = alert.all_labels()
            fingerprint = alert.fingerprint
            with self._lock:
                if self._closed:
                    log.warning("dispatcher closed; alert %s not notified", fingerprint)
                    return
                for route in self.routes_for(labels):
                    key, group_labels = group_key(route, labels)
                    gid = (key, route.receiver)
                    group = self._groups.get(gid)
                    if group is None:
                        group = Group(route, group_labels, now + route.group_wait)
                        self._groups[gid] = group
                    known = group.alerts.get(fingerprint)
                    if known is not None and known.since > alert.since:
                        continue  # an older transition arriving late
                    group.alerts[fingerprint] = alert
        except Exception:  # the recording path must never fail because of notifications
            log.exception("cannot route alert %r", getattr(alert, "fingerprint", alert))

    # -- deciding ------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[Notification]:
        """Queue the notifications due at ``now``; returns them.

        Does a little disk I/O (re-reading silences every ``silence_refresh``;
        one fsynced ``queued`` row per notification), never network I/O. Like
        :meth:`submit` it never raises: a bug here is logged, and the engine's
        loop goes on.
        """
        try:
            return self._tick(now or self.clock())
        except Exception:
            log.exception("notification tick failed")
            return []

    def _tick(self, now: datetime) -> list[Notification]:
        if self._last_refresh is None or now - self._last_refresh >= self.silence_refresh:
            self.silence_book.load()
            self._last_refresh = now
        queued: list[Notification] = []
        suppressed: list[Notification] = []
        with self._lock:
            active = self.silence_book.active(now)
            for gid, group in list(self._groups.items()):
                if group.next_flush > now or gid in self._in_flight:
                    continue
                if self._quiet(group.route, now):  # held back: still due when it ends
                    group.held |= {
                        fingerprint
                        for fingerprint, alert in group.alerts.items()
                        if alert.state == AlertState.FIRING
                        and not any(s.matches(alert.all_labels()) for s in active)
                    }
                    continue
                group.next_flush = now + group.route.group_interval
                notification, delivered = self._flush(gid, group, active, now)
                if notification is not None:
                    (queued if not delivered else suppressed).append(notification)
                if not group.alerts and gid not in self._in_flight:
                    del self._groups[gid]
        for notification in suppressed:
            self.journal.record(notification, SUPPRESSED, 0, "send_resolved = false")
        for notification in queued:
            self.journal.record(notification, QUEUED, 0)
            self._workers[notification.receiver].put(notification)
        return queued

    def _quiet(self, route: Route, now: datetime) -> bool:
        periods = self.settings.quiet_hours
        return any(periods[name].contains(now, self.zone) for name in route.quiet_hours)

    def _flush(
        self, gid: GroupId, group: Group, active: list[Silence], now: datetime
    ) -> tuple[Notification | None, bool]:
        """Decide for one due group (under the lock). Returns (notification, already_done)."""
        receiver = self.receivers[group.route.receiver]
        last = self._delivered.get(gid)
        told_firing = (last.firing if last else frozenset()) | group.held
        firing: dict[str, Alert] = {}
        resolved: dict[str, Alert] = {}
        for fingerprint, alert in list(group.alerts.items()):
            silenced = any(s.matches(alert.all_labels()) for s in active)
            if alert.state == AlertState.RESOLVED:
                if fingerprint not in told_firing or not receiver.send_resolved:
                    del group.alerts[fingerprint]  # the receiver never heard of it, or not wanted
                    if fingerprint in told_firing:
                        resolved[fingerprint] = alert
                elif not silenced:
                    resolved[fingerprint] = alert
            elif not silenced:
                firing[fingerprint] = alert
        if not receiver.send_resolved:
            if firing or not resolved:
                resolved = {}
            else:  # everything resolved: remember it without telling the receiver
                group.held.clear()
                notification = self._notification(gid, group, {}, resolved, now)
                self._delivered[gid] = Delivered(
                    frozenset(), notification.resolved, now, notification.sequence
                )
                return notification, True
        if not needs_update(last, firing, resolved, group.route, now):
            return None, False
        refused = self._refused.get(gid)
        if (
            refused is not None
            and refused.firing == frozenset(firing)
            and refused.resolved == frozenset(resolved)
            and now < refused.at + group.route.repeat_interval
        ):
            return None, False  # the receiver refused exactly this: not again every interval
        group.held.clear()
        notification = self._notification(gid, group, firing, resolved, now)
        self._in_flight[gid] = notification
        return notification, False

    def _notification(
        self,
        gid: GroupId,
        group: Group,
        firing: Mapping[str, Alert],
        resolved: Mapping[str, Alert],
        now: datetime,
    ) -> Notification:
        sequence = self._sequences.get(gid, 0) + 1
        self._sequences[gid] = sequence
        status = FIRING if firing else RESOLVED
        alerts = [NotifiedAlert.from_alert(firing[f]) for f in sorted(firing)]
        alerts += [NotifiedAlert.from_alert(resolved[f]) for f in sorted(resolved)]
        key, receiver = gid
        return Notification(
            id=uuid.uuid4().hex,
            receiver=receiver,
            status=status,
            group_key=key,
            group_labels=dict(group.labels),
            alerts=tuple(alerts),
            sequence=sequence,
            idempotency_key=idempotency_key(receiver, key, status, firing, resolved, sequence),
            created_at=now,
        )

    def _on_done(
        self, notification: Notification, delivered: bool, refusal: str | None = None
    ) -> None:
        gid = (notification.group_key, notification.receiver)
        receiver = notification.receiver
        with self._lock:
            self._in_flight.pop(gid, None)
            if refusal is not None:
                self._refused[gid] = Delivered(
                    notification.firing, notification.resolved, self.clock(), notification.sequence
                )
                if receiver not in self.broken:
                    log.error(
                        "receiver %r is broken: %s. What it refused is not sent again until "
                        "its alerts change or repeat_interval passes; fix its settings in [notify]",
                        receiver,
                        refusal,
                    )
                self.broken.setdefault(receiver, (refusal, self.clock()))
                return
            if not delivered:
                return  # the group stays due; the next group_interval tries again
            self._refused.pop(gid, None)
            if self.broken.pop(receiver, None) is not None:
                log.warning("receiver %r works again", receiver)
            self._delivered[gid] = Delivered(
                notification.firing, notification.resolved, self.clock(), notification.sequence
            )
            group = self._groups.get(gid)
            if group is None:
                return
            for fingerprint in notification.resolved:
                alert = group.alerts.get(fingerprint)
                if alert is not None and alert.state == AlertState.RESOLVED:
                    del group.alerts[fingerprint]
            if not group.alerts:
                del self._groups[gid]

    # -- silences ------------------------------------------------------------

    def add_silence(
        self,
        matchers: Mapping[str, Any] | Iterable[str | Matcher],
        *,
        created_by: str,
        comment: str,
        ends_at: datetime | None = None,
        duration: timedelta | None = None,
        starts_at: datetime | None = None,
    ) -> Silence:
        """Store a new silence (raises :class:`SilenceError` naming a bad field)."""
        silence = new_silence(
            matchers,
            created_by=created_by,
            comment=comment,
            now=self.clock(),
            ends_at=ends_at,
            duration=duration,
            starts_at=starts_at,
        )
        return self.silence_book.add(silence)

    def expire_silence(self, silence_id: str) -> Silence:
        """End a silence now (its record stays, with ``ends_at`` set to now)."""
        return self.silence_book.expire(silence_id, self.clock())

    def active_silences(self, now: datetime | None = None) -> list[Silence]:
        return self.silence_book.active(now or self.clock())

    def silences(self) -> list[Silence]:
        """Every silence known, expired ones included."""
        return self.silence_book.all()

    # -- looking in ----------------------------------------------------------

    def pending_groups(self) -> list[dict[str, Any]]:
        """The groups held in memory: for ``servicecycle alerts`` style listings and tests."""
        with self._lock:
            return [
                {
                    "group_key": key,
                    "receiver": receiver,
                    "alerts": sorted(group.alerts),
                    "next_flush": group.next_flush,
                    "in_flight": (key, receiver) in self._in_flight,
                }
                for (key, receiver), group in sorted(self._groups.items())
            ]
