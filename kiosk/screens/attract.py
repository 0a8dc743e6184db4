"""The attract screen: the question, the site, and the faces. Most of a kiosk's life.

Understandable in two seconds by a stranger: one question in the largest
type the terminal has, faces that read without words, and the digit to press
on each for keypad kiosks.
"""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.widgets import Static

from ..plain import plain
from ..strings import Texts
from ..widgets.faces import Face, Faces, moods
from ..widgets.tile import Tile
from .base import KioskScreen


class AttractScreen(KioskScreen):
    RESET_AFTER = None

    def text_keys(self) -> tuple[str, ...]:
        return ("attract.hint", *(f"face.{mood}" for mood in moods(self.session.scale)))

    def extra_texts(self) -> Texts:
        return {"question": self.session.moment.question}

    def compose(self) -> ComposeResult:
        #: What this screen shows: a reset recomposes it only when one of these changed.
        self.composed_for = (self.session.language, self.session.moment.id)
        texts = self.localise()
        scale = self.session.scale
        yield from self.header()
        yield Static(plain(texts["question"]), id="question")
        labels = {mood: texts[f"face.{mood}"] for mood in moods(scale)}
        yield Faces(scale, labels, id="faces")
        yield Static(plain(texts.fill("attract.hint", top=scale)), id="hint")

    def on_key(self, event: events.Key) -> None:
        self.rate_on_face_key(event)

    @on(Tile.Pressed, ".face")
    def _face(self, event: Tile.Pressed) -> None:
        event.stop()
        assert isinstance(event.tile, Face)
        self.kiosk.rate(event.tile.score, self)
