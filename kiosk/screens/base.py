"""What every kiosk screen shares: its session, its one language, its reset rule."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen

from servicecycle.core import KioskSession

from ..plain import plain
from ..strings import ScreenTexts, Texts, Verbatim, localise
from ..widgets.language_bar import LanguageBar
from ..widgets.tile import Tile

if TYPE_CHECKING:
    from ..app import KioskApp

Reset = Literal["thanks", "idle"] | None


class KioskScreen(Screen[None]):
    """A screen whose texts all come from one ``screen_language`` call.

    ``RESET_AFTER`` says when the app returns to the attract screen on its own:
    ``"thanks"`` after ``kiosk.thanks_seconds`` on the screen, ``"idle"`` after
    ``kiosk.idle_seconds`` without input, ``None`` never.
    """

    RESET_AFTER: ClassVar[Reset] = None
    #: UI text keys this screen shows (see strings.toml).
    TEXT_KEYS: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.shown_at: float | None = None  # set when the screen is shown
        self.texts = ScreenTexts("", {})

    @property
    def kiosk(self) -> KioskApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> KioskSession:
        return self.kiosk.session

    @property
    def language(self) -> str:
        """The one language every text on this screen is in."""
        return self.texts.language

    def rate_on_face_key(self, event: events.Key) -> None:
        """Keys 1 to the scale's top rate, as the faces do (a keypad beside the screen)."""
        if event.character and event.character.isdigit():
            score = int(event.character)
            if 1 <= score <= self.session.scale:
                event.stop()
                self.kiosk.rate(score, self)

    def text_keys(self) -> tuple[str, ...]:
        """The UI text keys this screen shows; ``TEXT_KEYS`` unless it depends on state."""
        return self.TEXT_KEYS

    def extra_texts(self) -> Texts:
        """Texts from core (question, reasons...) shown beside the UI words."""
        return {}

    def localise(self) -> ScreenTexts:
        """Choose this screen's language for all of its texts (core logs any fallback)."""
        self.texts = localise(
            self.session,
            self.text_keys(),
            {"site": Verbatim(self.session.config.site.name), **self.extra_texts()},
        )
        return self.texts

    def header(self, *, languages: bool = True) -> ComposeResult:
        """The site's name (also the hidden staff tap target) and the language switch."""
        with Horizontal(classes="header"):
            yield Tile(plain(self.texts["site"]), value="site", classes="site-name")
            if languages and len(self.session.languages) > 1:
                yield LanguageBar(self.session.languages, self.texts.language)

    def holds_reset(self, now: float) -> bool:
        """Whether an idle reset due at ``now`` waits (the PIN pad, around a lockout's end)."""
        return False

    def on_screen_resume(self) -> None:
        self.shown_at = self.kiosk.clock()

    @on(Tile.Pressed, ".site-name")
    def _site_tapped(self, event: Tile.Pressed) -> None:
        event.stop()
        self.kiosk.site_tapped()

    def on_language_bar_chosen(self, event: LanguageBar.Chosen) -> None:
        event.stop()
        self.session.set_language(event.language)
        self.refresh(recompose=True)
