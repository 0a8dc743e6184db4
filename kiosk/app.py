"""The kiosk application: navigation, lockdown, timers and the link to core.

Screens show things; this class decides where the kiosk goes next, and runs
every call into core off the UI thread (see :mod:`.background`). It holds no
business logic: recording, repeat detection, reasons, survey links, PIN
checks, figures and alerts are all :class:`KioskSession` / :class:`AlertingWorker`.

Lockdown: no inherited bindings (so no ctrl+q quit, no ctrl+c hint), no
command palette, and :meth:`check_action` refuses the actions that could leave
or suspend the app even if something tried to run them. Textual keeps terminal
signals off (ctrl+c, ctrl+z, ctrl+\\ arrive as plain keys) unless
``TEXTUAL_ALLOW_SIGNALS`` is set, which the CLI removes. The only way out is
the staff menu, behind a hidden chord and the PIN.

Staff keys are never ratings: the attract screen takes digit keys as faces,
so a PIN typed just as a staff screen closes would be recorded as a row of
ratings. See :meth:`KioskApp.staff_keys` for the guard, and
:meth:`PinScreen.holds_reset` for when the PIN pad stays up.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Callable
from typing import ClassVar

from textual import events
from textual.app import App
from textual.screen import Screen

from servicecycle.core import (
    AlertingWorker,
    KioskSession,
    Rating,
    ServiceCycleError,
    SiteWarning,
    StoreError,
    Tap,
    printable,
    readiness_warnings,
)

from .background import StoreThread
from .screens import (
    AttractScreen,
    OutOfServiceScreen,
    PinScreen,
    ReasonsScreen,
    StaffScreen,
    ThanksScreen,
    TooSmallScreen,
)
from .widgets.big_text import LARGE
from .widgets.faces import colour_class
from .widgets.qr import qr_matrix
from .widgets.tile import Tile

log = logging.getLogger(__name__)

#: Actions nothing on a kiosk may run: they leave, suspend or open a way out.
BLOCKED_ACTIONS = frozenset(
    {
        "quit",
        "help_quit",
        "command_palette",
        "suspend_process",
        "change_theme",
        "show_keys",
        "toggle_dark",
        "screenshot",
        "simple_screenshot",
        "maximize",
        "bell",
    }
)

#: Screens only staff see; leaving one starts the staff-keys guard.
STAFF_SCREENS = (PinScreen, StaffScreen)
#: Keys of the PIN pad besides the digits (the digits are taken by their character).
PAD_KEYS = frozenset({"enter", "backspace", "delete"})
#: Input that counts as someone at the kiosk (moving the pointer does not).
TOUCHES = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)


class KioskApp(App[None], inherit_bindings=False):
    """A locked-down rating terminal for one :class:`KioskSession`."""

    CSS_PATH = "kiosk.tcss"
    BINDINGS: ClassVar[list] = []  # type: ignore[type-arg]  # and none inherited
    ENABLE_COMMAND_PALETTE = False
    TITLE = "servicecycle kiosk"

    #: The hidden staff chord: this key, ``STAFF_PRESSES`` times within ``CHORD_SECONDS``.
    STAFF_KEY: ClassVar[str] = "ctrl+k"
    STAFF_PRESSES: ClassVar[int] = 3
    #: The touch version for keyboard-less kiosks: taps on the site's name.
    STAFF_TAPS: ClassVar[int] = 5
    CHORD_SECONDS: ClassVar[float] = 2.0
    #: The smallest terminal (columns, rows) the screens are laid out for; below it the
    #: kiosk shows staff the size it has and needs, and takes no rating (TooSmallScreen).
    MIN_SIZE: ClassVar[tuple[int, int]] = (80, 24)
    #: Screen classes by size: from 120×32 (``-wide -tall``) the question, faces and
    #: thanks grow (see widgets/big_text.py).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (LARGE[0], "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (LARGE[1], "-tall")]
    #: How long after a staff screen closes (and after each key swallowed since) digit
    #: keys, enter, backspace and taps on faces are not taken as a customer's.
    STAFF_KEYS_SECONDS: ClassVar[float] = 5.0

    def __init__(
        self,
        session: KioskSession,
        *,
        survey_link: Callable[[Rating], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        alerting: bool = True,
        alert_interval: float = 1.0,
        retry_seconds: float = 5.0,
        tick_seconds: float = 0.25,
        handle_sigterm: bool = False,
    ) -> None:
        """``survey_link``, ``clock`` and the intervals are there for tests and benchmarks;
        the CLI passes only the session (and ``handle_sigterm``)."""
        super().__init__()
        self.session = session
        self.survey_link = survey_link or session.survey_link
        self.clock = clock
        self.store = StoreThread()
        self.alerting: AlertingWorker | None = None
        self._alerting_wanted = alerting
        #: How often rules are evaluated, and the attract screen's firing sign checked.
        self.alert_interval = alert_interval
        self._retry_seconds = retry_seconds
        self.tick_seconds = tick_seconds
        self._handle_sigterm = handle_sigterm
        self.last_input = clock()
        self.problem: str | None = None  # why the kiosk is out of service, if it is
        self._store_down: str | None = None  # the same, as the store thread sees it
        self.store_opened = False  # the data folder has been taken at least once
        self._probing = False
        self._resetting = False
        self._chord: list[float] = []
        self._taps: list[float] = []
        self._staff_keys_until = 0.0  # the staff-keys guard is on until then (see staff_keys)
        self._taps_in_flight = 0  # presses being recorded: the hub's settings wait for them
        self._settings_worker = False  # an idle reset for the hub's settings is on its way
        self.staff_name = f"staff at kiosk {session.config.kiosk.id}"
        #: The survey link and code being made for the rating on a follow-up screen.
        self._survey: tuple[str, asyncio.Future[tuple[str, list[list[bool]]]]] | None = None
        #: What the site's configuration leaves undone, for the staff menu (and the log).
        self.site_warnings: list[SiteWarning] = readiness_warnings(
            session.config, session.runtime.plugins, in_fleet=session.membership is not None
        )
        # The faces' colours depend on the colours the terminal has (see widgets/faces.py).
        self.add_class(colour_class(self.console.color_system), update=False)

    # -- lockdown ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.removeprefix("app.") in BLOCKED_ACTIONS:
            log.info("refused action %r on the kiosk", action)
            return False
        return super().check_action(action, parameters)

    async def action_quit(self) -> None:
        """Never quits: staff leave through the staff menu (:meth:`staff_exit`)."""
        log.info("refused quit on the kiosk")

    def action_suspend_process(self) -> None:
        log.info("refused suspend on the kiosk")

    def action_command_palette(self) -> None:
        log.info("refused command palette on the kiosk")

    def get_default_screen(self) -> Screen:
        return AttractScreen()

    @property
    def default_language(self) -> str:
        """The language each customer starts in (the hub's settings may change it)."""
        return self.session.default_language

    # -- start and stop ------------------------------------------------------------

    def on_mount(self) -> None:
        for warning in self.site_warnings:
            log.warning("before relying on this kiosk: %s", printable(warning))
        self.set_interval(self.tick_seconds, self._tick)
        self.call_after_refresh(self.fit_screen)
        self._retry_timer = self.set_interval(self._retry_seconds, self._retry, pause=True)
        if self._handle_sigterm:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
        self.run_worker(self._open(), group="store")

    async def _open(self) -> None:
        try:
            await self.store.run(self._open_job)
        except Exception as exc:
            await self.out_of_service(exc)
            return
        self.store_opened = True
        await self._start_alerting()
        await self._start_shipping()
        # Everything built so far lives as long as the kiosk: take it out of the
        # collector's view, so full collections stay short (see reset()).
        gc.freeze()

    def _open_job(self) -> None:
        """On the store thread: take the data folder (or prove it writable again)."""
        try:
            self.session.check_store()  # a durable probe write, through core
        except BaseException as exc:
            self._store_down = str(exc)
            raise
        self._store_down = None

    async def _start_alerting(self) -> None:
        """Rules and notifications run in the worker's own thread: the screen never waits."""
        if not self._alerting_wanted or self.alerting is not None:
            return
        try:
            worker = await self.store.run(AlertingWorker, self.session.runtime, self.alert_interval)
        except Exception:
            log.exception("alert evaluation could not start; the kiosk goes on without it")
            self._alerting_wanted = False
            return
        worker.start()
        self.alerting = worker
        log.info("alert evaluation started")

    async def _start_shipping(self) -> None:
        """A fleet kiosk ships its ratings to the hub in a thread of core's: taps never wait."""
        if self.session.membership is None or self.session.shipper is not None:
            return
        try:
            await self.store.run(self.session.start_shipping)
        except Exception:
            log.exception("shipping to the hub could not start; ratings stay in the data folder")
            return
        log.info("shipping to the hub %s", self.session.membership.hub)

    def on_unmount(self) -> None:
        self.session.stop_shipping()
        if self._handle_sigterm:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        if self.alerting is not None:
            self.alerting.stop()
            self.alerting = None
            log.info("alert evaluation stopped")
        self.store.close()

    def staff_exit(self) -> None:
        """The one way out: the staff menu's exit, after the PIN."""
        log.warning("kiosk %s closed from the staff menu", self.session.config.kiosk.id)
        self.exit()

    # -- the customer's path -------------------------------------------------------

    def rate(self, score: int, origin: Screen) -> None:
        """A face was pressed on ``origin``: record it, then move on from there."""
        self._taps_in_flight += 1
        self.run_worker(self._rate(score, origin), group="taps")

    async def _rate(self, score: int, origin: Screen) -> None:
        try:
            try:
                tap = await self.store.run(self._tap_job, score)
            finally:
                self._taps_in_flight -= 1
        except Exception as exc:
            await self.out_of_service(exc)
            return
        if self.screen is not origin:
            return  # the customer moved on meanwhile: the press is stored, nothing to show
        if tap.rating.suspect and isinstance(origin, ThanksScreen):
            return  # a repeat on the thank-you screen: it stays as it is
        # Once a follow-up question is up, sign the survey link and draw its code on
        # the store thread: it is ready long before the customer answers.
        if tap.follow_up:
            if await self._show(self._reasons_screen(tap), origin):
                survey = asyncio.ensure_future(self.store.run(self._survey_job, tap.rating))
                survey.add_done_callback(lambda done: done.cancelled() or done.exception())
                self._survey = (tap.rating.id, survey)
        else:
            await self.show_thanks(tap.rating, origin=origin)

    def _tap_job(self, score: int) -> Tap:
        """On the store thread: record the press durably before anything is shown."""
        if self._store_down is not None:
            raise StoreError(self._store_down)
        try:
            return self.session.tap(score)
        except StoreError as exc:
            self._store_down = str(exc)
            raise

    def answer(self, rating: Rating, reasons: list[str], origin: Screen) -> None:
        """The answer (an empty list for skip) given on the reason screen ``origin``."""
        self.run_worker(self._answer(rating, reasons, origin), group="taps")

    async def _answer(self, rating: Rating, reasons: list[str], origin: Screen) -> None:
        prepared, self._survey = self._survey, None
        survey = prepared[1] if prepared is not None and prepared[0] == rating.id else None
        if reasons:
            try:
                rating = await self.store.run(self.session.add_reasons, rating, reasons)
            except Exception as exc:
                await self.out_of_service(exc)
                return
        await self.show_thanks(rating, survey, origin=origin)

    async def show_thanks(
        self,
        rating: Rating,
        survey: asyncio.Future[tuple[str, list[list[bool]]]] | None = None,
        *,
        origin: Screen,
    ) -> None:
        """The thank-you screen for a stored rating, with its survey code (made if need be),
        shown only if ``origin`` (where the customer pressed) is still on screen."""
        try:
            link, matrix = await (survey or self.store.run(self._survey_job, rating))
        except Exception as exc:  # the rating is stored: thank without a link, and say why
            log.error("no survey link for rating %s: %s", rating.id, exc)
            link, matrix = None, None
        if self.screen is origin:
            await self._show(self._thanks_screen(rating, link, matrix), origin)

    def _survey_job(self, rating: Rating) -> tuple[str, list[list[bool]]]:
        """Off the UI thread: sign the link (core), and draw its QR code (a few ms of CPU)."""
        link = self.survey_link(rating)
        return link, qr_matrix(link)

    def _reasons_screen(self, tap: Tap) -> ReasonsScreen:
        """The follow-up screen for this kind of question, built once and reused.

        Building a screen (widgets, styles, layout) is most of a tap's latency;
        reusing it leaves only what changed between customers.
        """
        name = f"follow-up-{tap.follow_up}"
        if self.is_screen_installed(name):
            screen = self.get_screen(name)
            assert isinstance(screen, ReasonsScreen)
            screen.prepare(tap)
            return screen
        screen = ReasonsScreen(tap)
        self.install_screen(screen, name)
        return screen

    def _thanks_screen(
        self, rating: Rating, link: str | None, matrix: list[list[bool]] | None
    ) -> ThanksScreen:
        """The thank-you screen, built once and reused (see :meth:`_reasons_screen`)."""
        if self.is_screen_installed("thanks"):
            screen = self.get_screen("thanks")
            assert isinstance(screen, ThanksScreen)
            screen.prepare(rating, link, matrix)
            return screen
        screen = ThanksScreen(rating, link, matrix)
        self.install_screen(screen, "thanks")
        return screen

    async def _show(self, screen: ReasonsScreen | ThanksScreen, origin: Screen) -> bool:
        """Show a customer screen: on top of the attract screen, replacing any other.

        Only while ``origin``, the screen the customer pressed on, is still the
        one on top: a tap or an answer saved slowly must never replace a screen
        that came since (the PIN pad opened meanwhile, an idle reset). Returns
        whether the screen was shown.
        """
        if self.screen is not origin:
            log.info("not showing %s: the screen changed while the press was saved", screen)
            return False
        if screen.is_mounted:
            await screen.refresh_content()
            if self.screen is not origin:
                return False
        if screen is self.screen:
            screen.shown_at = self.clock()  # the same screen for a new rating: time anew
        elif len(self.screen_stack) > 1:
            await self.switch_screen(screen)
        else:
            await self.push_screen(screen)
        return True

    async def reset(self) -> None:
        """Back to the attract screen for the next customer, in the kiosk's own language."""
        if self._resetting:
            return
        self._resetting = True
        staff = any(isinstance(screen, STAFF_SCREENS) for screen in self.screen_stack)
        if staff:
            self._guard_staff_keys()  # now: keys may land on the attract screen from here on
        try:
            while len(self.screen_stack) > 1:
                await self.pop_screen()
            await self._apply_settings()
            self.session.set_language(self.default_language)
            self._survey = None
            attract = self.screen
            if isinstance(attract, AttractScreen) and attract.composed_for != attract.layout_key():
                await attract.recompose()
            if self.problem is not None:
                await self.push_screen(OutOfServiceScreen())
        finally:
            self._resetting = False
        self.fit_screen()
        if staff:
            self._guard_staff_keys()  # and for the whole time from the moment the faces are up
        # Collect garbage now, while nobody is waiting, rather than in the middle of
        # the next customer's tap (a full collection can take tens of milliseconds).
        self.call_after_refresh(gc.collect)

    async def _apply_settings(self) -> None:
        """Between customers: put in force what the hub set (what to ask, the languages).

        On the store thread, so a press being recorded finishes with the moment the
        customer saw; the caller recomposes the attract screen.
        """
        if not self.session.settings_waiting:
            return
        try:
            applied = await self.store.run(self.session.apply_waiting_settings)
        except Exception:  # the kiosk goes on asking what it asked
            log.exception("the hub's settings could not be applied")
            return
        if applied:
            log.warning(
                "kiosk %s now asks about %s/%s (set at the hub), between customers",
                self.session.config.kiosk.id,
                self.session.cycle.id,
                self.session.moment.id,
            )

    def _settings_due(self, screen: Screen) -> bool:
        """Whether the hub's waiting settings may be applied now: the attract screen alone,
        nobody touching it for ``kiosk.idle_seconds``, no press being recorded."""
        if not self.session.settings_waiting or self._taps_in_flight:
            return False
        if len(self.screen_stack) != 1 or not isinstance(screen, AttractScreen):
            return False  # a customer's screen, the staff's, or a notice: at the next reset
        idle = self.session.config.kiosk.idle_seconds
        return self.clock() - self.last_input >= idle

    async def _idle_settings(self, screen: Screen) -> None:
        try:
            if self.screen is screen and self._settings_due(screen):
                await self.reset()
        finally:
            self._settings_worker = False

    # -- out of service ------------------------------------------------------------

    async def out_of_service(self, exc: BaseException) -> None:
        """Stop offering the faces, say so politely, and keep retrying."""
        if isinstance(exc, ServiceCycleError):
            log.error("kiosk out of service: %s", exc)
        else:
            log.exception("kiosk out of service after an unexpected error", exc_info=exc)
        self.problem = str(exc) or type(exc).__name__
        self._retry_timer.resume()
        if isinstance(self.screen, OutOfServiceScreen):
            return
        if isinstance(self.screen, (PinScreen, StaffScreen)):
            return  # staff are busy here; the reset on leaving shows the notice
        await self.reset()

    def _retry(self) -> None:
        if self.problem is not None and not self._probing and self.screen_stack:
            self.run_worker(self._probe(), group="store")

    async def _probe(self) -> None:
        self._probing = True
        try:
            await self.store.run(self._open_job)
        except Exception as exc:
            log.warning("store still unavailable: %s", exc)
            return
        finally:
            self._probing = False
        log.warning("store writable again; kiosk back in service")
        self.store_opened = True
        self.problem = None
        self._retry_timer.pause()
        await self._start_alerting()
        if any(isinstance(screen, OutOfServiceScreen) for screen in self.screen_stack):
            await self.reset()  # (also from under the too-small notice)

    # -- a terminal too small to read ----------------------------------------------

    def too_small(self) -> bool:
        """Whether the terminal is smaller than :attr:`MIN_SIZE` in either direction."""
        width, height = self.size
        return width < self.MIN_SIZE[0] or height < self.MIN_SIZE[1]

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.fit_screen)

    def fit_screen(self) -> None:
        """Put the too-small notice over whatever is on screen, or take it away.

        No rating is taken from a screen the customer could not read: the
        notice has no faces and ignores keys and taps. A press saved while the
        terminal shrank is stored, and simply not followed by its next screen.
        """
        if not self.screen_stack or self._resetting or not self.is_running:
            return
        notice = isinstance(self.screen, TooSmallScreen)
        width, height = self.size
        if self.too_small() and not notice:
            log.warning(
                "terminal is %dx%d, the kiosk needs %dx%d: no ratings until it is larger",
                width,
                height,
                *self.MIN_SIZE,
            )
            self.push_screen(TooSmallScreen())
        elif notice and not self.too_small():
            log.warning("terminal is %dx%d: the kiosk is back in service", width, height)
            self.pop_screen()

    # -- timers: auto-reset --------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent) and not event.is_forwarded:
            if isinstance(event, TOUCHES):
                self.last_input = self.clock()
            if isinstance(event, events.Key):
                self._chord_key(event.key)
            if self.staff_keys(event):
                return  # a staff member's key: it never reaches a customer screen
        await super().on_event(event)

    def _tick(self) -> None:
        if not self.screen_stack or self._resetting:  # shutting down, or resetting already
            return
        screen = self.screen
        if self._reset_due(screen):
            self.run_worker(self._auto_reset(screen), group="reset")
        elif self._settings_due(screen) and not self._settings_worker:
            self._settings_worker = True
            self.run_worker(self._idle_settings(screen), group="reset")

    def _reset_due(self, screen: Screen) -> bool:
        kind = getattr(screen, "RESET_AFTER", None)
        shown_at = getattr(screen, "shown_at", None)
        if kind is None or shown_at is None:
            return False
        settings = self.session.config.kiosk
        now = self.clock()
        if kind == "thanks":
            return now - shown_at >= settings.thanks_seconds
        if now - max(shown_at, self.last_input) < settings.idle_seconds:
            return False
        holds = getattr(screen, "holds_reset", None)
        return not (holds is not None and holds(now))

    async def _auto_reset(self, screen: Screen) -> None:
        """Reset if ``screen`` is still up and still due: a key may have come since the tick."""
        if self.screen is screen and self._reset_due(screen):
            await self.reset()

    # -- staff keys are not ratings ------------------------------------------------

    def _guard_staff_keys(self) -> None:
        self._staff_keys_until = self.clock() + self.STAFF_KEYS_SECONDS

    def staff_keys(self, event: events.InputEvent) -> bool:
        """Whether ``event`` is a staff member's key outliving a staff screen (swallow it).

        The attract screen takes digit keys as ratings, and the PIN pad's keys
        sit over the faces. Whenever a staff screen closes (*Cancel*, ``escape``,
        *Back*, a moment chosen, an idle reset), the staff member may still be
        typing or tapping: keys already on their way, a PIN typed into a pad that
        closed as they began. For ``STAFF_KEYS_SECONDS`` after that, on every
        customer screen, digit keys, enter and backspace are swallowed, and so
        are taps on faces, reasons and skip (:meth:`staff_tap`); each one
        swallowed extends the time, so a whole PIN is swallowed however slowly
        it is typed. A customer tapping a language ends the guard at once (a
        customer's action, which no staff member makes by mistake); other keys
        (the staff chord) and taps on the site's name (the touch gesture) pass.

        Why not less: a short fixed delay would not cover a PIN typed into a
        pad that is no longer there, and a key alone cannot tell a staff "1"
        from a customer's. The cost is a customer pressing a face within
        seconds of a staff member leaving the kiosk: nothing happens, and the
        next press, once the guard has run out, is recorded.
        """
        if not isinstance(event, events.Key):
            return False
        if not (event.character and event.character.isdigit()) and event.key not in PAD_KEYS:
            return False
        return self._swallow(f"key {event.key!r}")

    def staff_tap(self, tile: Tile) -> bool:
        """Whether a tap on ``tile`` is a staff member's outliving a staff screen (see
        :meth:`staff_keys`): a tile tells the app before it reports a press."""
        if tile.has_class("site-name"):
            return False  # the staff gesture itself
        if tile.has_class("language"):
            if not isinstance(self.screen, STAFF_SCREENS):
                self._staff_keys_until = 0.0  # a customer choosing a language: theirs now
            return False
        return self._swallow(f"tap on {tile.value!r}")

    def _swallow(self, what: str) -> bool:
        if not self._staff_keys_until or isinstance(self.screen, STAFF_SCREENS):
            return False
        now = self.clock()
        if now >= self._staff_keys_until:
            self._staff_keys_until = 0.0
            return False
        self._staff_keys_until = now + self.STAFF_KEYS_SECONDS
        log.info("%s swallowed: a staff screen closed moments ago", what)
        return True

    # -- the staff's path ----------------------------------------------------------

    def _chord_key(self, key: str) -> None:
        if key != self.STAFF_KEY:
            self._chord.clear()
            return
        if self._recent(self._chord, self.STAFF_PRESSES):
            self.open_pin()

    def site_tapped(self) -> None:
        """The hidden touch gesture: the site's name tapped several times in a row."""
        if self._recent(self._taps, self.STAFF_TAPS):
            self.open_pin()

    def _recent(self, times: list[float], needed: int) -> bool:
        now = self.clock()
        times[:] = [t for t in times if now - t < self.CHORD_SECONDS] + [now]
        if len(times) >= needed:
            times.clear()
            return True
        return False

    def open_pin(self) -> None:
        if self.too_small():
            log.info("staff PIN pad not opened: the terminal is too small to show it")
            return
        if not isinstance(self.screen, (PinScreen, StaffScreen)):
            log.info("staff PIN screen opened")
            self.push_screen(PinScreen())

    def open_staff_menu(self) -> None:
        """After the right PIN: the menu replaces the pad, and nothing else, ever."""
        if not isinstance(self.screen, PinScreen):
            log.warning("staff menu not opened: the PIN pad is no longer on screen")
            return
        log.warning("staff menu opened on kiosk %s", self.session.config.kiosk.id)
        self.switch_screen(StaffScreen())

    def leave_staff(self) -> None:
        self.run_worker(self.reset(), group="reset")

    def switch_moment(self, moment_id: str) -> None:
        self.session.switch_moment(moment_id)
        self.leave_staff()
