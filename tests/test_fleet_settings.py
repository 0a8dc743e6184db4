"""Settings changed at the hub and picked up by a running kiosk, between customers.

Real hub processes on loopback, a real kiosk (the Textual app under Pilot, its
KioskSession and shipper thread), the CLI as a user types it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from servicecycle.core import (
    Forbidden,
    KioskDesk,
    KioskSession,
    PluginHost,
    Role,
    Runtime,
    ServiceCycleError,
    Store,
    User,
)
from servicecycle.core.config import KioskSettings, load_config
from servicecycle.core.fleet import Chain, KioskRegistry, Shipper, join, load_membership
from servicecycle.core.fleet import shipper as shipper_module
from servicecycle.core.fleet.registry import SCHEMA, SCHEMA_VERSION
from servicecycle.core.fleet.settings import FILE, DesiredSettings, load_settings
from servicecycle.core.fleet.wire import post
from servicecycle.kiosk.screens import AttractScreen, ReasonsScreen, StaffScreen, ThanksScreen

from .fleet import HubProcess, Kiosk, cli, free_port, hub_config
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
    write_config,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

SITE, NAME = "demo-site", "kiosk-1"
#: A fast heartbeat, so the test does not wait 15 s for each change.
KIOSK_CONFIG = (
    PIN_CONFIG.rstrip("\n")
    + '\ncycle = "hotel-guest"\nmoment = "check-in-wait"\nheartbeat = "1s"\n'
)


def table(hub: HubProcess) -> str:
    """`hub kiosks` on a terminal wide enough for every column."""
    done = cli(*hub.base(), "hub", "kiosks", env={"COLUMNS": "250"})
    return " ".join(done.stdout.split())


def entry_of(hub: HubProcess, site: str = SITE, kiosk: str = NAME) -> dict:
    (entry,) = [
        k
        for k in hub.kiosks()
        if k["site"] == site and k["kiosk"] == kiosk and k["state"] != "revoked"
    ]
    return entry


async def hub_says(condition, timeout: float = 30.0) -> dict:
    """Poll `hub kiosks --json` (in a thread: the kiosk keeps running) until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        entry = await asyncio.to_thread(condition)
        if entry:
            return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"the hub never said so: {condition.__doc__}")
        await asyncio.sleep(0.3)


# -- the heartbeat ---------------------------------------------------------------------


def test_the_default_heartbeat_brings_a_change_within_a_minute(tmp_path):
    assert KioskSettings().heartbeat <= timedelta(seconds=30)
    assert shipper_module.HEARTBEAT <= 30
    assert KioskSettings().heartbeat.total_seconds() == shipper_module.HEARTBEAT
    path = tmp_path / "site.toml"
    path.write_text('[kiosk]\nheartbeat = "5m"\n')
    with pytest.raises(ServiceCycleError, match=r"kiosk\.heartbeat.*between 1s and 1m"):
        load_config(path)
    path.write_text('[kiosk]\nheartbeat = "20s"\n')
    assert load_config(path).kiosk.heartbeat == timedelta(seconds=20)


# -- the running kiosk -----------------------------------------------------------------


