"""The staff PIN pad, reached only through the hidden chord.

Works with the on-screen pad or with digit keys. The PIN is checked by core
(hashed, constant time, slowed down after wrong guesses) on a thread, because
a deliberate slow hash would otherwise freeze the screen. While core says the
pad is locked, the time left is shown and counted down: from the wrong PIN
that locked it, and on a pad opened again while the lock lasts.

A staff member's digits must never become a customer's rating. This screen
does its part by not closing on its own when a staff member is about to type
(see :meth:`PinScreen.holds_reset`) and by ignoring a PIN check that finishes
after the pad was closed; keys that still land on a customer screen just after
the pad closes are swallowed by the app (:meth:`KioskApp.staff_keys`).
"""

from __future__ import annotations

import asyncio
import logging
import math

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Center, Grid, Vertical
from textual.widgets import Static

from servicecycle.core import PinLocked

from ..plain import plain
from ..widgets.tile import Tile
from .base import KioskScreen

log = logging.getLogger(__name__)

MAX_DIGITS = 12
PAD = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "del", "0", "ok")
#: "←" rather than "⌫": the Linux console's fonts have no "⌫" (it showed as a "?").
PAD_LABELS = {"del": "←", "ok": "OK"}


class PinScreen(KioskScreen):
    RESET_AFTER = "idle"
    TEXT_KEYS = ("pin.title", "pin.hint", "pin.wrong", "pin.locked", "pin.checking", "pin.cancel")

    def __init__(self) -> None:
        super().__init__()
        self.digits = ""
        self.checking = False
        #: When the current (or the last) lockout ends, on the kiosk's clock; 0 if none.
        self.locked_until = 0.0
        self.message = ""
        self._showing_lock = False

    def compose(self) -> ComposeResult:
        texts = self.localise()
        self._learn_lock()  # a lockout from before this pad was opened counts down here too
        if self._locked_for() > 0:
            self.message, self._showing_lock = self._locked_text(), True
        with Vertical(id="pin"):
            yield Static(plain(texts["pin.title"]), id="pin-title")
            yield Static(plain(texts["pin.hint"]), id="pin-hint")
            yield Static(plain(self._dots()), id="pin-dots")
            yield Static(plain(self.message), id="pin-message")
            with Center(), Grid(id="pin-pad"):
                for key in PAD:
                    label = PAD_LABELS.get(key, key)
                    yield Tile(plain(label), value=key, classes="pin-key", id=f"pin-{key}")
            with Center():
                yield Tile(plain(texts["pin.cancel"]), value="cancel", id="pin-cancel")

    def on_mount(self) -> None:
        # On the app's tick rather than once a second: the count never lags a whole second.
        self.set_interval(self.kiosk.tick_seconds, self._count_down)

    def _dots(self) -> str:
        return " ".join("●" for _ in self.digits) or " "

    def _show(self, message: str = "", *, lock: bool = False) -> None:
        self.message = message
        self._showing_lock = lock
        self.query_one("#pin-dots", Static).update(plain(self._dots()))
        self.query_one("#pin-message", Static).update(plain(message))

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character.isdigit():
            self.press(event.character)
        elif event.key == "backspace":
            self.press("del")
        elif event.key == "enter":
            self.press("ok")
        elif event.key == "escape":
            self.press("cancel")
        else:
            return
        event.stop()

    @on(Tile.Pressed, ".pin-key, #pin-cancel")
    def _tapped(self, event: Tile.Pressed) -> None:
        event.stop()
        self.press(event.value)

    def press(self, key: str) -> None:
        """One key of the pad: a digit, ``del``, ``ok`` or ``cancel``."""
        if key == "cancel":
            self.kiosk.leave_staff()
            return
        if self.checking or self._locked_for() > 0:
            return
        if key == "del":
            self.digits = self.digits[:-1]
        elif key == "ok":
            if self.digits:
                self.checking = True  # at once: a second OK must not check twice
                self.run_worker(self._check(self.digits), group="pin")
            return
        elif len(self.digits) < MAX_DIGITS:
            self.digits += key
        self._show()

    async def _check(self, pin: str) -> None:
        self.digits = ""
        self._show(self.texts["pin.checking"])
        locked: PinLocked | None = None
        try:
            right = await asyncio.to_thread(self.session.check_pin, pin)
        except PinLocked as exc:
            right, locked = False, exc
        finally:
            self.checking = False
        if not self.is_active:
            # The pad was closed (cancel, idle) while core checked: what it says now
            # belongs to nobody, and must not open the staff menu over a customer.
            log.info("a PIN check finished after the pad had closed; ignored")
            return
        if right:
            self.kiosk.open_staff_menu()
            return
        if locked is not None:
            self.locked_until = self.kiosk.clock() + locked.seconds
        else:
            self._learn_lock()  # the wrong PIN that starts a lockout says so at once
        if self._locked_for() > 0:
            self._show(self._locked_text(), lock=True)
        else:
            self._show(self.texts["pin.wrong"])

    def _learn_lock(self) -> None:
        """Ask core whether the pad is locked, and until when."""
        seconds = self.session.pin_locked_for()
        if seconds > 0:
            self.locked_until = self.kiosk.clock() + seconds

    def _locked_for(self) -> float:
        return max(0.0, self.locked_until - self.kiosk.clock())

    def _locked_text(self) -> str:
        return self.texts.fill("pin.locked", seconds=math.ceil(self._locked_for()))

    def _count_down(self) -> None:
        if not self.locked_until:
            return
        if self._locked_for() > 0:
            text = self._locked_text()
            if text != self.message:
                self._show(text, lock=True)
        elif self._showing_lock:
            self._show()  # the wait is over: the pad takes a PIN again

    def holds_reset(self, now: float) -> bool:
        """Stay up, although idle, around the end of a lockout.

        The end of a lockout is exactly when the staff member who waited it
        out types the PIN again. Closing the pad on idle then (with the first
        30 s lock and the default 30 s ``kiosk.idle_seconds``, it closed at that
        very second) sent the PIN to the faces: a rating of 1 and a row of
        suspect ones. So the pad does not close on its own in the last
        ``idle_seconds`` of a lockout nor in the first ``idle_seconds`` after
        it; *Cancel* and ``escape`` still close it at once.

        A longer lockout (they double up to 15 minutes) does not keep the
        kiosk from its customers for all that time: before its last
        ``idle_seconds`` the pad closes on idle like any staff screen, and a
        pad opened again shows the time left. Digits being typed are input, so
        each one starts the idle time again; there is no separate rule for them.
        """
        if not self.locked_until:
            return False
        idle = self.session.config.kiosk.idle_seconds
        return self.locked_until - idle <= now < self.locked_until + idle
