"""The staff's path: hidden chord, PIN, today's figures, alerts, moment switch, exit."""

from __future__ import annotations

import logging
import threading

from textual import events
from textual.widgets import DataTable, Input, OptionList, Static, TabbedContent

from servicecycle.core import (
    KioskSession,
    PluginHost,
    PythonRule,
    Runtime,
    Store,
    hash_pin,
    hookimpl,
)
from servicecycle.kiosk import KioskApp
from servicecycle.kiosk.screens import (
    AttractScreen,
    PinScreen,
    ReasonsScreen,
    StaffScreen,
    ThanksScreen,
)

from .test_kiosk_support import (
    BUILTIN,
    FakeClock,
    data_dir,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    on_screen,
    ready,
    screen_text,
    stored,
    wait_for,
    write_config,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

SIZE = (80, 24)
PIN = "2468"
PIN_CONFIG = f'[kiosk]\npin_hash = "{hash_pin(PIN, iterations=1000)}"\n'
CHORD = ("ctrl+k", "ctrl+k", "ctrl+k")


async def open_staff_menu(pilot, pin: str = PIN) -> StaffScreen:
    """The chord, then the PIN typed on the keys (the way staff do it)."""
    await pilot.press(*CHORD)
    await on_screen(pilot, PinScreen)
    await pilot.press(*pin, "enter")
    return await on_screen(pilot, StaffScreen)


async def staff_menu(pilot) -> StaffScreen:
    """Straight to the menu, for tests about the menu (chord and PIN have their own)."""
    pilot.app.open_pin()
    await on_screen(pilot, PinScreen)
    pilot.app.open_staff_menu()
    return await on_screen(pilot, StaffScreen)


def alerting_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "servicecycle-alerting"]


@kiosk_test
async def test_the_chord_opens_the_pin_pad_and_nothing_less_does(make_app):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+k", "ctrl+k", "x", "ctrl+k")  # broken by another key
        await pilot.pause(0.05)
        assert isinstance(app.screen, AttractScreen)
        for _ in range(3):  # too slow: more than 2 s apart
            await pilot.press("ctrl+k")
            clock.advance(2.5)
        assert isinstance(app.screen, AttractScreen)
        await pilot.press(*CHORD)
        await on_screen(pilot, PinScreen)
        await pilot.press("escape")
        await on_screen(pilot, AttractScreen)


