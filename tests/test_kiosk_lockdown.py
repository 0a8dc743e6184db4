"""Lockdown: no key, chord or action takes a customer out of the kiosk.

Each key is tried on its own: afterwards the app must still be running, on the
attract screen, with no command palette open and nothing stored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import string
import threading

import pytest
from textual.command import CommandPalette

from servicecycle.core import KioskSession, Runtime
from servicecycle.kiosk import KioskApp
from servicecycle.kiosk.app import BLOCKED_ACTIONS
from servicecycle.kiosk.screens import AttractScreen

from .test_kiosk_support import (
    data_dir,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    ready,
    stored,
    write_config,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

CHORDS = [
    *(f"ctrl+{letter}" for letter in string.ascii_lowercase),
    *(f"f{n}" for n in range(1, 13)),
    "escape",
    "tab",
    "shift+tab",
    "enter",
    "space",
    "backspace",
    "delete",
    "insert",
    "home",
    "end",
    "pageup",
    "pagedown",
    "up",
    "down",
    "left",
    "right",
    "ctrl+backslash",
    "ctrl+right_square_bracket",
    "ctrl+space",
    "ctrl+at",
    "ctrl+shift+q",
    "ctrl+shift+p",
    "ctrl+shift+c",
    "alt+f4",
    "alt+tab",
    "ctrl+alt+delete",
    "super+q",
    "super+w",
    "q",
    "x",
    "0",
    "6",
    "9",
]


#: The chords a customer is most likely to try: each on a kiosk of its own.
FIRST_TRIES = ["ctrl+q", "ctrl+c", "ctrl+z", "ctrl+p", "escape", "ctrl+backslash", "alt+f4"]


def still_home(app: KioskApp) -> tuple[bool, str, int, bool]:
    """(running, current screen, screens stacked, palette open) — home is (True, Attract, 1, False)."""
    return (
        app.is_running and app.return_code is None,
        type(app.screen).__name__,
        len(app.screen_stack),
        any(isinstance(s, CommandPalette) for s in app.screen_stack),
    )


HOME = (True, "AttractScreen", 1, False)


@pytest.mark.parametrize("key", FIRST_TRIES)
@kiosk_test
async def test_the_usual_ways_out_do_nothing_on_a_fresh_kiosk(make_app, data_dir, key):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert still_home(app) == HOME
    assert stored(data_dir) == []


@pytest.fixture(scope="module")
def live_kiosk(kiosk_host, tmp_path_factory):
    """One kiosk for the whole module, run on an event loop in a thread of its own, so
    each key can be tried on its own (and the kiosk put back home if one ever moved it)
    without paying for a new app per key."""
    folder = tmp_path_factory.mktemp("lockdown")
    runtime = Runtime.open(write_config(folder), data_dir=folder / "data", plugins=kiosk_host)
    app = KioskApp(KioskSession(runtime), alerting=False, tick_seconds=0.05)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="lockdown-loop", daemon=True)
    thread.start()

    def run(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)

    started: concurrent.futures.Future = concurrent.futures.Future()
    stop = asyncio.Event()

    async def host():  # the app's whole life in one task (Textual's context stays put)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            started.set_result(pilot)
            await stop.wait()

    hosting = asyncio.run_coroutine_threadsafe(host(), loop)
    pilot = started.result(timeout=30)
    try:
        yield app, pilot, run, folder / "data"
    finally:
        loop.call_soon_threadsafe(stop.set)
        hosting.result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        runtime.close()


@pytest.mark.parametrize("key", CHORDS)
def test_no_key_leaves_the_kiosk(live_kiosk, key):
    app, pilot, run, data_dir = live_kiosk

    async def press():
        await pilot.press(key)
        await pilot.pause()
        state = still_home(app)
        if state != HOME and app.is_running:
            await app.reset()  # put it back for the next key
        return state

    assert run(press()) == HOME
    assert stored(data_dir) == []


@kiosk_test
async def test_actions_that_leave_are_refused_even_when_run_directly(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for action in ("quit", "app.quit", "command_palette", "suspend_process", "help_quit"):
            assert app.check_action(action.removeprefix("app."), ()) is False
            await app.run_action(action)
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, AttractScreen)
        assert not any(isinstance(s, CommandPalette) for s in app.screen_stack)


@kiosk_test
async def test_no_binding_leads_out(make_app):
    assert KioskApp.ENABLE_COMMAND_PALETTE is False
    assert {"quit", "command_palette", "suspend_process"} <= BLOCKED_ACTIONS
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        # Nothing inherited from App: no ctrl+q quit, no ctrl+c hint, no ctrl+p palette.
        assert dict(app._bindings.key_to_bindings) == {}
        actions = {b.binding.action.removeprefix("app.") for b in app.active_bindings.values()}
        assert actions.isdisjoint(BLOCKED_ACTIONS)
