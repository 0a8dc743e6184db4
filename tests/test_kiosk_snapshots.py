"""Snapshots of every kiosk screen at 80×24 (the smallest supported) and 160×48, the
customer's screens at 120×40 too (where large type starts), the notice below 80×24,
and the attract screen on the Linux console (16 colours) and with NO_COLOR.

Deterministic by construction: a fresh data folder, the survey link injected
into the kiosk layer (a fixed URL, so a fixed QR code), no clock text on any
screen, and keys rather than clicks (no hover state). Update after a deliberate
change with ``pytest tests/test_kiosk_snapshots.py --snapshot-update`` and look
at the SVGs in tests/__snapshots__/ before committing them.

The SVG is drawn in true colour whatever the terminal: on the console snapshots the
faces' colours are the 16-colour palette's own (what the console shows), the rest of
the theme is shown as Textual styles it, before Rich maps it to 16 colours.
"""

from __future__ import annotations

import pytest
from textual.widgets import TabbedContent

from servicecycle.core import Store
from servicecycle.kiosk.screens import (
    AttractScreen,
    OutOfServiceScreen,
    PinScreen,
    ReasonsScreen,
    StaffScreen,
    ThanksScreen,
    TooSmallScreen,
)

from .test_kiosk_support import (
    data_dir,
    kiosk_host,
    make_app,
    make_runtime,
    on_screen,
    ready,
    wait_for,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
SMALL = pytest.mark.parametrize("size", [(80, 24)], ids=["80x24"])
#: The customer's screens grow: large type and large faces from 120×40.
GROWING = pytest.mark.parametrize(
    "size", [(80, 24), (120, 40), (160, 48)], ids=["80x24", "120x40", "160x48"]
)
SITE = '[site]\nname = "Grand Hotel Kuala Lumpur"\n'


async def attract(pilot):
    await ready(pilot)
    await on_screen(pilot, AttractScreen)


@GROWING
def test_attract(snap_compare, make_app, size):
    assert snap_compare(make_app(SITE), terminal_size=size, run_before=attract)


@GROWING
def test_attract_in_malay(snap_compare, make_app, size):
    """The longest question of the default moment's languages, in large type where it fits."""
    app = make_app(SITE, language="ms")
    assert snap_compare(app, terminal_size=size, run_before=attract)


@pytest.mark.parametrize("size", [(120, 40), (160, 48)], ids=["120x40", "160x48"])
def test_attract_in_russian(snap_compare, make_app, size):
    """No large font both covers Cyrillic and fits 120×40: bold text, whole; at 160×48 the
    larger font (which has Cyrillic) fits."""
    app = make_app(SITE, language="ru")
    assert snap_compare(app, terminal_size=size, run_before=attract)


@pytest.mark.parametrize(
    "size", [(80, 24), (120, 33), (160, 45)], ids=["80x24", "120x33", "160x45"]
)
def test_attract_on_the_linux_console(snap_compare, make_app, monkeypatch, size):
    """TERM=linux (the systemd unit's): 16 colours, faces from solid red to solid green,
    drawn with full blocks only; 160×45 is a full-HD console in the unit's 12×24 font,
    120×33 in a 16×32 one (docs/kiosk.md)."""
    monkeypatch.setenv("TERM", "linux")
    monkeypatch.delenv("COLORTERM")
    app = make_app(SITE)
    assert app.console.color_system == "standard"
    assert snap_compare(app, terminal_size=size, run_before=attract)


@SMALL
def test_attract_without_colour(snap_compare, make_app, monkeypatch, size):
    """NO_COLOR=1: the faces are told apart by their digits, mouths and words."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(SITE), terminal_size=size, run_before=attract)


@pytest.mark.parametrize("size", [(79, 24), (60, 20)], ids=["79x24", "60x20"])
def test_too_small(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await on_screen(pilot, TooSmallScreen)

    assert snap_compare(make_app(SITE), terminal_size=size, run_before=run_before)


@SMALL
def test_attract_four_point_scale_in_russian(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await on_screen(pilot, AttractScreen)

    app = make_app(SITE + "[kiosk]\nscale = 4\n", language="ru")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
def test_reasons(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("1")
        await on_screen(pilot, ReasonsScreen)

    assert snap_compare(make_app(SITE), terminal_size=size, run_before=run_before)


@SMALL
def test_praise_in_turkish(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("5")
        await on_screen(pilot, ReasonsScreen)

    assert snap_compare(make_app(SITE, language="tr"), terminal_size=size, run_before=run_before)


@GROWING
def test_thanks(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)

    assert snap_compare(make_app(SITE), terminal_size=size, run_before=run_before)


@SIZES
def test_out_of_service_in_malay(snap_compare, make_app, data_dir, size):
    async def run_before(pilot):
        await on_screen(pilot, OutOfServiceScreen)

    with Store(data_dir, owner="kiosk lobby-2"):
        app = make_app(SITE, language="ms")
        assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
def test_pin(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("ctrl+k", "ctrl+k", "ctrl+k")
        await on_screen(pilot, PinScreen)
        await pilot.press("1", "2")

    assert snap_compare(make_app(SITE), terminal_size=size, run_before=run_before)


@SIZES
def test_staff(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("ctrl+k", "ctrl+k", "ctrl+k")
        await on_screen(pilot, PinScreen)
        await pilot.press(*"0000", "enter")
        screen = await on_screen(pilot, StaffScreen)
        await screen.workers.wait_for_complete()

    assert snap_compare(make_app(SITE), terminal_size=size, run_before=run_before)


@SMALL
def test_staff_alerts(snap_compare, make_app, size):
    """The Alerts tab: the name to acknowledge with, above the (here: no) alerts."""

    async def run_before(pilot):
        await ready(pilot)
        await wait_for(pilot, lambda: pilot.app.alerting is not None)
        await pilot.press("ctrl+k", "ctrl+k", "ctrl+k")
        await on_screen(pilot, PinScreen)
        await pilot.press(*"0000", "enter")
        screen = await on_screen(pilot, StaffScreen)
        screen.query_one(TabbedContent).active = "tab-alerts"
        await screen.workers.wait_for_complete()
        await wait_for(pilot, lambda: screen.query(".note"))
        await pilot.pause()

    app = make_app(SITE, alerting=True, alert_interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