@kiosk_test
async def test_a_running_kiosk_takes_the_hubs_settings_between_customers_and_keeps_them(
    make_app, make_runtime, data_dir, tmp_path
):
    hub = HubProcess(
        hub_config(tmp_path / "hub.toml", sites={SITE: [NAME]}), tmp_path / "hub"
    ).start()
    try:
        join(data_dir, hub.url, hub.enroll(SITE, NAME), site=SITE, kiosk=NAME)
        clock = FakeClock()
        app = make_app(KIOSK_CONFIG, link=None, clock=clock)
        session = app.session
        async with app.run_test(size=(120, 30)) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: session.shipper is not None)
            assert session.shipper.heartbeat == 1.0  # kiosk.heartbeat

            def heard() -> dict | None:
                """the kiosk told the hub what it asks, in which languages"""
                entry = entry_of(hub)
                return entry if entry["languages"] else None

            entry = await hub_says(heard)
            assert (entry["cycle"], entry["moment"]) == ("hotel-guest", "check-in-wait")
            assert entry["languages"] == ["en", "ms", "ru", "tr"]
            assert entry["desired"] is None and entry["settings_state"] == "local"
            assert not entry["pending"]

            # A customer is in the middle of a tap when the moment changes at the hub.
            await pilot.press("1")
            reasons = await on_screen(pilot, ReasonsScreen)
            offered = list(reasons.reason_ids)
            began = time.monotonic()
            done = await asyncio.to_thread(
                hub.cli, "hub", "kiosk-set", NAME, "--moment", "check-out-wait", "--by", "alice"
            )
            assert "moment: check-in-wait → check-out-wait" in done.stdout, done.stdout
            assert "settings version 1, by alice" in done.stdout
            entry = await asyncio.to_thread(entry_of, hub)
            assert entry["desired"]["moment"] == "check-out-wait" and entry["pending"]
            assert entry["settings_state"] == "pending"
            await wait_for(pilot, lambda: session.settings_waiting, timeout=60)
            # Received, kept in the data folder ... and the customer's tap is undisturbed.
            kept = json.loads((data_dir / FILE).read_text())
            assert (kept["version"], kept["moment"]) == (1, "check-out-wait")
            await pilot.pause(0.3)
            assert app.screen is reasons and list(reasons.reason_ids) == offered
            assert session.moment.id == "check-in-wait"
            await pilot.press("1")  # the customer's reason
            await on_screen(pilot, ThanksScreen)
            clock.advance(session.config.kiosk.thanks_seconds + 1)  # the customer leaves
            attract = await on_screen(pilot, AttractScreen)
            await wait_for(pilot, lambda: attract.composed_for[2] == "check-out-wait")
            assert session.moment.id == "check-out-wait"
            assert time.monotonic() - began < 60
            first = next(iter(session.runtime.site_store.ratings.query()))
            assert first.moment == "check-in-wait" and first.reasons  # asked as it was seen
            await pilot.press("4")  # the next customer is asked about the new moment
            await on_screen(pilot, (ReasonsScreen, ThanksScreen))
            moments = sorted(r.moment for r in session.runtime.site_store.ratings.query())
            assert moments == ["check-in-wait", "check-out-wait"]

            def applied() -> dict | None:
                """the kiosk says it runs with version 1"""
                entry = entry_of(hub)
                return entry if entry["settings_state"] == "applied" else None

            entry = await hub_says(applied)
            assert entry["moment"] == "check-out-wait" and entry["settings_version"] == 1
            assert not entry["pending"]
            shown = await asyncio.to_thread(table, hub)
            assert "v1 applied" in shown and "hotel-guest/check-out-wait (en, ms, ru, tr)" in shown

            # Idle on the attract screen: languages change, taken once nobody touched it.
            await app.reset()
            await asyncio.to_thread(
                hub.cli, "hub", "kiosk-set", NAME, "--languages", "tr,en", "--by", "bob"
            )
            await wait_for(pilot, lambda: session.settings_waiting, timeout=60)
            await pilot.pause(0.3)
            assert session.languages == ["en", "ms", "ru", "tr"]  # touched a moment ago: not yet
            clock.advance(session.config.kiosk.idle_seconds + 1)
            await wait_for(pilot, lambda: session.languages == ["tr", "en"])
            await wait_for(pilot, lambda: app.screen.composed_for[0] == "tr")
            assert session.language == session.default_language == "tr"
            assert isinstance(app.screen, AttractScreen) and len(app.screen_stack) == 1

            # On the staff menu nothing changes until staff leave it.
            menu = await staff_menu(pilot)
            await asyncio.to_thread(
                hub.cli, "hub", "kiosk-set", NAME, "--moment", "bill-accuracy", "--by", "carol"
            )
            await wait_for(pilot, lambda: session.settings_waiting, timeout=60)
            await pilot.pause(0.5)
            assert app.screen is menu and isinstance(menu, StaffScreen)
            assert session.moment.id == "check-out-wait"
            await pilot.press("escape")
            attract = await on_screen(pilot, AttractScreen)
            await wait_for(pilot, lambda: session.moment.id == "bill-accuracy")
            await wait_for(pilot, lambda: attract.composed_for[2] == "bill-accuracy")
        session.runtime.close()

        # Restarted with the hub down: it asks what the hub set last.
        hub.stop()
        again = make_app(KIOSK_CONFIG, link=None)
        assert again.session.moment.id == "bill-accuracy"
        assert again.session.languages == ["tr", "en"] and again.session.language == "tr"
        assert again.session.settings_version == 3
        async with again.run_test(size=(120, 30)) as pilot:
            await ready(pilot)
            attract = await on_screen(pilot, AttractScreen)
            assert attract.composed_for[:3] == ("tr", "hotel-guest", "bill-accuracy")
            await pilot.press("5")
            await on_screen(pilot, (ReasonsScreen, ThanksScreen))
        with Store(data_dir) as store:
            newest = max(store.ratings.query(), key=lambda r: r.at)
        assert (newest.moment, newest.language) == ("bill-accuracy", "tr")
    finally:
        hub.stop()