@kiosk_test
async def test_tapping_the_site_name_five_times_opens_the_pin_pad(make_app):
    app = make_app(PIN_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for _ in range(4):
            await pilot.click(".site-name")
        assert isinstance(app.screen, AttractScreen)
        await pilot.click(".site-name")
        await on_screen(pilot, PinScreen)
        for key in PIN:
            await pilot.click(f"#pin-{key}")
        await pilot.click("#pin-ok")
        staff = await on_screen(pilot, StaffScreen)
        assert not staff.query("#demo-pin")  # a real PIN is set: no warning


@kiosk_test
async def test_wrong_pins_lock_the_pad_and_the_wait_is_shown(make_app):
    clock = FakeClock()
    app = make_app(PIN_CONFIG + "idle_seconds = 300\n", clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press(*CHORD)
        pad = await on_screen(pilot, PinScreen)
        await pilot.press(*"1111", "enter")  # typed like staff would
        await wait_for(pilot, lambda: not pad.checking and "Wrong PIN" in screen_text(app))
        for key in ("9", "9", "9", "9", "ok"):  # a second one, straight onto the pad
            pad.press(key)
        await wait_for(pilot, lambda: not pad.checking)
        assert "Wrong PIN" in screen_text(app)
        for key in ("9", "9", "9", "9", "ok"):  # the third locks the pad: it says so at once
            pad.press(key)
        await wait_for(pilot, lambda: "Try again in 30 s" in screen_text(app))
        await pilot.press(*PIN, "enter")  # ignored while locked
        await pilot.pause(0.1)
        assert isinstance(app.screen, PinScreen)
        clock.advance(31)
        await pilot.press(*PIN, "enter")
        await on_screen(pilot, StaffScreen)


@kiosk_test
async def test_the_demo_pin_works_and_warns(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        staff = await open_staff_menu(pilot, "0000")
        assert staff.query_one("#demo-pin")
        assert "demo PIN 0000" in screen_text(app)


@kiosk_test
async def test_todays_figures_per_moment(make_app):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        for key, then in (("1", "1"), ("5", "0"), ("2", "0")):
            await pilot.press(key)
            await on_screen(pilot, ReasonsScreen)
            await pilot.press(then)
            await on_screen(pilot, ThanksScreen)
            await app.reset()
            clock.advance(60)
        await staff_menu(pilot)
        table = app.screen.query_one("#today", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[0] == "★ How were you welcomed by our driver on arrival?"
        assert row[1:5] == ["3", "2.67", "+1.83", "67%"]  # target 4.5 on this moment
        assert row[5] == "I waited too long (1)"


@kiosk_test
async def test_firing_alerts_show_their_response_path_and_can_be_acknowledged(make_app, data_dir):
    app = make_app(
        PIN_CONFIG + 'cycle = "hotel-guest"\nmoment = "bill-accuracy"\n',
        alerting=True,
        alert_interval=0.05,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.alerting is not None)
        assert len(alerting_threads()) == 1
        await pilot.press("1")
        await on_screen(pilot, ReasonsScreen)
        await pilot.press("0")
        await on_screen(pilot, ThanksScreen)
        await wait_for(pilot, lambda: app.alerting.alerts())
        await staff_menu(pilot)
        app.screen.query_one(TabbedContent).active = "tab-alerts"
        await wait_for(pilot, lambda: "Duty manager" in screen_text(app))
        text = screen_text(app)
        assert "A guest rated the bill 1/5" in text
        assert "Response: Duty manager: go to the check-out desk now" in text
        [alert] = app.alerting.alerts()
        await pilot.click(f"#ack-{alert.short_id}")
        await wait_for(pilot, lambda: "Acknowledged by staff at kiosk kiosk-1" in screen_text(app))
    assert alerting_threads() == []  # stopped on exit
    with Store(data_dir) as store:
        acks = [r for r in store.table("alerts") if r.get("event") == "ack"]
    assert [a["by"] for a in acks] == ["staff at kiosk kiosk-1"]


def _raising(observations, now):
    raise RuntimeError("[/x] not [bold]markup[/bold]")


class BrokenRules:
    """One rule that fails while running, one that cannot be loaded."""

    @hookimpl
    def register_rules(self, register):
        register(
            PythonRule(id="x.raises", summary="x", response="y", window="10m", evaluate=_raising)
        )
        register(
            {
                "id": "x.bad",
                "kind": "single",
                "when": {"score": 1},
                "summary": "{site:d}",
                "response": "y",
            }
        )


@kiosk_test
async def test_staff_see_which_rules_are_broken_and_the_others_still_alert(tmp_path, data_dir):
    host = PluginHost.discover(only=BUILTIN)  # its own: the shared host stays as it is
    host.add(BrokenRules(), "x")
    config = write_config(
        tmp_path, PIN_CONFIG + 'cycle = "hotel-guest"\nmoment = "bill-accuracy"\n'
    )
    runtime = Runtime.open(config, data_dir=data_dir, plugins=host)
    clock = FakeClock()
    app = KioskApp(
        KioskSession(runtime, clock=clock),
        clock=clock,
        alerting=True,
        alert_interval=0.05,
        retry_seconds=0.05,
        tick_seconds=0.02,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.alerting is not None)
        await pilot.press("1")
        await on_screen(pilot, ReasonsScreen)
        await pilot.press("0")
        await on_screen(pilot, ThanksScreen)
        await wait_for(pilot, lambda: app.alerting.alerts())
        await wait_for(pilot, lambda: len(app.alerting.faults()) == 2)
        await staff_menu(pilot)
        app.screen.query_one(TabbedContent).active = "tab-alerts"
        await wait_for(pilot, lambda: "Duty manager" in screen_text(app))
        text = screen_text(app)
        assert "Rule x.raises is not working, so it cannot alert: RuntimeError: [/x] not" in text
        assert "[bold]markup[/bold]" in text
        assert "Rule x.bad could not be loaded:" in text
        assert "A guest rated the bill 1/5" in text  # the good rules went on
    runtime.close()


@kiosk_test
async def test_staff_switch_the_moment_the_kiosk_asks_about(make_app, data_dir):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        staff = await staff_menu(pilot)
        staff.query_one(TabbedContent).active = "tab-moment"
        options = staff.query_one("#moments", OptionList)
        index = next(
            i
            for i in range(options.option_count)
            if options.get_option_at_index(i).id == "check-in-wait"
        )
        options.focus()
        options.highlighted = index
        await pilot.press("enter")
        screen = await on_screen(pilot, AttractScreen)
        await wait_for(pilot, lambda: "How was the wait to check in?" in screen_text(app))
        assert screen is app.screen
        clock.advance(app.STAFF_KEYS_SECONDS)  # a customer, not the staff's keys (see app)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
    [rating] = stored(data_dir)
    assert (rating.stage, rating.moment) == ("check-in", "check-in-wait")


@kiosk_test
async def test_staff_can_go_back_and_the_menu_times_out(make_app):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await staff_menu(pilot)
        await pilot.click("#back")
        await on_screen(pilot, AttractScreen)
        await staff_menu(pilot)
        await pilot.press("escape")
        await on_screen(pilot, AttractScreen)
        await staff_menu(pilot)
        clock.advance(31)  # kiosk.idle_seconds = 30
        await on_screen(pilot, AttractScreen)


@kiosk_test
async def test_exit_needs_a_second_press_and_stops_the_app(make_app):
    app = make_app(PIN_CONFIG, alerting=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.alerting is not None)
        await staff_menu(pilot)
        await pilot.click("#exit")
        await pilot.pause(0.3)  # a button ignores a second press for 0.2 s
        assert app.is_running
        assert str(app.screen.query_one("#exit").label) == "Press again to exit"
        await pilot.click("#exit")
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 0
    assert alerting_threads() == []


# -- acknowledging with a name ---------------------------------------------------------------


async def firing_bill_alert(pilot) -> None:
    """A guest rates the bill 1/5: the hotel's rule fires at once."""
    app = pilot.app
    await wait_for(pilot, lambda: app.alerting is not None)
    await pilot.press("1")
    await on_screen(pilot, ReasonsScreen)
    await pilot.press("0")
    await on_screen(pilot, ThanksScreen)
    await wait_for(pilot, lambda: app.alerting.alerts())


BILL = PIN_CONFIG + 'cycle = "hotel-guest"\nmoment = "bill-accuracy"\n'


@kiosk_test
async def test_staff_acknowledge_an_alert_with_their_own_name(make_app, data_dir):
    app = make_app(BILL, alerting=True, alert_interval=0.05)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await firing_bill_alert(pilot)
        staff = await staff_menu(pilot)
        staff.query_one(TabbedContent).active = "tab-alerts"
        await wait_for(pilot, lambda: "Duty manager" in screen_text(app))
        assert "Your name (for acknowledging):" in screen_text(app)
        await pilot.click("#ack-name")
        await pilot.press(*"Amina", "h")
        name = staff.query_one("#ack-name", Input)
        name.post_message(events.Paste(" K"))  # pasting works...
        await pilot.pause(0.05)
        assert name.value == "Aminah K"
        for pasted in ("\x1b[2J", "\u202eevil", "a\x00b"):  # ...but no control character
            name.post_message(events.Paste(pasted))
            await pilot.pause(0.05)
        assert name.value == "Aminah K"
        [alert] = app.alerting.alerts()
        await pilot.click(f"#ack-{alert.short_id}")
        await wait_for(pilot, lambda: "Acknowledged by Aminah K" in screen_text(app))
    with Store(data_dir) as store:
        acks = [r for r in store.table("alerts") if r.get("event") == "ack"]
    assert [(a["by"], a["fingerprint"]) for a in acks] == [("Aminah K", alert.fingerprint)]
    assert stored(data_dir)[0].score == 1  # the name typed was no rating


@kiosk_test
async def test_a_name_of_spaces_is_recorded_as_the_kiosk(make_app, data_dir):
    app = make_app(BILL, alerting=True, alert_interval=0.05)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await firing_bill_alert(pilot)
        staff = await staff_menu(pilot)
        staff.query_one(TabbedContent).active = "tab-alerts"
        await wait_for(pilot, lambda: "Duty manager" in screen_text(app))
        await pilot.click("#ack-name")
        await pilot.press("space", "space")
        [alert] = app.alerting.alerts()
        await pilot.click(f"#ack-{alert.short_id}")
        await wait_for(pilot, lambda: "Acknowledged by staff at kiosk kiosk-1" in screen_text(app))
    with Store(data_dir) as store:
        acks = [r for r in store.table("alerts") if r.get("event") == "ack"]
    assert [a["by"] for a in acks] == ["staff at kiosk kiosk-1"]


# -- the attract screen's sign of a firing alert ---------------------------------------------


@kiosk_test
async def test_the_attract_screen_shows_staff_a_quiet_sign_while_an_alert_fires(make_app):
    app = make_app(BILL, alerting=True, alert_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        attract = app.screen
        sign = attract.query_one("#firing-sign", Static)
        await pilot.pause(0.2)
        assert not sign.visible and not attract.firing
        assert "•" not in screen_text(app)
        await firing_bill_alert(pilot)
        await app.reset()
        await on_screen(pilot, AttractScreen)
        await wait_for(pilot, lambda: sign.visible)
        assert str(sign.visual) == "•"  # a dot: no word a guest would read
        corner = screen_text(app).splitlines()[-1]
        assert corner.rstrip().endswith("•") and corner.strip() == "•"
        real_alerts = app.alerting.alerts
        app.alerting.alerts = lambda: [  # type: ignore[method-assign]
            alert for alert in real_alerts() if alert.state.value != "firing"
        ]
        # none firing: gone (from the screen too, once it is painted again)
        await wait_for(pilot, lambda: not sign.visible and "•" not in screen_text(app))


# -- what the site's configuration leaves undone ---------------------------------------------


@kiosk_test
async def test_the_staff_menu_shows_every_readiness_warning_and_the_log_has_each_once(
    make_app, caplog
):
    with caplog.at_level(logging.WARNING, logger="servicecycle.kiosk"):
        app = make_app(PIN_CONFIG + 'languages = ["ms", "en"]\n')
        async with app.run_test(size=(120, 30)) as pilot:
            await ready(pilot)
            staff = await staff_menu(pilot)
            notes = [str(note.visual) for note in staff.query(".site-warning")]
            await app.reset()
            await staff_menu(pilot)  # opened again: shown again, not logged again
    assert len(notes) == 2
    assert notes[0].startswith("Kod QR menghala ke http://127.0.0.1:8765/s/{token}")
    assert notes[1].startswith("Tiada penerima pemberitahuan ditetapkan")
    logged = [r.getMessage() for r in caplog.records if "before relying" in r.getMessage()]
    assert [line.split(": ")[1] for line in logged] == ["survey.url", "notify.receivers"]


class SurveyLinks:
    @hookimpl
    def survey_url(self, rating, token):
        return f"https://feedback.example/s/{token}"


@kiosk_test
async def test_no_survey_address_warning_when_a_plugin_makes_the_link(tmp_path, data_dir):
    host = PluginHost.discover(only=BUILTIN)
    host.add(SurveyLinks(), "links")
    runtime = Runtime.open(write_config(tmp_path, PIN_CONFIG), data_dir=data_dir, plugins=host)
    app = KioskApp(KioskSession(runtime), alerting=False, tick_seconds=0.02)
    try:
        assert [w.key for w in app.site_warnings] == ["notify.receivers"]
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            staff = await staff_menu(pilot)
            assert len(staff.query(".site-warning")) == 1
            assert "QR code" not in screen_text(app)
    finally:
        runtime.close()


@kiosk_test
async def test_a_ready_site_has_no_warning_in_the_staff_menu(make_app):
    app = make_app(
        PIN_CONFIG
        + '[survey]\nurl = "https://feedback.example/s/{token}"\n'
        + '[notify.receivers.duty]\ntype = "webhook"\nurl = "https://hooks.example/x"\n'
        + '[[notify.routes]]\nreceiver = "duty"\n'
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        staff = await staff_menu(pilot)
        assert not staff.query("#site-warnings")
