"""Snapshots of every kiosk screen at 80×24 (the smallest supported) and 160×48.

Deterministic by construction: a fresh data folder, the survey link injected
into the kiosk layer (a fixed URL, so a fixed QR code), no clock text on any
screen, and keys rather than clicks (no hover state). Update after a deliberate
change with ``pytest tests/test_kiosk_snapshots.py --snapshot-update`` and look
at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

from servicecycle.core import Store
from servicecycle.kiosk.screens import (
    AttractScreen,
    OutOfServiceScreen,
    PinScreen,
    ReasonsScreen,
    StaffScreen,
    ThanksScreen,
)

from .test_kiosk_support import data_dir, kiosk_host, make_app, make_runtime, on_screen, ready

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
SMALL = pytest.mark.parametrize("size", [(80, 24)], ids=["80x24"])
SITE = '[site]\nname = "Grand Hotel Kuala Lumpur"\n'


@SIZES
def test_attract(snap_compare, make_app, size):
    async def run_before(pilot):
        await ready(pilot)
        await on_screen(pilot, AttractScreen)

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


@SIZES
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
