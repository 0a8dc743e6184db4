"""Staff keys are never ratings: every way a staff screen closes while staff still type.

The attract screen takes digit keys as faces and the PIN pad's keys sit over
the faces, so each test here closes the PIN pad or the staff menu in one of the
ways it can close (on its own: idle, the end of a lockout, a check finishing
after the pad closed; or by staff: cancel, escape, back, a moment chosen), then
types and taps what a staff member would, and reads the data folder back from
disk: nothing may be stored.
"""

from __future__ import annotations

import threading

import pytest
from textual.widgets import OptionList, TabbedContent

from servicecycle.kiosk.screens import (
    AttractScreen,
    PinScreen,
    ReasonsScreen,
    StaffScreen,
    ThanksScreen,
)

from .test_kiosk_staff import CHORD, PIN, PIN_CONFIG, SIZE
from .test_kiosk_support import (
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
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

WRONG = "1234"  # a wrong PIN whose digits are all faces: the worst to leak
#: Screen cells where the PIN pad's keys are, over the faces at 80×24 (pad 0, 8, cancel).
PAD_OVER_FACES = [(40, 14), (40, 11), (30, 17)]


async def open_pad(pilot) -> PinScreen:
    await pilot.press(*CHORD)
    return await on_screen(pilot, PinScreen)


async def wrong_pins(pilot, pad: PinScreen, count: int) -> None:
    for _ in range(count):
        await pilot.press(*WRONG, "enter")
        await wait_for(pilot, lambda: not pad.checking)


async def type_and_tap_like_staff(pilot) -> None:
    """What staff do on a pad they believe is still there: a PIN, OK, corrections, taps."""
    await pilot.press(*WRONG, "enter", "backspace", *PIN, "enter")
    for offset in PAD_OVER_FACES:
        await pilot.click(offset=offset)
    await pilot.pause(0.2)  # time for any tap to reach the store


# -- lockouts ----------------------------------------------------------------------------


@kiosk_test
async def test_the_pad_stays_up_as_a_lockout_ends_and_the_pin_typed_then_opens_the_menu(
    make_app, data_dir
):
    """The issue's case: 30 s lock, 30 s idle; the pad used to close as the lock ended."""
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pad = await open_pad(pilot)
        await wrong_pins(pilot, pad, 3)
        await wait_for(pilot, lambda: "Try again in 30 s" in screen_text(app))  # at once
        clock.advance(10.5)
        await wait_for(pilot, lambda: "Try again in 20 s" in screen_text(app))  # counting down
        clock.advance(20)  # the lock is over, and nobody touched the pad for 30 s
        await wait_for(pilot, lambda: "Try again" not in screen_text(app))
        await pilot.pause(0.1)
        assert app.screen is pad  # still up: this is when staff type
        await pilot.press(*PIN, "enter")
        await on_screen(pilot, StaffScreen)
    assert stored(data_dir) == []


@kiosk_test
async def test_the_pad_closes_on_idle_after_a_lockout_ended(make_app, data_dir):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pad = await open_pad(pilot)
        await wrong_pins(pilot, pad, 3)
        clock.advance(30 + 29)
        await pilot.pause(0.1)
        assert app.screen is pad  # 29 s after the lock ended
        clock.advance(1.5)
        await on_screen(pilot, AttractScreen)  # idle_seconds after it: back to the faces
        await type_and_tap_like_staff(pilot)
    assert stored(data_dir) == []


@kiosk_test
async def test_a_long_lockout_closes_on_idle_and_a_pad_opened_again_shows_the_time_left(
    make_app, data_dir
):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pad = await open_pad(pilot)
        await wrong_pins(pilot, pad, 3)  # locked 30 s
        for lock in (30, 60):  # two more after each lock: locked 60 s, then 120 s
            clock.advance(lock + 1)
            await wait_for(pilot, lambda: "Try again" not in screen_text(app))
            await wrong_pins(pilot, pad, 1)
        await wait_for(pilot, lambda: "Try again in 120 s" in screen_text(app))
        clock.advance(31)  # idle, and the lock ends far later: the kiosk is the customers'
        await on_screen(pilot, AttractScreen)
        await type_and_tap_like_staff(pilot)  # the PIN typed into the pad that just closed
        assert stored(data_dir) == []
        clock.advance(10)
        pad = await open_pad(pilot)  # a new pad, mounted afresh: the lock is still shown
        assert "Try again in 79 s" in screen_text(app)
        clock.advance(20)
        await wait_for(pilot, lambda: "Try again in 59 s" in screen_text(app))
        await pilot.press(*PIN, "enter")  # still locked: ignored
        await pilot.pause(0.1)
        assert app.screen is pad
        clock.advance(20)
        await wait_for(pilot, lambda: "Try again in 39 s" in screen_text(app))
        clock.advance(39)  # 39 s without a touch, but the lock ends now: the pad stays
        await wait_for(pilot, lambda: "Try again" not in screen_text(app))
        await pilot.press(*PIN, "enter")
        await on_screen(pilot, StaffScreen)
    assert stored(data_dir) == []


# -- every way a staff screen closes ------------------------------------------------------


async def leave_pad_by_cancel_tap(pilot, clock) -> None:
    await open_pad(pilot)
    await pilot.press("1", "2")
    await pilot.click("#pin-cancel")


async def leave_pad_by_escape(pilot, clock) -> None:
    await open_pad(pilot)
    await pilot.press("1", "2", "escape")


async def leave_pad_when_idle(pilot, clock) -> None:
    await open_pad(pilot)
    await pilot.press("1", "2")
    clock.advance(30)  # kiosk.idle_seconds: the pad closes as staff come back to it


async def leave_pad_by_site_taps_and_cancel(pilot, clock) -> None:
    for _ in range(5):  # the touch gesture, then the pad's keys tapped
        await pilot.click(".site-name")
    await on_screen(pilot, PinScreen)
    await pilot.click("#pin-1")
    await pilot.click("#pin-cancel")


async def open_menu(pilot) -> StaffScreen:
    await open_pad(pilot)
    await pilot.press(*PIN, "enter")
    return await on_screen(pilot, StaffScreen)


async def leave_menu_by_back(pilot, clock) -> None:
    await open_menu(pilot)
    await pilot.click("#back")


async def leave_menu_by_escape(pilot, clock) -> None:
    await open_menu(pilot)
    await pilot.press("escape")


async def leave_menu_when_idle(pilot, clock) -> None:
    await open_menu(pilot)
    clock.advance(30)


async def leave_menu_by_choosing_a_moment(pilot, clock) -> None:
    staff = await open_menu(pilot)
    staff.query_one(TabbedContent).active = "tab-moment"
    options = staff.query_one("#moments", OptionList)
    options.focus()
    options.highlighted = 1
    await pilot.press("enter")


LEAVINGS = [
    leave_pad_by_cancel_tap,
    leave_pad_by_escape,
    leave_pad_when_idle,
    leave_pad_by_site_taps_and_cancel,
    leave_menu_by_back,
    leave_menu_by_escape,
    leave_menu_when_idle,
    leave_menu_by_choosing_a_moment,
]


@pytest.mark.parametrize("leave", LEAVINGS, ids=[f.__name__ for f in LEAVINGS])
@kiosk_test
async def test_keys_and_taps_just_after_a_staff_screen_closes_are_not_ratings(
    make_app, data_dir, leave
):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await leave(pilot, clock)
        await on_screen(pilot, AttractScreen)
        await type_and_tap_like_staff(pilot)
        assert isinstance(app.screen, AttractScreen)
        clock.advance(app.STAFF_KEYS_SECONDS - 1)  # each swallowed key kept the guard on
        await pilot.press("1")
        await pilot.pause(0.2)
        assert app.is_running and isinstance(app.screen, AttractScreen)
    assert stored(data_dir) == []


@kiosk_test
async def test_the_guard_runs_out_and_a_customer_is_served(make_app, data_dir):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await leave_pad_by_escape(pilot, clock)
        await on_screen(pilot, AttractScreen)
        clock.advance(app.STAFF_KEYS_SECONDS)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
    assert [r.score for r in stored(data_dir)] == [3]


@kiosk_test
async def test_a_customer_choosing_a_language_ends_the_guard(make_app, data_dir):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await leave_pad_by_escape(pilot, clock)
        await on_screen(pilot, AttractScreen)
        await pilot.click("#lang-ms")
        await wait_for(pilot, lambda: app.screen.language == "ms")
        await pilot.click(".mood-neutral")
        await on_screen(pilot, ThanksScreen)
    [rating] = stored(data_dir)
    assert (rating.score, rating.language) == (3, "ms")


@kiosk_test
async def test_the_chord_still_opens_the_pad_during_the_guard(make_app, data_dir):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await leave_pad_by_escape(pilot, clock)
        await on_screen(pilot, AttractScreen)
        await pilot.press("5")  # swallowed
        await open_pad(pilot)  # staff try again at once: the pad takes its keys
        await pilot.press(*PIN, "enter")
        await on_screen(pilot, StaffScreen)
    assert stored(data_dir) == []


# -- work that finishes after its screen has gone ----------------------------------------


class Gate:
    """Holds a call on a worker thread until the test opens it."""

    def __init__(self, function) -> None:
        self.function = function
        self.entered = threading.Event()
        self.open = threading.Event()

    def __call__(self, *args, **kwargs):
        self.entered.set()
        assert self.open.wait(10), "the test never opened the gate"
        return self.function(*args, **kwargs)


@pytest.mark.parametrize("how", ["escape", "idle"])
@kiosk_test
async def test_a_right_pin_checked_after_the_pad_closed_opens_nothing(make_app, data_dir, how):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        gate = Gate(app.session.check_pin)
        app.session.check_pin = gate  # type: ignore[method-assign]
        await open_pad(pilot)
        await pilot.press(*PIN, "enter")
        await wait_for(pilot, gate.entered.is_set)
        if how == "escape":
            await pilot.press("escape")
        else:
            clock.advance(30)
        await on_screen(pilot, AttractScreen)
        gate.open.set()
        await pilot.pause(0.3)
        assert not any(isinstance(s, StaffScreen) for s in app.screen_stack)
        assert isinstance(app.screen, AttractScreen)
        await type_and_tap_like_staff(pilot)
        assert app.is_running
    assert stored(data_dir) == []


@pytest.mark.parametrize("slow", ["tap", "answer"])
@kiosk_test
async def test_a_customer_press_saved_after_the_pad_opened_does_not_replace_the_pad(
    make_app, data_dir, slow
):
    """The store thread is slow; meanwhile staff open the pad and type on it."""
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        if slow == "tap":
            gate = Gate(app.session.tap)
            app.session.tap = gate  # type: ignore[method-assign]
            await pilot.press("1")
        else:
            await pilot.press("1")
            await on_screen(pilot, ReasonsScreen)
            gate = Gate(app.session.add_reasons)
            app.session.add_reasons = gate  # type: ignore[method-assign]
            await pilot.press("2")
        await wait_for(pilot, gate.entered.is_set)
        pad = await open_pad(pilot)
        await pilot.press("1", "3")
        gate.open.set()
        await wait_for(pilot, lambda: len(stored(data_dir)) == 1)
        await pilot.pause(0.3)
        assert app.screen is pad  # neither the reasons nor the thank-you screen came over it
        await pilot.press("5", "7")  # the rest of a PIN goes on the pad
        assert pad.digits == "1357"
        await pilot.press("escape")
        await on_screen(pilot, AttractScreen)
        await type_and_tap_like_staff(pilot)
    [rating] = stored(data_dir)  # the customer's, and nothing of the staff's
    assert rating.score == 1 and not rating.suspect


@kiosk_test
async def test_alerts_read_after_the_menu_was_left_do_not_crash_the_kiosk(make_app, data_dir):
    clock = FakeClock()
    app = make_app(PIN_CONFIG, clock=clock, alerting=True, alert_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.alerting is not None)
        worker = app.alerting
        gate = Gate(worker.alerts)
        worker.alerts = gate  # type: ignore[method-assign]
        await open_menu(pilot)
        await wait_for(pilot, gate.entered.is_set)
        await pilot.press("escape")
        await on_screen(pilot, AttractScreen)
        gate.open.set()
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, AttractScreen)
        await type_and_tap_like_staff(pilot)
    assert app.return_code in (None, 0)
    assert stored(data_dir) == []