# -- the CLI ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    config = hub_config(root / "hub.toml", sites={"grand-kl": ["lobby", "bar"], "grand-pg": []})
    process = HubProcess(config, root / "data").start()
    yield process
    process.stop()


def seen_kiosk(hub: HubProcess, root, site: str, name: str) -> Kiosk:
    """A kiosk joined and heard by the hub (through a KioskSession's shipper: languages too)."""
    kiosk = Kiosk(root, site, name)
    kiosk.join(hub.url, hub.enroll(site, name))
    session = KioskSession(kiosk.runtime)
    kiosk.shipper = Shipper(
        kiosk.runtime.site_store.changes, kiosk.dir, about=session.about, timeout=5
    )
    assert not kiosk.shipper.step().failed
    deadline = time.monotonic() + 10
    while not entry_of(hub, site, name)["languages"]:
        assert time.monotonic() < deadline, "the hub never heard the kiosk"
        time.sleep(0.3)
    return kiosk


def test_bad_values_are_refused_by_name_with_what_is_allowed(hub, tmp_path):
    kiosk = seen_kiosk(hub, tmp_path, "grand-kl", "lobby")
    cases = [
        (
            ["--cycle", "nope"],
            "Invalid value for '--cycle': cycle 'nope' is not one of the installed cycles; "
            "known cycles: banking-branch, health-emergency, hotel-guest",
        ),
        (
            ["--moment", "nope"],
            "Invalid value for '--moment': moment 'nope' is not a moment of cycle "
            "'hotel-guest'; its moments: booking-contact,",
        ),
        (
            ["--languages", "en,de"],
            "Invalid value for '--languages': language 'de' is not one of cycle "
            "'hotel-guest''s; cycle 'hotel-guest' offers: en, ms, ru, tr",
        ),
        (["--languages", " , "], "languages '' is empty: give at least one"),
        (["--languages", "en,tr,en"], "language 'en' is listed twice"),
        (
            ["--cycle", "banking-branch"],
            "moment 'check-in-wait' is not a moment of cycle 'banking-branch'; give the moment;"
            " its moments: getting-there,",
        ),
    ]
    for args, message in cases:
        done = hub.cli("hub", "kiosk-set", "lobby", *args, check=False)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in " ".join(done.stderr.split()), (args, done.stderr)
        assert "Traceback" not in done.stderr
    ghost = hub.cli("hub", "kiosk-set", "ghost", "--moment", "check-out-wait", check=False)
    assert ghost.returncode == 1 and "Traceback" not in ghost.stderr
    assert "no enrolled kiosk 'ghost'; enrolled: grand-kl/lobby" in ghost.stderr
    nothing = hub.cli("hub", "kiosk-set", "lobby", check=False)
    assert nothing.returncode == 2 and "--cycle, --moment and/or --languages" in nothing.stderr
    unknown_site = hub.cli("hub", "kiosk-set", "lobby", "--site", "x", "--moment", "y", check=False)
    assert unknown_site.returncode == 1 and "site 'x' is not one of this hub's sites" in (
        unknown_site.stderr
    )
    assert entry_of(hub, "grand-kl", "lobby")["desired"] is None  # nothing was kept

    # A good change, then the same again: nothing changes, no new version.
    done = hub.cli(
        "hub", "kiosk-set", "lobby", "--cycle", "banking-branch", "--moment", "wait-time",
        "--languages", "en,ms", "--by", "alice",
    )  # fmt: skip
    assert "cycle: hotel-guest → banking-branch" in done.stdout
    assert "moment: check-in-wait → wait-time" in done.stdout
    assert "languages: en, ms, ru, tr → en, ms" in done.stdout
    again = hub.cli("hub", "kiosk-set", "lobby", "--moment", "wait-time")
    assert "nothing changed" in again.stdout and "(version 1)" in again.stdout
    entry = entry_of(hub, "grand-kl", "lobby")
    assert entry["desired"]["version"] == 1 and entry["desired"]["changed_by"] == "alice"
    assert entry["pending"] and entry["settings_state"] == "pending"
    assert "v1 pending: banking-branch/wait-time (en, ms)" in table(hub)
    kiosk.close()


# -- the wire: old kiosks, old hubs ----------------------------------------------------


