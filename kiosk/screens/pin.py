"""The staff PIN pad, reached only through the hidden chord.

Works with the on-screen pad or with digit keys. The PIN is checked by core
(hashed, constant time, slowed down after wrong guesses) on a thread, because
a deliberate slow hash would otherwise freeze the screen. While core says the
pad is locked, the wait is shown and counted down.
"""

from __future__ import annotations

import asyncio
import math

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Center, Grid, Vertical
from textual.widgets import Static

from servicecycle.core import PinLocked

from ..widgets.tile import Tile
from .base import KioskScreen

MAX_DIGITS = 12
PAD = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "del", "0", "ok")
PAD_LABELS = {"del": "⌫", "ok": "OK"}


class PinScreen(KioskScreen):
    RESET_AFTER = "idle"
    TEXT_KEYS = ("pin.title", "pin.hint", "pin.wrong", "pin.locked", "pin.checking", "pin.cancel")

    def __init__(self) -> None:
        super().__init__()
        self.digits = ""
        self.checking = False
        self.locked_until = 0.0
        self.message = ""

    def compose(self) -> ComposeResult:
        texts = self.localise()
        with Vertical(id="pin"):
            yield Static(texts["pin.title"], id="pin-title", markup=False)
            yield Static(texts["pin.hint"], id="pin-hint", markup=False)
            yield Static(self._dots(), id="pin-dots")
            yield Static(self.message, id="pin-message", markup=False)
            with Center(), Grid(id="pin-pad"):
                for key in PAD:
                    label = PAD_LABELS.get(key, key)
                    yield Tile(label, value=key, classes="pin-key", id=f"pin-{key}")
            with Center():
                yield Tile(texts["pin.cancel"], value="cancel", id="pin-cancel", markup=False)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._count_down)

    def _dots(self) -> str:
        return " ".join("●" for _ in self.digits) or " "

    def _show(self, message: str = "") -> None:
        self.message = message
        self.query_one("#pin-dots", Static).update(self._dots())
        self.query_one("#pin-message", Static).update(message)

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
        try:
            right = await asyncio.to_thread(self.session.check_pin, pin)
        except PinLocked as locked:
            self.locked_until = self.kiosk.clock() + locked.seconds
            self._show(self._locked_text())
            return
        finally:
            self.checking = False
        if right:
            self.kiosk.open_staff_menu()
        else:
            self._show(self.texts["pin.wrong"])

    def _locked_for(self) -> float:
        return max(0.0, self.locked_until - self.kiosk.clock())

    def _locked_text(self) -> str:
        return self.texts.fill("pin.locked", seconds=math.ceil(self._locked_for()))

    def _count_down(self) -> None:
        if self.locked_until:
            if self._locked_for() > 0:
                self._show(self._locked_text())
            else:
                self.locked_until = 0.0
                self._show()
