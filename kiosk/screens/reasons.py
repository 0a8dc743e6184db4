"""After a low rating, "what went wrong?"; after a high one, "what went well?".

Up to six reasons, each one tap (or its digit), plus skip (0). The labels are
the plugins' reason texts, asked of core in the same call as this screen's own
words, so the whole screen is in one language.
"""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from servicecycle.core import Tap

from ..plain import plain
from ..strings import Texts
from ..widgets.tile import Tile
from .base import KioskScreen

SKIP_KEY = "0"


class ReasonsScreen(KioskScreen):
    RESET_AFTER = "idle"

    def __init__(self, tap: Tap) -> None:
        super().__init__()
        self.kind = tap.follow_up
        self.composed_for: tuple[object, ...] | None = None
        self.prepare(tap)

    def prepare(self, tap: Tap) -> None:
        """Ask about another rating: the kiosk reuses one screen per kind of question."""
        self.tap = tap
        self.reason_ids = [reason_id for reason_id, _ in tap.options][:6]
        self.answered = False

    def layout_key(self) -> tuple[object, ...]:
        return (self.session.language, tuple(self.session.languages), tuple(self.reason_ids))

    async def refresh_content(self) -> None:
        if self.composed_for != self.layout_key():
            await self.recompose()

    def text_keys(self) -> tuple[str, ...]:
        title = "praise.title" if self.tap.follow_up == "praise" else "reasons.title"
        return (title, "reasons.hint", "reasons.skip")

    def extra_texts(self) -> Texts:
        return self.session.reason_texts(self.reason_ids)

    def compose(self) -> ComposeResult:
        self.composed_for = self.layout_key()
        texts = self.localise()
        title = texts["praise.title" if self.tap.follow_up == "praise" else "reasons.title"]
        yield from self.header()
        yield Static(plain(title), id="reasons-title")
        yield Static(plain(texts["reasons.hint"]), id="reasons-hint")
        with Grid(id="reasons"):
            for number, reason_id in enumerate(self.reason_ids, start=1):
                label = f"{number}  {texts[f'reason:{reason_id}']}"
                yield Tile(plain(label), value=reason_id, classes="reason")
        yield Tile(plain(f"{SKIP_KEY}  {texts['reasons.skip']}"), value="", id="skip")

    def on_key(self, event: events.Key) -> None:
        character = event.character or ""
        if character == SKIP_KEY:
            event.stop()
            self.answer(None)
        elif character.isdigit() and 1 <= int(character) <= len(self.reason_ids):
            event.stop()
            self.answer(self.reason_ids[int(character) - 1])

    @on(Tile.Pressed, ".reason, #skip")
    def _tapped(self, event: Tile.Pressed) -> None:
        event.stop()
        self.answer(event.value or None)

    def answer(self, reason_id: str | None) -> None:
        """One answer per screen: a second tap while it is being saved is ignored."""
        if self.answered:
            return
        self.answered = True
        self.kiosk.answer(self.tap.rating, [reason_id] if reason_id else [], self)