def test_an_old_kiosk_ignores_the_settings_and_stays_pending(hub, tmp_path):
    kiosk = Kiosk(tmp_path, "grand-kl", "bar")
    kiosk.join(hub.url, hub.enroll("grand-kl", "bar"))
    hub.cli(
        "hub", "kiosk-set", "bar", "--cycle", "hotel-guest", "--moment", "check-out-wait",
        "--languages", "en",
    )  # fmt: skip
    # What an older kiosk sends (no languages, no settings) and reads (the counts).
    member = load_membership(kiosk.dir)
    reply = post(
        member.ship_url,
        {"about": {"version": "0.9", "backlog": 0}, "changes": []},
        credential=member.credential,
    )
    assert reply.status == 200
    assert isinstance(reply.body["accepted"], int) and reply.body["refused"] == []
    assert reply.body["settings"]["moment"] == "check-out-wait"  # there, for who reads it
    time.sleep(1.5)  # the hub notes what kiosks say once a second
    entry = entry_of(hub, "grand-kl", "bar")
    assert entry["last_contact"] and entry["version"] == "0.9"
    assert entry["pending"] and entry["settings_version"] is None and entry["languages"] is None
    kiosk.close()


class OldHub(ThreadingHTTPServer):
    """A hub from before settings: it answers a batch with its counts, and nothing else."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = {
                    "accepted": len(body["changes"]),
                    "duplicates": 0,
                    "amended": 0,
                    "refused": [],
                    "clock_offset": 0.0,
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_a_kiosk_talking_to_an_old_hub_keeps_its_last_settings(hub, tmp_path, kiosk_host):
    kiosk = seen_kiosk(hub, tmp_path, "grand-pg", "lobby")
    hub.cli("hub", "kiosk-set", "lobby", "--site", "grand-pg", "--moment", "room-assigned")
    kiosk.shipper.report_soon()  # a heartbeat now
    assert not kiosk.shipper.step().failed
    assert load_settings(kiosk.dir).moment == "room-assigned"
    kiosk.close()
    # The kiosk now talks to an older hub (restored, or not upgraded yet).
    old = OldHub()
    membership = json.loads((kiosk.dir / "hub.json").read_text())
    (kiosk.dir / "hub.json").write_text(json.dumps({**membership, "hub": old.url}))
    runtime = Runtime.open(kiosk.config, data_dir=kiosk.dir, plugins=kiosk_host)
    try:
        session = KioskSession(runtime)
        assert session.moment.id == "room-assigned" and session.settings_version == 1
        shipper = session.start_shipping()
        assert shipper is not None
        runtime.recorder.record(
            site="grand-pg", kiosk="lobby", cycle="hotel-guest", moment="room-assigned",
            score=5, language="en",
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while shipper.status.shipped < 1:
            assert time.monotonic() < deadline, shipper.status
            time.sleep(0.1)
        assert not session.settings_waiting and session.moment.id == "room-assigned"
        assert load_settings(kiosk.dir).version == 1
    finally:
        session.stop_shipping()
        runtime.close()
        old.shutdown()


def test_settings_the_kiosk_cannot_take_are_refused_and_the_hub_says_why(hub, tmp_path):
    kiosk = seen_kiosk(hub, tmp_path / "a", "grand-pg", "bar")
    kiosk.close()
    hub.cli(
        "hub", "kiosk-set", "bar", "--site", "grand-pg", "--cycle", "banking-branch",
        "--moment", "wait-time", "--languages", "en",
    )  # fmt: skip
    # This kiosk has only the hotel plugin: it cannot ask about a bank's moment.
    hotel_only = PluginHost.discover(only={"hotel"})
    runtime = Runtime.open(kiosk.config, data_dir=kiosk.dir, plugins=hotel_only)
    try:
        session = KioskSession(runtime)
        shipper = session.start_shipping(heartbeat=0.5)
        assert shipper is not None
        deadline = time.monotonic() + 20
        while not session.settings_waiting:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert session.apply_waiting_settings() is False
        assert session.moment.id == "check-in-wait"  # as before
        assert session.settings_refused == 1 and "banking-branch" in session.settings_error
        deadline = time.monotonic() + 20
        while (entry := entry_of(hub, "grand-pg", "bar"))["settings_state"] != "refused":
            assert time.monotonic() < deadline, entry
            time.sleep(0.3)
        assert (
            "cycle 'banking-branch' is not one of the installed cycles" in (entry["settings_error"])
        )
        assert "v1 refused by the kiosk: cycle 'banking-branch'" in table(hub)
    finally:
        session.stop_shipping()
        runtime.close()


# -- the console's core path -----------------------------------------------------------


CHAIN = """
[hub]
chain = "grand"

