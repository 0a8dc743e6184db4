"""Large type for the few words a customer reads from a step away: the question, "Thank you!".

On a large terminal (:data:`LARGE`, 120×32, and up) the text is drawn with
FIGlet fonts (pyfiglet) made of half and full blocks (``▀ ▄ █``; on the Linux
console, whose fonts lack the half blocks, with full blocks only, each row of
the font drawn as two: :mod:`..glyphs`): the largest font that covers every character of the text
and fits the widget, words wrapped between lines and never split.
When no font fits or covers the text (Cyrillic in the smaller font, a word too
long for the width), the text itself is shown, in bold and wrapped, as on a
small screen: a question is never cut off for the sake of its size.

The widget is given its text made by :func:`~servicecycle.kiosk.plain.plain`
(control characters already escaped), draws those printable characters, and
shows the drawing through ``plain()`` too: nothing an outside text contains
reaches the terminal.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from textual import events
from textual.content import Content
from textual.widgets import Static

from ..glyphs import full_blocks_only, unfold
from ..plain import plain

if TYPE_CHECKING:
    from pyfiglet import Figlet

#: Fonts, largest first: ``mono9`` (5 rows, plus descenders; Latin, Turkish and
#: Cyrillic letters) and ``pagga`` (3 rows; Western European letters only).
FONTS = ("mono9", "pagga")
#: Drawn in ``pagga`` as a light shade behind the letters; left out (it reads as noise).
SHADE = "░"
#: Rows between two lines of large type, and the fewest rows a line of either font takes.
LINE_GAP = 1
LINE_ROWS = 3
#: The smallest terminal (columns, rows) with large type; below it, bold text. A full-HD
#: console in the unit's 24-pixel Terminus font is 160×45. The app's breakpoints (the ``-wide``
#: and ``-tall`` screen classes) are the same sizes.
LARGE = (120, 32)


def large_screen(size: tuple[int, int]) -> bool:
    """Whether a terminal of ``size`` gets the large layout: large type, large faces."""
    return size[0] >= LARGE[0] and size[1] >= LARGE[1]


@lru_cache(maxsize=len(FONTS))
def figlet(font: str) -> Figlet:
    """The renderer for ``font``, loaded once (loading a font takes tens of ms; pyfiglet
    is imported only then, so a kiosk that never shows large type never loads it)."""
    from pyfiglet import Figlet

    return Figlet(font=font, width=1_000_000)


def covers(font: str, text: str) -> bool:
    """Whether ``font`` has a glyph for every character of ``text``."""
    glyphs = figlet(font).Font.chars
    return all(ord(char) in glyphs for char in text)


def _blank(row: str) -> bool:
    return not row.strip()


@lru_cache(maxsize=512)
def draw(font: str, text: str, full: bool = False) -> tuple[str, ...]:
    """One line of ``text`` in ``font``: rows of equal width, blank rows above and below cut
    (``full``: in full blocks only, two rows for each of the font's)."""
    rows = [row.replace(SHADE, " ").rstrip() for row in figlet(font).renderText(text).splitlines()]
    while rows and _blank(rows[0]):
        rows.pop(0)
    while rows and _blank(rows[-1]):
        rows.pop()
    # pyfiglet keeps a column of the glyphs' own spacing on the left: cut what all rows share.
    indent = min((len(row) - len(row.lstrip(" ")) for row in rows if row.strip()), default=0)
    rows = [row[indent:] for row in rows]
    width = max((len(row) for row in rows), default=0)
    rows = [row.ljust(width) for row in rows]
    return tuple(unfold(rows) if full else rows)


@lru_cache(maxsize=256)
def big_type(text: str, width: int, height: int, full: bool = False) -> str | None:
    """``text`` in the largest font that fits ``width`` × ``height`` cells, or None.

    Words go on a line while it fits; a word wider than the whole width rules
    the font out (it would have to be split). Every row of the result has the
    same width, each line of type centred in it, so the block centres as one.
    """
    words = text.split()
    most = (height + LINE_GAP) // (LINE_ROWS + LINE_GAP)  # lines that could fit at all
    if not words or width <= 0 or most < 1:
        return None
    for font in FONTS:
        if not covers(font, "".join(words)):
            continue
        lines = _wrap(font, words, width, most)
        if lines is None:
            continue
        lines = _balanced(font, words, width, lines)
        blocks = [draw(font, line, full) for line in lines]
        rows = sum(len(block) for block in blocks) + LINE_GAP * (len(blocks) - 1)
        if rows > height:
            continue
        widest = max(len(block[0]) for block in blocks if block)
        out: list[str] = []
        for block in blocks:
            if out:
                out += [" " * widest] * LINE_GAP
            out += [row.center(widest) for row in block]
        return "\n".join(out)
    return None


def _wrap(font: str, words: list[str], width: int, most: int) -> list[str] | None:
    """``words`` on lines no wider than ``width``; None if a word is wider, or if it
    takes more than ``most`` lines."""
    lines: list[str] = []
    for word in words:
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and _width(font, candidate) <= width:
            lines[-1] = candidate
        elif _width(font, word) <= width and len(lines) < most:
            lines.append(word)
        else:
            return None
    return lines


def _balanced(font: str, words: list[str], width: int, lines: list[str]) -> list[str]:
    """The same number of lines as ``lines``, as even as they go (no word left alone at
    the end): the narrowest width that still wraps into that many lines."""
    low, high = 1, width
    while low < high:
        middle = (low + high) // 2
        if _wrap(font, words, middle, len(lines)) is not None:
            high = middle
        else:
            low = middle + 1
    return _wrap(font, words, high, len(lines)) or lines


def _width(font: str, text: str) -> int:
    rows = draw(font, text)
    return len(rows[0]) if rows else 0


class BigText(Static):
    """A text as large as its box allows (see the module docstring); bold text otherwise.

    The box is the widget's content area, less a row above and below; a widget
    of ``height: auto`` says how many rows it may grow to with ``max_rows``.
    :attr:`text` is the printable text drawn (what a reader of the screen is
    shown), :attr:`big` whether it is drawn in large type now.
    """

    def __init__(self, content: Content, *, max_rows: int | None = None, **kwargs: object) -> None:
        """``content`` is made by :func:`~servicecycle.kiosk.plain.plain`, like any widget text."""
        self.text = content.plain
        self.max_rows = max_rows
        self.big = False
        self._art: str | None = None
        super().__init__(content, **kwargs)  # type: ignore[arg-type]

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Draw the text for the box the widget has now."""
        width, height = self.content_size
        # In a box, large type keeps a row clear above and below (it must not touch a frame).
        height = self.max_rows if self.max_rows is not None else height - 2
        art = (
            big_type(self.text, width, height, full_blocks_only())
            if large_screen(self.app.size)
            else None
        )
        if art == self._art:
            return
        self.big = art is not None
        self._art = art
        self.set_class(self.big, "-big")
        self.update(plain(art, newlines=True) if art is not None else plain(self.text))
