"""Which block characters the terminal can draw.

The Linux console (``TERM=linux``, the documented kiosk unit) draws from a
512-glyph font: Debian's console fonts that hold Turkish and Cyrillic letters
(``Uni2-Terminus*``) have the full block ``█`` but not the half blocks ``▀ ▄``,
which would come out as ``?`` — a QR code that does not scan. There, what is
drawn with half blocks elsewhere is drawn with full blocks only.
"""

from __future__ import annotations

import os

#: Set to ``full`` or ``half`` to override the choice made from ``TERM``.
BLOCKS_ENV = "SERVICECYCLE_KIOSK_BLOCKS"


def full_blocks_only() -> bool:
    """Whether to draw with ``█`` alone (the Linux console), not with ``▀ ▄``."""
    chosen = os.environ.get(BLOCKS_ENV, "").strip().lower()
    if chosen in ("full", "half"):
        return chosen == "full"
    return os.environ.get("TERM") == "linux"


def unfold(rows: list[str] | tuple[str, ...]) -> list[str]:
    """Half-block art as full blocks: each row becomes two, the upper and lower halves."""
    out: list[str] = []
    for row in rows:
        out.append("".join("█" if c in "▀█" else " " if c == "▄" else c for c in row))
        out.append("".join("█" if c in "▄█" else " " if c == "▀" else c for c in row))
    return out


def solid(rows: tuple[str, ...]) -> tuple[str, ...]:
    """Half-block art with every half block made full: the same rows, bolder strokes
    (for a drawing whose height is fixed, such as a face's mouth)."""
    return tuple(row.replace("▀", "█").replace("▄", "█") for row in rows)
