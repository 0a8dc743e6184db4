"""On the Linux console the kiosk draws with full blocks only.

Debian's console fonts that hold Turkish and Cyrillic letters have ``█`` but
not ``▀ ▄``: there, the QR code (two full blocks per module), the large type
and the large faces (each half-block row drawn as two rows) use ``█`` alone,
and the code still scans.
"""

from __future__ import annotations

import pytest

from servicecycle.kiosk.glyphs import full_blocks_only, unfold
from servicecycle.kiosk.screens import AttractScreen, ThanksScreen
from servicecycle.kiosk.widgets.big_text import BigText
from servicecycle.kiosk.widgets.qr import qr_matrix, qr_text

from .test_kiosk_support import (
    FIXED_LINK,
    data_dir,
    decode,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    on_screen,
    rasterise,
    ready,
    screen_text,
    text_image,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

HALF = set("▀▄")


@pytest.mark.parametrize(
    ("env", "full"),
    [
        ({"TERM": "linux"}, True),
        ({"TERM": "xterm-256color"}, False),
        ({"TERM": "linux", "SERVICECYCLE_KIOSK_BLOCKS": "half"}, False),
        ({"TERM": "xterm", "SERVICECYCLE_KIOSK_BLOCKS": "full"}, True),
    ],
)
def test_full_blocks_on_the_linux_console_or_when_asked(monkeypatch, env, full):
    monkeypatch.delenv("SERVICECYCLE_KIOSK_BLOCKS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert full_blocks_only() is full


def test_unfold_keeps_each_half_where_it_was():
    assert unfold(["▀▄█ "]) == ["█ █ ", " ██ "]


@pytest.mark.parametrize(("width", "height"), [(90, 48), (200, 67)])
def test_a_full_block_code_has_square_modules_and_scans(width, height):
    matrix = qr_matrix(FIXED_LINK)
    text = qr_text(matrix, max_width=width, max_height=height, full=True)
    assert text is not None and not HALF & set(text)
    lines = text.splitlines()
    assert len(lines[0]) == 2 * len(lines) and len(lines) % len(matrix) == 0
    assert decode(text_image(text)) == [FIXED_LINK]


def test_a_full_block_code_needs_twice_the_rows_of_a_half_block_one():
    matrix = qr_matrix(FIXED_LINK)  # 41 modules with the quiet zone
    assert qr_text(matrix, max_width=120, max_height=33, full=False) is not None
    assert qr_text(matrix, max_width=120, max_height=33, full=True) is None  # 32-px font
    assert qr_text(matrix, max_width=130, max_height=45, full=True) is not None  # 24-px font


@pytest.mark.parametrize("size", [(160, 45), (240, 67)], ids=["160x45", "240x67"])
@kiosk_test
async def test_on_the_console_no_screen_draws_a_half_block_and_the_code_scans(
    make_app, monkeypatch, size
):
    monkeypatch.setenv("TERM", "linux")  # after make_app's fixture pinned a terminal
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        attract = await on_screen(pilot, AttractScreen)
        await pilot.pause()
        assert attract.query_one(BigText).big  # large type, in full blocks
        assert not HALF & set(screen_text(app))
        await pilot.press("3")  # neutral: no follow-up question
        await on_screen(pilot, ThanksScreen)
        await pilot.pause()
        assert not HALF & set(screen_text(app))
        assert decode(rasterise(app)) == [FIXED_LINK]  # 160×45: the unit's 12×24 font


def test_the_large_faces_keep_their_height_and_every_mouth(monkeypatch):
    from servicecycle.kiosk.widgets.faces import BIG_MOUTHS, face_art

    monkeypatch.setenv("SERVICECYCLE_KIOSK_BLOCKS", "full")
    for mood in BIG_MOUTHS:
        art = face_art(mood, big=True)
        assert len(art.splitlines()) == 5 and not HALF & set(art)
        assert "█" in "".join(art.splitlines()[2:])  # the mouth is drawn
