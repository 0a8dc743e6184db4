"""Thank you, and a QR code to the follow-up survey for this very rating.

Only ever shown for a rating core has stored. "Thank you!" is in large type
where it fits (:class:`~..widgets.big_text.BigText`). The QR code is sized to
the terminal: if the link is too long for a code that fits, the address is
shown as text instead (and logged, so the site can shorten its survey URL).
"""

from __future__ import annotations

import logging

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from servicecycle.core import Rating, printable

from ..glyphs import full_blocks_only
from ..plain import plain
from ..widgets.big_text import BigText
from ..widgets.qr import QRCode, qr_matrix, qr_text
from .base import KioskScreen

log = logging.getLogger(__name__)

#: Columns kept for the thank-you words beside the code.
TEXT_COLUMNS = 30
#: The most rows "Thank you!" may take in large type.
TITLE_ROWS = 8


class ThanksScreen(KioskScreen):
    RESET_AFTER = "thanks"
    TEXT_KEYS = ("thanks.title", "thanks.saved", "thanks.scan", "thanks.link")

    def __init__(
        self, rating: Rating, link: str | None, matrix: list[list[bool]] | None = None
    ) -> None:
        """``matrix`` is the link's QR code (see :func:`qr_matrix`), made off the UI thread."""
        super().__init__()
        self.composed_for: tuple[object, ...] | None = None
        self.prepare(rating, link, matrix)

    def prepare(
        self, rating: Rating, link: str | None, matrix: list[list[bool]] | None = None
    ) -> None:
        """Show another rating: the kiosk reuses one thank-you screen for every customer."""
        self.rating = rating
        self.link = link
        self.matrix = matrix if matrix is not None or link is None else qr_matrix(link)
        self.code = self._code()

    def layout_key(self) -> tuple[object, ...]:
        """What the widgets depend on; a change of anything else is a cheap update."""
        lines = self.code.splitlines() if self.code else []
        shape = (len(lines), len(lines[0]) if lines else 0)
        shown_link = self.link if self.code is None else None  # an address shown as text
        return (self.session.language, self.link is not None, shape, shown_link, self.app.size)

    async def refresh_content(self) -> None:
        """Update the code in place, or compose again when the layout must change."""
        if self.composed_for != self.layout_key():
            await self.recompose()
        elif self.code is not None and self.link is not None:
            self.query_one(QRCode).show(self.code, self.link)

    def compose(self) -> ComposeResult:
        self.composed_for = self.layout_key()
        texts = self.localise()
        code = self.code
        with Horizontal(id="thanks"):
            with Vertical(id="thanks-text"):
                yield BigText(plain(texts["thanks.title"]), id="thanks-title", max_rows=TITLE_ROWS)
                yield Static(plain(texts["thanks.saved"]), id="thanks-saved")
                if code is not None:
                    yield Static(plain(texts["thanks.scan"]), id="thanks-scan")
                elif self.link is not None:
                    yield Static(plain(texts["thanks.link"]), id="thanks-scan")
                    yield Static(plain(self.link), id="survey-url")
            if code is not None and self.link is not None:
                with Vertical(id="qr-box"):
                    yield QRCode(code, self.link, id="qr")

    def _code(self) -> str | None:
        if self.link is None or self.matrix is None:
            return None
        width, height = self.app.size
        code = qr_text(
            self.matrix,
            max_width=width - TEXT_COLUMNS,
            max_height=height,
            full=full_blocks_only(),
        )
        if code is None:
            log.warning(
                "survey link of %d characters does not fit a QR code on a %dx%d screen; "
                "showing the address instead (shorten survey.url): %s",
                len(self.link),
                width,
                height,
                printable(self.link),  # the log is read on terminals too
            )
        return code

    def on_key(self, event: events.Key) -> None:
        """A face key here is another press: core decides whether it is a repeat."""
        self.rate_on_face_key(event)
