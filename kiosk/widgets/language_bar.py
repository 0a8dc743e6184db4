"""The language switch: one tile per language the kiosk offers.

Codes (EN, MS, RU, TR) rather than language names keep the bar itself in no
language, so a screen in Russian shows no English or Turkish words.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message

from ..plain import plain
from .tile import Tile


class LanguageBar(Horizontal):
    """Tiles for ``languages``; the one in use is highlighted."""

    class Chosen(Message):
        def __init__(self, language: str) -> None:
            super().__init__()
            self.language = language

    def __init__(self, languages: list[str], current: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.languages = languages
        self.current = current

    def compose(self) -> ComposeResult:
        for code in self.languages:
            classes = "language current" if code == self.current else "language"
            yield Tile(plain(code.upper()), value=code, classes=classes, id=f"lang-{code}")

    def on_tile_pressed(self, event: Tile.Pressed) -> None:
        event.stop()
        self.post_message(self.Chosen(event.value))
