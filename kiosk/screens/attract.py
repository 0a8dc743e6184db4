"""The attract screen: the question, the site, and the faces. Most of a kiosk's life.

Understandable in two seconds by a stranger: one question in the largest
type the terminal has (:class:`~..widgets.big_text.BigText`), faces that read
without words, and the digit to press on each for keypad kiosks.

In its bottom-right corner a small muted dot tells staff walking past that an
alert is firing (see the staff menu's *Alerts*); it says nothing a guest would
read as alarming. The alert book is read off the UI thread, as often as the
rules are evaluated.
"""

from __future__ import annotations

import asyncio
import logging

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from servicecycle.core import AlertState, ServiceCycleError

from ..plain import plain
from ..strings import Texts
from ..widgets.big_text import BigText
from ..widgets.faces import Face, Faces, moods
from ..widgets.tile import Tile
from .base import KioskScreen

log = logging.getLogger(__name__)

#: The staff's sign that an alert is firing: a small dot, in a muted colour.
FIRING_SIGN = "•"


class AttractScreen(KioskScreen):
    RESET_AFTER = None

    def __init__(self) -> None:
        super().__init__()
        self.firing = False  # an alert is firing, as the alert book said when last read
        self._reading = False  # a read of the alert book is under way

    def text_keys(self) -> tuple[str, ...]:
        return ("attract.hint", *(f"face.{mood}" for mood in moods(self.session.scale)))

    def extra_texts(self) -> Texts:
        return {"question": self.session.moment.question}

    def layout_key(self) -> tuple[object, ...]:
        """What this screen shows: a reset recomposes it only when one of these changed
        (the hub's settings may change the moment, the cycle's scale and the languages)."""
        session = self.session
        return (
            session.language,
            session.cycle.id,
            session.moment.id,
            session.scale,
            tuple(session.languages),
        )

    def compose(self) -> ComposeResult:
        self.composed_for = self.layout_key()
        texts = self.localise()
        scale = self.session.scale
        yield from self.header()
        yield BigText(plain(texts["question"]), id="question")
        labels = {mood: texts[f"face.{mood}"] for mood in moods(scale)}
        yield Faces(scale, labels, id="faces")
        with Horizontal(id="footer"):
            yield Static(id="footer-spacer")
            yield Static(plain(texts.fill("attract.hint", top=scale)), id="hint")
            sign = Static(plain(FIRING_SIGN), id="firing-sign")
            sign.visible = self.firing
            yield sign

    # -- the staff's sign of a firing alert ----------------------------------------

    def on_mount(self) -> None:
        self.set_interval(self.kiosk.alert_interval, self._poll_alerts)
        self.check_alerts()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.check_alerts()

    def _poll_alerts(self) -> None:
        if self.is_current:  # under a customer's or the staff's screen nobody sees it
            self.check_alerts()

    def check_alerts(self) -> None:
        """Read the alert book off the UI thread, one read at a time: the book waits
        while the rules are evaluated, and reads piling up would take every thread
        the PIN check needs."""
        if not self._reading:
            self._reading = True
            self._read_alerts()

    @work(group="firing-sign")
    async def _read_alerts(self) -> None:
        worker = self.kiosk.alerting
        try:
            alerts = [] if worker is None else await asyncio.to_thread(worker.alerts)
        except ServiceCycleError as exc:
            log.warning("attract screen: alerts unavailable: %s", exc)
            return
        finally:
            self._reading = False
        firing = any(alert.state is AlertState.FIRING for alert in alerts)
        if firing != self.firing:
            self.firing = firing
            log.info("firing-alert sign %s", "shown" if firing else "hidden")
        for sign in self.query("#firing-sign"):
            sign.visible = firing

    # -- the customer's faces ------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        self.rate_on_face_key(event)

    @on(Tile.Pressed, ".face")
    def _face(self, event: Tile.Pressed) -> None:
        event.stop()
        assert isinstance(event.tile, Face)
        self.kiosk.rate(event.tile.score, self)
