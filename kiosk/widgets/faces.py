"""The rating faces: large, coloured from red to green, with the key to press.

A 5-point scale runs very unhappy → very happy; a 4-point scale drops the
neutral middle so the customer has to lean one way. Colour is never the only
signal: each face has its own mouth, its digit and a word.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from ..plain import plain
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

#: The moods of each scale, score 1 first.
SCALE_MOODS: dict[int, tuple[str, ...]] = {
    5: ("very_bad", "bad", "neutral", "good", "very_good"),
    4: ("very_bad", "bad", "good", "very_good"),
}


def moods(scale: int) -> tuple[str, ...]:
    """Mood names for scores 1..scale."""
    return SCALE_MOODS[scale]


def face_art(mood: str) -> str:
    """The face drawn in text: eyes, then a mouth of one or two lines (always 4 lines)."""
    top, bottom = MOODS[mood].mouth
    lines = ["●     ●", "", top, bottom]
    return "\n".join(line.center(9) for line in lines)


class Face(Tile):
    """One tappable face: digit, drawing and word."""

    def __init__(self, score: int, mood: str, label: str) -> None:
        super().__init__(value=str(score), classes=f"face mood-{mood.replace('_', '-')}")
        self.score = score
        self.mood = mood
        self.word = label

    def compose(self) -> ComposeResult:
        yield Static(plain(self.score), classes="face-digit")
        yield Static(plain(face_art(self.mood), newlines=True), classes="face-art")
        yield Static(plain(self.word), classes="face-label")


class Faces(Grid):
    """The row of faces for a scale; ``labels`` are the words, already in one language."""

    def __init__(self, scale: int, labels: dict[str, str], **kwargs: object) -> None:
        super().__init__(classes=f"scale-{scale}", **kwargs)  # type: ignore[arg-type]
        self.scale = scale
        self.labels = labels

    def compose(self) -> ComposeResult:
        for score, mood in enumerate(moods(self.scale), start=1):
            yield Face(score, mood, self.labels[mood])
