"""A big touch target: a box of text that reports taps, and never takes focus.

Kiosk screens are driven by taps and digit keys, not by a keyboard focus
cursor, so tiles cannot be focused: no focus ring confuses a customer, and a
stray Enter or Tab on a keypad cannot press something by accident.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Static


class Tile(Static):
    """A tappable box carrying a ``value`` (a score, a reason id, a digit...)."""

    can_focus = False

    class Pressed(Message):
        """A tile was tapped or clicked."""

        def __init__(self, tile: Tile) -> None:
            super().__init__()
            self.tile = tile

        @property
        def control(self) -> Tile:
            """The tile, so handlers can pick tiles with ``@on(Tile.Pressed, selector)``."""
            return self.tile

        @property
        def value(self) -> str:
            return self.tile.value

    def __init__(self, content: object = "", *, value: str, **kwargs: object) -> None:
        super().__init__(content, **kwargs)  # type: ignore[arg-type]
        self.value = value

    def on_click(self, event: events.Click) -> None:
        event.stop()
        # The kiosk app may refuse a tap first: a staff member's, just after a staff
        # screen closed, landing on a face (see KioskApp.staff_keys).
        refuse = getattr(self.app, "staff_tap", None)
        if refuse is not None and refuse(self):
            return
        self.post_message(self.Pressed(self))
