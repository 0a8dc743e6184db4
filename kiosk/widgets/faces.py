"""The rating faces: large, coloured from red to green, with the key to press.

A 5-point scale runs very unhappy → very happy; a 4-point scale drops the
neutral middle so the customer has to lean one way. Colour is never the only
signal: each face has its own mouth, its digit and a word.

The colours must keep their order (red → green) on every terminal, and a
terminal shows only what its colour system has: Rich maps a colour to the
nearest of 16 or 256 when the terminal has no true colour, and the nearest of
16 to this red-to-green row is not in order (the yellow "Okay" became bright
red, the dark green "Very good" bright black, i.e. grey). So the app tags itself
with the colour system Textual drives the terminal with (:func:`colour_class`)
and ``kiosk.tcss`` gives the faces colours per system; with ``NO_COLOR`` the
mouths, digits and words still tell the faces apart.

Faces grow with the screen: on a large terminal (120×32 and up) a tile with
room for it draws the large face (:data:`BIG_MOUTHS`), in block characters
every console font has.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from ..glyphs import full_blocks_only, solid
from ..plain import plain
from .big_text import large_screen
from .tile import Tile


@dataclass(frozen=True)
class Mood:
    """How one point of the scale looks."""

    name: str  # also the UI text key: face.<name>
    mouth: tuple[str, str]


MOODS: dict[str, Mood] = {
    "very_bad": Mood("very_bad", ("╭─────╮", "╭╯     ╰╮")),
    "bad": Mood("bad", ("╭───╮", "")),
    "neutral": Mood("neutral", ("─────", "")),
    "good": Mood("good", ("╰───╯", "")),
    "very_good": Mood("very_good", ("╰╮     ╭╯", "╰─────╯")),
}

#: The large faces' mouths (three rows each), drawn in half and full blocks.
BIG_MOUTHS: dict[str, tuple[str, str, str]] = {
    "very_bad": ("▄▄▄▄▄▄▄", "▄▀       ▀▄", "▀           ▀"),
    "bad": ("", "▄▄▄▄▄▄▄", "▀▀       ▀▀"),
    "neutral": ("", "▀▀▀▀▀▀▀▀▀", ""),
    "good": ("▄▄       ▄▄", "▀▀▀▀▀▀▀", ""),
    "very_good": ("▄           ▄", "▀▄       ▄▀", "▀▀▀▀▀▀▀"),
}
#: The size of the large drawing (columns, rows), and what else a tile holds.
BIG_ART = (15, 5)
SMALL_ART = (9, 4)
TILE_ROWS = 4  # the digit, the word (up to two rows) and a row to spare


#: The scale's moods, score 1 first.
SCALE_MOODS: dict[int, tuple[str, ...]] = {
    5: ("very_bad", "bad", "neutral", "good", "very_good"),
    4: ("very_bad", "bad", "good", "very_good"),
}

#: The CSS class the app carries for each colour system Rich can drive a terminal
#: with (``Console.color_system``); ``None`` (no colour detected) is drawn as true colour.
COLOUR_CLASSES = {
    "standard": "colors-16",
    "windows": "colors-16",
    "256": "colors-256",
    "truecolor": "colors-true",
}


def colour_class(system: str | None) -> str:
    """The app's CSS class for the terminal's colour system (see ``kiosk.tcss``)."""
    return COLOUR_CLASSES.get(system or "truecolor", "colors-true")


def moods(scale: int) -> tuple[str, ...]:
    """Mood names for scores 1..scale."""
    return SCALE_MOODS[scale]


def face_art(mood: str, *, big: bool = False) -> str:
    """The face drawn in text: eyes, then its mouth (4 lines, or 5 for the large face)."""
    if big:
        width = BIG_ART[0]
        mouth = BIG_MOUTHS[mood]
        lines = ["██     ██", "", *(solid(mouth) if full_blocks_only() else mouth)]
    else:
        width = SMALL_ART[0]
        top, bottom = MOODS[mood].mouth
        lines = ["●     ●", "", top, bottom]
    return "\n".join(line.center(width) for line in lines)


class Face(Tile):
    """One tappable face: digit, drawing and word; the drawing grows with the tile."""

    def __init__(self, score: int, mood: str, label: str) -> None:
        super().__init__(value=str(score), classes=f"face mood-{mood.replace('_', '-')}")
        self.score = score
        self.mood = mood
        self.word = label
        self.big = False

    def compose(self) -> ComposeResult:
        yield Static(plain(self.score), classes="face-digit")
        yield Static(plain(face_art(self.mood), newlines=True), classes="face-art")
        yield Static(plain(self.word), classes="face-label")

    def on_resize(self, event: events.Resize) -> None:
        width, height = self.content_size
        big = (
            large_screen(self.app.size)
            and width >= BIG_ART[0] + 2
            and height >= BIG_ART[1] + TILE_ROWS
        )
        if big != self.big:
            self.big = big
            art = self.query_one(".face-art", Static)
            art.set_class(big, "-big")
            art.update(plain(face_art(self.mood, big=big), newlines=True))


class Faces(Grid):
    """The row of faces for a scale; ``labels`` are the words, already in one language."""

    def __init__(self, scale: int, labels: dict[str, str], **kwargs: object) -> None:
        super().__init__(classes=f"scale-{scale}", **kwargs)  # type: ignore[arg-type]
        self.scale = scale
        self.labels = labels

    def compose(self) -> ComposeResult:
        for score, mood in enumerate(moods(self.scale), start=1):
            yield Face(score, mood, self.labels[mood])
