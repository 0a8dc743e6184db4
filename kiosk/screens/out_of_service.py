"""Shown while the data folder cannot take a rating: polite, and in the current language.

The customer is never thanked for a rating that was not stored, so while the
store is down the faces are simply not offered. The app keeps retrying in the
background and returns to the attract screen by itself once writes work again.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ..plain import plain
from .base import KioskScreen


class OutOfServiceScreen(KioskScreen):
    RESET_AFTER = None
    TEXT_KEYS = ("oos.title", "oos.body")

    def compose(self) -> ComposeResult:
        texts = self.localise()
        yield from self.header(languages=False)
        with Vertical(id="oos"):
            yield Static(plain(texts["oos.title"]), id="oos-title")
            yield Static(plain(texts["oos.body"]), id="oos-body")
