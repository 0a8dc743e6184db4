"""A kiosk in a fleet: it ships as it runs, staff see the line's state, it notifies nothing."""

from __future__ import annotations

import time

from textual.widgets import Static

from servicecycle.core.fleet import join
from servicecycle.kiosk.screens import AttractScreen, ReasonsScreen, ThanksScreen

from .fleet import HubProcess, hub_config, hub_ids
from .test_kiosk_staff import PIN_CONFIG, staff_menu
from .test_kiosk_support import (
    FakeClock,
    data_dir,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    on_screen,
    ready,
    wait_for,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]


@kiosk_test
async def test_a_fleet_kiosk_ships_shows_the_line_and_keeps_taps_while_the_hub_is_gone(
    make_app, data_dir, tmp_path
):
    hub = HubProcess(
        hub_config(tmp_path / "hub.toml", sites={"demo-site": ["kiosk-1"]}), tmp_path / "hub"
    ).start()
    try:
        join(
            data_dir, hub.url, hub.enroll("demo-site", "kiosk-1"), site="demo-site", kiosk="kiosk-1"
        )
        clock = FakeClock()
        app = make_app(PIN_CONFIG, link=None, alerting=True, clock=clock)
        async with app.run_test(size=(120, 30)) as pilot:
            await ready(pilot)
            await pilot.press("1")
            await on_screen(pilot, ReasonsScreen)
            await pilot.press("1")
            await on_screen(pilot, ThanksScreen)
            assert app.session.survey_link(
                app.session.runtime.site_store.ratings.get(
                    next(iter(app.session.runtime.site_store.ratings.query())).id
                )
            ).startswith("https://feedback.example.com/s/")
            deadline = time.monotonic() + 15
            while len(hub_ids(hub)) < 1 and time.monotonic() < deadline:
                await pilot.pause(0.2)
            assert len(hub_ids(hub)) == 1  # shipped while the kiosk runs
            assert app.alerting is not None and app.alerting.dispatcher is None  # the hub notifies
            assert app.site_warnings == []  # links and receivers are the hub's business
            await app.reset()
            screen = await staff_menu(pilot)
            status = screen.query_one("#hub-status", Static)
            await wait_for(
                pilot, lambda: "connected · 0 waiting" in str(status.render()), timeout=10
            )
            await pilot.press("escape")
            await on_screen(pilot, AttractScreen)
            hub.kill()
            clock.advance(app.STAFF_KEYS_SECONDS + 1)  # past the guard on staff keys
            await pilot.press("4")
            await on_screen(pilot, (ReasonsScreen, ThanksScreen))
            await app.reset()
            screen = await staff_menu(pilot)
            status = screen.query_one("#hub-status", Static)
            await wait_for(pilot, lambda: "OFFLINE since" in str(status.render()), timeout=20)
            # What waits is every change after the shipper's cursor: the new tap, and any
            # change the hub had not taken before it went (the first tap's reason, maybe).
            shipper = app.session.shipper
            feed = app.session.runtime.site_store.changes
            waiting = feed.changes(shipper.cursor, limit=100)
            assert 4 in {c.rating.score for c in waiting}
            await wait_for(
                pilot, lambda: f"{len(waiting)} record(s) waiting" in str(status.render())
            )
        stored = list(app.session.runtime.site_store.ratings.query())
        assert len(stored) == 2  # nothing lost on the kiosk
    finally:
        hub.stop()
