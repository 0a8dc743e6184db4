"""Out of service: when the data folder cannot take a rating, nobody is thanked for one.

Failures are real, not mocked: a second owner holds the folder's owner lock
(another kiosk), or the folder a table lives in is replaced by a file so that
writes fail even for root (who ignores chmod).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

from textual import events

from servicecycle.core import Store
from servicecycle.kiosk.screens import (
    AttractScreen,
    OutOfServiceScreen,
    ReasonsScreen,
    ThanksScreen,
)
from servicecycle.kiosk.strings import strings

from .test_kiosk_support import (
    data_dir,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    on_screen,
    screen_text,
    stored,
    wait_for,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

SIZE = (80, 24)


class ScreenLog:
    """Every screen that was ever current, sampled on each message the app handles."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.app = None

    def __call__(self, message: object) -> None:
        if self.app is not None and isinstance(message, events.Event):
            with contextlib.suppress(Exception):  # no screen yet
                self.seen.add(type(self.app.screen).__name__)


def break_tables(data_dir: Path) -> None:
    """Writes into the store now fail: its tables folder is a file."""
    (data_dir / "tables").rename(data_dir / "tables.moved")
    (data_dir / "tables").write_text("not a folder\n")


def mend_tables(data_dir: Path) -> None:
    (data_dir / "tables").unlink()
    (data_dir / "tables.moved").rename(data_dir / "tables")


@kiosk_test
async def test_another_kiosk_owning_the_folder_puts_this_one_out_of_service(
    make_app, data_dir, caplog
):
    other = Store(data_dir, owner="kiosk lobby-2")
    app = make_app(language="ru")
    log = ScreenLog()
    log.app = app
    try:
        with caplog.at_level(logging.ERROR, logger="servicecycle.kiosk"):
            async with app.run_test(size=SIZE, message_hook=log) as pilot:
                await on_screen(pilot, OutOfServiceScreen)
                assert strings()["oos.title"]["ru"] in screen_text(app)
                assert app.screen.language == "ru"
                for key in "12345":
                    await pilot.press(key)
                await pilot.pause(0.2)
                assert isinstance(app.screen, OutOfServiceScreen)  # still retrying
                other.close()
                await on_screen(pilot, AttractScreen)  # the retry took the folder back
                await pilot.press("3")
                await on_screen(pilot, ThanksScreen)
    finally:
        other.close()
    assert [r.score for r in stored(data_dir)] == [3]
    assert any("lobby-2" in r.getMessage() for r in caplog.records)
    assert "ReasonsScreen" not in log.seen


@kiosk_test
async def test_a_tap_that_cannot_be_stored_is_never_thanked(make_app, data_dir, caplog):
    app = make_app(retry_seconds=0.5)
    log = ScreenLog()
    log.app = app
    with caplog.at_level(logging.ERROR, logger="servicecycle.kiosk"):
        async with app.run_test(size=SIZE, message_hook=log) as pilot:
            await wait_for(pilot, lambda: app.store_opened)
            break_tables(data_dir)
            await pilot.press("3")
            await on_screen(pilot, OutOfServiceScreen)
            assert "ThanksScreen" not in log.seen
            assert strings()["oos.title"]["en"] in screen_text(app)
            mend_tables(data_dir)
            await on_screen(pilot, AttractScreen, timeout=5)
            assert stored(data_dir) == []  # the failed tap left nothing behind
            await pilot.press("3")
            await on_screen(pilot, ThanksScreen)
    assert [r.score for r in stored(data_dir)] == [3]
    assert any("cannot write" in r.getMessage() for r in caplog.records)


@kiosk_test
async def test_a_reason_that_cannot_be_stored_is_not_thanked_either(make_app, data_dir):
    app = make_app(retry_seconds=0.5)
    log = ScreenLog()
    log.app = app
    async with app.run_test(size=SIZE, message_hook=log) as pilot:
        await wait_for(pilot, lambda: app.store_opened)
        await pilot.press("1")
        await on_screen(pilot, ReasonsScreen)
        break_tables(data_dir)
        await pilot.press("1")
        await on_screen(pilot, OutOfServiceScreen)
        assert "ThanksScreen" not in log.seen
        mend_tables(data_dir)
        await on_screen(pilot, AttractScreen)
    [rating] = stored(data_dir)
    assert (rating.score, rating.reasons) == (1, ())  # the tap itself was stored


@kiosk_test
async def test_a_data_folder_that_cannot_be_created_is_out_of_service(make_app, data_dir):
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.write_text("a file where the data folder should be\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, OutOfServiceScreen)
        data_dir.unlink()
        await on_screen(pilot, AttractScreen)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
    assert [r.score for r in stored(data_dir)] == [3]
    shutil.rmtree(data_dir)
