"""A kiosk session: everything a kiosk screen asks of core, in one place.

The kiosk's screens hold no business logic: they call this. Recording a tap,
spotting repeated presses, offering reasons, signing the survey link, picking
one language per screen, checking the staff PIN, today's figures and the
alerts all live here, on the same paths the CLI and the survey page use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from .alert import Alert
from .cycle import Cycle, Moment, Stage
from .errors import ServiceCycleError
from .fleet.membership import Membership, load_membership
from .fleet.settings import DesiredSettings, check_settings, load_settings
from .fleet.shipper import Shipper, ShipStatus
from .metrics import MomentFigures, moment_figures
from .pin import PinGuard, hash_pin
from .rating import Rating, format_time, new_rating_id, utc_now
from .runtime import Runtime
from .store import RatingFilter
from .survey import survey_url
from .tokens import SurveyTokens

if TYPE_CHECKING:
    from .rules import RuleFault

log = logging.getLogger(__name__)

DEFAULT_PIN = "0000"

FollowUp = Literal["reasons", "praise"] | None


@dataclass(frozen=True)
class Tap:
    """What happened when a customer pressed a face."""

    rating: Rating
    follow_up: FollowUp  # which question comes next, if any
    options: list[tuple[str, str]]  # (reason id, label) to offer, at most six


class KioskSession:
    def __init__(
        self,
        runtime: Runtime,
        *,
        cycle: str | None = None,
        moment: str | None = None,
        language: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.cycle, self.stage, self.moment = runtime.kiosk_moment(cycle, moment)
        self.languages = list(self.config.kiosk.languages)
        self.language = self.default_language = self.languages[0]
        self.scale = self.config.kiosk.scale or self.cycle.scale
        self.membership: Membership | None = load_membership(runtime.data_dir)
        self.shipper: Shipper | None = None
        #: The hub's settings in force (their version; None: this kiosk's own), the last
        #: ones it could not take and why, and ones received and waiting for a reset.
        self.settings_version: int | None = None
        self.settings_refused: int | None = None
        self.settings_error: str | None = None
        self._waiting: DesiredSettings | None = None
        self._settings_lock = threading.Lock()
        if self.membership is not None:
            kept = load_settings(runtime.data_dir)  # no network needed: the last ones received
            if kept is not None:
                self._try_settings(kept)
        if language is not None and language not in self.languages:
            if self.settings_version is None:
                raise ServiceCycleError(
                    f"language {language!r} is not offered by this kiosk; kiosk.languages: "
                    f"{', '.join(self.languages)}"
                )
            log.warning(
                "language %r is not among the hub's languages for this kiosk (%s); starting in %r",
                language,
                ", ".join(self.languages),
                self.languages[0],
            )
            language = None
        self.language = language or self.languages[0]
        #: The language every customer starts in (the attract screen resets to it).
        self.default_language = self.language
        self._clock = clock
        self._last_tap: float | None = None
        self._tokens: SurveyTokens | None = None
        self._pin: PinGuard | None = None

    @property
    def high_threshold(self) -> int:
        """Ratings at or above this ask "what went well?" (0: never): ``kiosk.high_threshold``,
        else the top two points of the kiosk's scale. ``config show`` reports this value."""
        configured = self.config.kiosk.high_threshold
        return configured if configured is not None else self.scale - 1

    def open_store(self) -> None:
        """Take the data folder for this kiosk. Raises StoreError (StoreBusy when another
        kiosk owns it, StoreCorruption when its newest file is damaged)."""
        self.runtime.own_store(f"kiosk {self.config.kiosk.id}")

    def check_store(self) -> None:
        """Prove the data folder takes a durable write now (a kiosk out of service asks).

        Opens it as owner if needed, then appends and fsyncs a small event; raises
        StoreError (or StoreBusy / StoreCorruption) when that cannot be done.
        """
        self.open_store()
        now = utc_now()
        self.runtime.site_store.events.append(
            {
                "id": new_rating_id(now),
                "at": format_time(now),
                "kind": "store-check",
                "kiosk": self.config.kiosk.id,
            }
        )

    # -- languages: one per screen ------------------------------------------------

    def set_language(self, language: str) -> None:
        if language not in self.languages:
            raise ServiceCycleError(f"language {language!r} is not offered here")
        self.language = language

    def screen_language(self, texts: Mapping[str, Mapping[str, str]]) -> tuple[str, dict[str, str]]:
        """Every text of one screen in one language: the chosen one if all texts have it.

        Otherwise the whole screen falls back (the kiosk's first language, then the
        cycle's), and the missing keys are logged, so a screen never mixes languages.
        """
        candidates = [self.language, self.languages[0], self.cycle.languages[0], "en"]
        for language in dict.fromkeys(candidates):
            missing = [key for key, text in texts.items() if language not in text]
            if not missing:
                if language != self.language:
                    absent = [k for k, t in texts.items() if self.language not in t]
                    log.warning(
                        "no %r text for %s; showing the screen in %r",
                        self.language,
                        ", ".join(absent),
                        language,
                    )
                return language, {key: text[language] for key, text in texts.items()}
        fallback = self.cycle.languages[0]
        log.warning(
            "texts %s have no common language; using %r where present", list(texts), fallback
        )
        return fallback, {
            k: t.get(fallback) or next(iter(t.values()), "") for k, t in texts.items()
        }

    def reason_texts(self, ids: list[str]) -> dict[str, Mapping[str, str]]:
        return {f"reason:{rid}": self.cycle.available_reasons[rid].label for rid in ids}

    # -- the customer's path -------------------------------------------------------

    def tap(self, score: int) -> Tap:
        """Record a press durably (through the one recording path), then say what comes next."""
        now = self._clock()
        gap = self.config.kiosk.repeat_gap.total_seconds()
        suspect = self._last_tap is not None and now - self._last_tap < gap
        self._last_tap = now
        rating = self.runtime.recorder.record(
            site=self.config.site.id,
            kiosk=self.config.kiosk.id,
            cycle=self.cycle.id,
            moment=self.moment.id,
            score=score,
            scale=self.scale,
            language=self.language
            if self.language in self.cycle.languages
            else self.cycle.languages[0],
            flags=("suspect",) if suspect else (),
        )
        follow_up, options = self._follow_up(score)
        return Tap(rating, follow_up if not suspect else None, options if not suspect else [])

    def _follow_up(self, score: int) -> tuple[FollowUp, list[tuple[str, str]]]:
        kiosk = self.config.kiosk
        high = self.high_threshold
        # never a complaint after the best face, nor praise after the worst (core refuses both)
        if score <= kiosk.low_threshold and score < self.scale and self.moment.reasons:
            ids, kind = list(self.moment.reasons[:6]), "reasons"
        elif high and score >= high and score > 1 and self.moment.praise:
            ids, kind = list(self.moment.praise[:6]), "praise"
        else:
            return None, []
        _, labels = self.screen_language(self.reason_texts(ids))
        return kind, [(rid, labels[f"reason:{rid}"]) for rid in ids]  # type: ignore[return-value]

    def add_reasons(self, rating: Rating, reasons: list[str]) -> Rating:
        return self.runtime.recorder.add_reasons(rating, reasons)

    def survey_link(self, rating: Rating) -> str:
        """The signed follow-up survey URL for this very rating."""
        if self._tokens is None:
            self._tokens = SurveyTokens.for_data_dir(self.runtime.data_dir)
        ttl = int(self.config.survey.token_ttl.total_seconds())
        token = self._tokens.issue(rating.id, ttl=ttl)
        settings = self.config.survey
        if self.membership is not None:  # a fleet kiosk: the hub serves the survey pages
            settings = settings.model_copy(update={"url": self.membership.survey_url})
        return survey_url(self.runtime.plugins, settings, rating, token)

    # -- the hub -------------------------------------------------------------------

    def start_shipping(
        self, interval: float = 1.0, heartbeat: float | None = None
    ) -> Shipper | None:
        """Ship this kiosk's ratings to its hub in a background thread (None: no hub).

        With nothing to ship it asks the hub every ``heartbeat`` seconds (default:
        ``kiosk.heartbeat``); settings in the hub's replies wait for
        :meth:`apply_waiting_settings`.
        """
        if self.membership is None or self.shipper is not None:
            return self.shipper
        from importlib.metadata import version

        shipper = Shipper(
            self.runtime.site_store.changes,
            self.runtime.data_dir,
            about=self.about,
            interval=interval,
            heartbeat=self.config.kiosk.heartbeat.total_seconds()
            if heartbeat is None
            else heartbeat,
            version=version("servicecycle"),
            on_settings=self.offer_settings,
        )
        shipper.start()
        self.shipper = shipper
        return shipper

    def about(self) -> dict[str, object]:
        """What this kiosk tells its hub of itself with every request (`hub kiosks`)."""
        return {
            "cycle": self.cycle.id,
            "moment": self.moment.id,
            "languages": list(self.languages),
            "settings": {
                "applied": self.settings_version,
                "refused": self.settings_refused,
                "error": self.settings_error,
            },
        }

    # -- settings from the hub -----------------------------------------------------

    def apply_settings(self, settings: DesiredSettings) -> None:
        """Ask about ``settings``' cycle and moment, in its languages (the first one the
        default), from now on. Checked against this kiosk's own catalogue first: a
        :class:`ServiceCycleError` names what it lacks, and nothing changes."""
        cycle, moment, languages = check_settings(
            self.runtime.catalogue, settings.cycle, settings.moment, settings.languages
        )
        self._ask(cycle, moment)
        self.languages = list(languages)
        if self.language not in self.languages:
            self.language = self.languages[0]
        self.default_language = self.languages[0]
        self.settings_version = settings.version
        self.settings_refused = self.settings_error = None
        log.info(
            "kiosk now asks about %s/%s in %s: the hub's settings version %d, by %s",
            cycle,
            moment,
            ", ".join(languages),
            settings.version,
            settings.changed_by or "?",
        )

    def offer_settings(self, settings: DesiredSettings) -> None:
        """Settings the hub sent (from the shipper's thread): they wait for the kiosk to be
        between customers (:meth:`apply_waiting_settings`)."""
        with self._settings_lock:
            self._waiting = settings
        log.info("the hub's settings version %d wait for the next customer", settings.version)

    @property
    def settings_waiting(self) -> bool:
        """Whether the hub sent settings that are not in force yet."""
        return self._waiting is not None

    def apply_waiting_settings(self) -> bool:
        """Put the waiting settings in force (call between customers, off any tap): whether
        they were. Settings this kiosk cannot take are refused, logged and told the hub."""
        with self._settings_lock:
            settings, self._waiting = self._waiting, None
        if settings is None:
            return False
        applied = self._try_settings(settings)
        if self.shipper is not None:
            self.shipper.report_soon()  # so `hub kiosks` shows it now, not at the heartbeat
        return applied

    def _try_settings(self, settings: DesiredSettings) -> bool:
        try:
            self.apply_settings(settings)
        except ServiceCycleError as exc:
            self.settings_refused, self.settings_error = settings.version, str(exc)
            log.warning(
                "the hub's settings version %d are refused here, the kiosk asks about %s/%s "
                "as before: %s",
                settings.version,
                self.cycle.id,
                self.moment.id,
                exc,
            )
            return False
        return True

    def hub_status(self) -> ShipStatus | None:
        """How shipping goes (connected, since when offline, how many wait); None: no hub."""
        return self.shipper.status if self.shipper is not None else None

    def stop_shipping(self) -> None:
        if self.shipper is not None:
            self.shipper.stop()
            self.shipper = None

    # -- the staff's path ----------------------------------------------------------

    @property
    def default_pin_in_use(self) -> bool:
        return self.config.kiosk.pin_hash is None

    def check_pin(self, pin: str) -> bool:
        """True for the staff PIN; raises PinLocked after repeated wrong ones."""
        if self._pin is None:
            encoded = self.config.kiosk.pin_hash
            if encoded is None:
                log.warning("kiosk.pin_hash is not set: the demo PIN %s is in use", DEFAULT_PIN)
                encoded = hash_pin(DEFAULT_PIN, iterations=1000)
            self._pin = PinGuard(encoded, clock=self._clock)
        return self._pin.check(pin)

    def pin_locked_for(self) -> float:
        """Seconds until a PIN is checked again after repeated wrong ones (0.0: not locked)."""
        if self._pin is None:
            return 0.0
        return max(0.0, self._pin.locked_until - self._clock())

    def switch_moment(self, moment_id: str) -> None:
        """Ask about another moment of the cycle (the staff menu; until the hub sets one)."""
        self._ask(self.cycle.id, moment_id)
        log.info("kiosk now asks about %s/%s", self.cycle.id, moment_id)

    def _ask(self, cycle_id: str, moment_id: str) -> None:
        """The one way the kiosk's cycle and moment change (staff menu, hub's settings)."""
        cycle, stage, moment = self.runtime.catalogue.moment(cycle_id, moment_id)
        self.cycle, self.stage, self.moment = cycle, stage, moment
        self.scale = self.config.kiosk.scale or cycle.scale

    def moments(self) -> list[tuple[Stage, Moment]]:
        return list(self.cycle.moments())

    def today(self) -> list[MomentFigures]:
        """Today's figures (site time) for this site's ratings, suspect presses left out."""
        zone = self.config.site.zone
        start = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        where = RatingFilter(since=start.astimezone(UTC), site=self.config.site.id)
        return moment_figures(
            self.runtime.site_store.ratings.query(where),
            self.runtime.catalogue,
            low_threshold=self.config.kiosk.low_threshold,
        )

    @property
    def the_cycle(self) -> Cycle:
        return self.cycle


