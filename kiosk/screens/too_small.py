"""Shown instead of any screen while the terminal is smaller than the kiosk is laid out for.

Below :attr:`KioskApp.MIN_SIZE` the question, the faces and their words
cannot all be read, so the kiosk takes no rating at all rather than one from a
screen the customer could not read: the faces are not offered, keys and taps
do nothing here, and what was on screen before comes back, as it was, once the
terminal is large enough again. A rating already stored stays stored. The
message is for staff: the size the terminal has and the size it needs.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ..plain import plain
from .base import KioskScreen


class TooSmallScreen(KioskScreen):
    RESET_AFTER = None
    TEXT_KEYS = ("small.title", "small.body")

    def compose(self) -> ComposeResult:
        texts = self.localise()
        with Vertical(id="small"):
            yield Static(plain(texts["small.title"]), id="small-title")
            yield Static(plain(self._body()), id="small-body")

    def _body(self) -> str:
        width, height = self.app.size
        need_width, need_height = self.kiosk.MIN_SIZE
        return self.texts.fill(
            "small.body",
            width=width,
            height=height,
            need_width=need_width,
            need_height=need_height,
        )

    def on_resize(self, event: events.Resize) -> None:
        for body in self.query("#small-body"):
            body.update(plain(self._body()))

    def on_key(self, event: events.Key) -> None:
        event.stop()  # no face on screen: no key is a rating here
