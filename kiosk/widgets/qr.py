"""The survey link as a QR code drawn with half-block characters.

Two modules share one terminal cell (upper and lower half), which makes them
square on a normal terminal font. On the Linux console, whose fonts lack the
half blocks, each module is two full blocks side by side instead
(:mod:`..glyphs`). The widget pins its colours (black on white)
in its own CSS, so whatever the theme or the terminal's background, the code
stays dark-on-light, which is what phone cameras expect. A quiet zone of four
modules surrounds it. The smallest symbol that holds the URL is used; at that
size the strongest error correction that still fits is chosen for free.
"""

from __future__ import annotations

import logging

import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

log = logging.getLogger(__name__)

QUIET_ZONE = 4  # modules of light margin the QR standard asks for
#: Error-correction levels, strongest first.
LEVELS = (ERROR_CORRECT_H, ERROR_CORRECT_Q, ERROR_CORRECT_M, ERROR_CORRECT_L)


def qr_matrix(data: str) -> list[list[bool]]:
    """Modules (True = dark) of the smallest symbol for ``data``, quiet zone included.

    Only the version is searched per level (cheap); the symbol is built once.
    """
    smallest = _fitted(data, ERROR_CORRECT_L)
    chosen = next(
        (q for q in (_fitted(data, level) for level in LEVELS) if q.version == smallest.version),
        smallest,
    )
    chosen.make(fit=False)
    return chosen.get_matrix()


def _fitted(data: str, level: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=level, border=QUIET_ZONE)
    code.add_data(data)
    code.best_fit()
    return code


def half_blocks(matrix: list[list[bool]]) -> str:
    """Two module rows per text line: ▀ dark above, ▄ dark below, █ both, space neither."""
    glyphs = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
    width = len(matrix[0]) if matrix else 0
    lines = []
    for y in range(0, len(matrix), 2):
        upper = matrix[y]
        lower = matrix[y + 1] if y + 1 < len(matrix) else [False] * width
        lines.append("".join(glyphs[a, b] for a, b in zip(upper, lower, strict=True)))
    return "\n".join(lines)


def scaled(matrix: list[list[bool]], factor: int) -> list[list[bool]]:
    """Each module drawn ``factor`` × ``factor`` times: a bigger code scans from further away."""
    return [[cell for cell in row for _ in range(factor)] for row in matrix for _ in range(factor)]


def full_blocks(matrix: list[list[bool]]) -> str:
    """One module row per text line, two cells per module (``██``): square modules
    on a console font twice as tall as wide, with no half blocks (the Linux console)."""
    return "\n".join("".join("██" if dark else "  " for dark in row) for row in matrix)


def qr_text(
    matrix: list[list[bool]],
    max_width: int,
    max_height: int,
    max_scale: int = 3,
    *,
    full: bool = False,
) -> str | None:
    """The code as text, as large as fits ``max_width`` × ``max_height`` cells (up to
    ``max_scale`` cells per module), or None when even the smallest does not fit.

    ``full`` draws with full blocks only (:func:`full_blocks`), for the Linux console.
    """
    size = len(matrix)
    for factor in range(max_scale, 0, -1):
        code = scaled(matrix, factor) if factor > 1 else matrix
        if full:
            if 2 * size * factor <= max_width and size * factor <= max_height:
                return full_blocks(code)
        elif size * factor <= max_width and (size * factor + 1) // 2 <= max_height:
            return half_blocks(code)
    return None


class QRCode(Widget):
    """A QR code in fixed dark-on-light colours (see the module docstring).

    Drawn line by line from prepared strips, with the colours in the segments
    themselves: no markup, wrapping or theme can touch them, and showing the
    thank-you screen costs next to nothing for the code.
    """

    DEFAULT_CSS = """
    QRCode {
        width: auto;
        height: auto;
        color: #000000;
        background: #ffffff;
    }
    """

    STYLE = Style(color="#000000", bgcolor="#ffffff")

    def __init__(self, text: str, data: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._set(text, data)

    def _set(self, text: str, data: str) -> None:
        self.data = data
        self.lines = text.splitlines()
        self._strips = [Strip([Segment(line, self.STYLE)], len(line)) for line in self.lines]

    def show(self, text: str, data: str) -> None:
        """Draw another code of the same size in place."""
        self._set(text, data)
        self.refresh()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return len(self.lines[0]) if self.lines else 0

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines)

    def render_line(self, y: int) -> Strip:
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.STYLE)