class AlertingWorker:
    """Runs a site's rules beside the kiosk, in a thread of its own, so the screen never waits.

    Between polls it also summarises closed days for reports, one small file
    at a time (:class:`~.reports.upkeep.Upkeep`), so a manager's report over
    the kiosk's history never has to start cold.
    """

    def __init__(self, runtime: Runtime, interval: float = 1.0) -> None:
        from .alerting import Dispatcher
        from .reports.upkeep import Upkeep
        from .rules import Alerting

        # A kiosk in a fleet leaves notifying to its hub, which does it once for all kiosks.
        self.in_fleet = load_membership(runtime.data_dir) is not None
        self.dispatcher = (
            None
            if self.in_fleet
            else Dispatcher.from_config(
                runtime.config, runtime.site_store, runtime.plugins, data_dir=runtime.data_dir
            )
        )
        self.alerting = Alerting(runtime, dispatcher=self.dispatcher)
        # Summaries ahead of time are the data folder's; other engines keep rollups.
        self.upkeep = (
            Upkeep(runtime.store, runtime.config.site.zone) if runtime.store_url is None else None
        )
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="servicecycle-alerting", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        failing = ""  # the last failure, logged once however often it repeats
        while not self._stop.is_set():
            try:
                with self._lock:
                    self.alerting.poll()
                if failing:
                    log.warning("alert evaluation works again")
                failing = ""
            except Exception as exc:  # keep evaluating: one bad poll must not end alerting
                if str(exc) != failing:
                    log.exception("alert evaluation failed; retrying every %.0f s", self.interval)
                failing = str(exc) or type(exc).__name__
            try:
                if self.upkeep is not None:
                    self.upkeep.step()
            except Exception:  # a report can always scan what is missing: never stop alerting
                log.exception("summarising a closed day for reports failed; retrying later")
                if self.upkeep is not None:
                    self.upkeep.resting_until = self.upkeep.clock() + self.upkeep.rest_seconds
            self._stop.wait(self.interval)

    def alerts(self) -> list[Alert]:
        with self._lock:
            return self.alerting.book.current()

    def acknowledge(self, alert_id: str, by: str) -> Alert:
        with self._lock:
            return self.alerting.acknowledge(alert_id, by)

    def faults(self) -> list[RuleFault]:
        """Rules not loaded or failing since alerting started (for the staff screen)."""
        with self._lock:
            return self.alerting.faults()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.alerting.close()