[[hub.regions]]
id = "asia"

[[hub.regions.sites]]
id = "grand-kl"
timezone = "Asia/Kuala_Lumpur"

[[hub.regions.sites]]
id = "grand-pg"
timezone = "Asia/Kuala_Lumpur"
"""


def test_the_console_path_lets_managers_of_the_site_and_admins_change_a_kiosk(tmp_path, kiosk_host):
    runtime = Runtime.open(write_config(tmp_path, CHAIN), data_dir=tmp_path, plugins=kiosk_host)
    state = tmp_path / "hub"
    registry = KioskRegistry(state)
    for site in ("grand-kl", "grand-pg"):
        registry.join(registry.new_code(site, "lobby", ttl=60))
    chain = Chain(runtime.config)
    desk = KioskDesk(runtime, chain, state)
    admin = User("ada", Role.ADMIN)
    manager = User("mo", Role.MANAGER, site="grand-kl")
    regional = User("rae", Role.MANAGER, region="asia")
    staff = User("sam", Role.STAFF, site="grand-kl")
    try:
        with pytest.raises(Forbidden, match="sam may not change kiosks"):
            desk.configure(staff, "lobby", site="grand-kl", moment="check-out-wait")
        with pytest.raises(Forbidden, match="mo may not see site 'grand-pg'"):
            desk.configure(manager, "lobby", site="grand-pg", moment="check-out-wait")
        with pytest.raises(ServiceCycleError, match="has not said which it offers"):
            desk.configure(manager, "lobby", cycle="hotel-guest", moment="check-out-wait")
        entry = desk.configure(
            manager, "lobby", cycle="hotel-guest", moment="check-out-wait", languages=["en"]
        )
        assert entry.site == "grand-kl" and entry.pending  # the manager's own site's lobby
        assert entry.desired is not None and entry.desired.changed_by == "mo"
        with pytest.raises(ServiceCycleError, match="enrolled at sites grand-kl, grand-pg"):
            desk.configure(regional, "lobby", moment="check-in-wait")
        entry = desk.configure(regional, "lobby", site="grand-kl", languages="ms, en")  # a form
        assert entry.desired.version == 2 and entry.desired.languages == ("ms", "en")
        assert entry.desired.moment == "check-out-wait"  # left as it was
        entry = desk.configure(
            admin, "lobby", site="grand-pg", cycle="banking-branch", moment="wait-time",
            languages=["tr"],
        )  # fmt: skip
        assert (entry.site, entry.desired.version, entry.desired.changed_by) == (
            "grand-pg", 1, "ada",
        )  # fmt: skip
        shown = {k["site"]: k for k in desk.kiosks(admin)}
        assert shown["grand-kl"]["desired"]["languages"] == ["ms", "en"]
        assert shown["grand-pg"]["pending"] and shown["grand-pg"]["settings_state"] == "pending"
    finally:
        desk.registry.close()
        registry.close()
        runtime.close()


# -- the registry's schema -------------------------------------------------------------


def test_a_registry_from_before_settings_is_migrated_and_one_from_the_future_refused(tmp_path):
    old = sqlite3.connect(tmp_path / "hub.sqlite")
    old.executescript(SCHEMA)
    old.execute(
        "INSERT INTO kiosks (credential, site, kiosk, epoch, enrolled, cycle, moment) "
        "VALUES ('h', 'grand-kl', 'lobby', 1, 1.0, 'hotel-guest', 'check-in-wait')"
    )
    old.commit()
    old.close()
    registry = KioskRegistry(tmp_path)
    assert registry.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    (entry,) = registry.kiosks()
    assert entry.moment == "check-in-wait" and entry.desired is None
    made = registry.set_settings(
        "grand-kl", "lobby", "hotel-guest", "check-out-wait", ("en",), by="ops"
    )
    assert made == registry.settings_of("grand-kl", "lobby")
    assert isinstance(made, DesiredSettings) and made.version == 1
    registry.close()
    KioskRegistry(tmp_path).close()  # opened again: nothing to migrate
    future = sqlite3.connect(tmp_path / "hub.sqlite")
    future.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    future.commit()
    future.close()
    with pytest.raises(ServiceCycleError, match="written by a newer servicecycle"):
        KioskRegistry(tmp_path)
