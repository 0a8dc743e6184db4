"""Fault injection between kiosks and a hub: real processes on loopback, a TCP proxy between.

Every test ends the same way: what the kiosks hold, the hub holds — each
rating once, none lost — whatever was cut, killed or dropped on the way.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from servicecycle.core.fleet import Shipper
from tests.fleet import HubProcess, Kiosk, Proxy, cli, hub_config, hub_ids
from tests.test_alerting_support import http_receiver  # noqa: F401  (a fixture)

SITES = {"grand-kl": ["lobby", "checkout", "restaurant"], "grand-pg": ["lobby"]}


@pytest.fixture
def hub(tmp_path):
    process = HubProcess(hub_config(tmp_path / "hub.toml", sites=SITES), tmp_path / "hub")
    yield process.start()
    process.stop()


def kiosks_of(hub: HubProcess, root, url: str, names: list[tuple[str, str]]) -> list[Kiosk]:
    made = []
    for site, name in names:
        kiosk = Kiosk(root, site, name)
        kiosk.join(url, hub.enroll(site, name))
        made.append(kiosk)
    return made


def assert_exactly_once(hub: HubProcess, kiosks: list[Kiosk]) -> None:
    held = hub_ids(hub)
    duplicated = [i for i, n in Counter(held).items() if n > 1]
    expected = set().union(*(k.ids() for k in kiosks))
    assert duplicated == []
    assert expected - set(held) == set(), "lost on the way"
    assert len(held) == len(expected)


def test_a_cut_line_for_an_hour_of_taps_loses_nothing_and_the_backlog_drains(hub, tmp_path):
    proxy = Proxy(hub.port)
    kiosks = kiosks_of(
        hub,
        tmp_path,
        proxy.url,
        [("grand-kl", "lobby"), ("grand-kl", "checkout"), ("grand-pg", "lobby")],
    )
    offline = []
    for kiosk in kiosks:  # taps with no hub at all, the reference
        for _ in range(20):
            started = time.perf_counter()
            kiosk.tap(4)
            offline.append(time.perf_counter() - started)
    proxy.cut()
    during = []
    shipping = threading.Event()

    def keep_shipping(kiosk: Kiosk) -> None:
        while not shipping.is_set():
            kiosk.shipper.step()  # fails: the line is cut
            time.sleep(0.05)

    threads = [threading.Thread(target=keep_shipping, args=(k,)) for k in kiosks]
    for thread in threads:
        thread.start()
    for minute in range(60):  # an hour of taps, two a minute per kiosk
        for kiosk in kiosks:
            for second in (0, 30):
                started = time.perf_counter()
                kiosk.tap(random.randint(1, 5), ago=3600 - minute * 60 - second)
                during.append(time.perf_counter() - started)
    shipping.set()
    for thread in threads:
        thread.join()
    for kiosk in kiosks:
        kiosk.shipper.step()  # the next try counts what waits
        status = kiosk.shipper.status
        assert status.connected is False and status.offline_since is not None
        assert status.waiting == 140  # counted for the PIN menu: 20 + 120
    # Taps never wait for the network: a blocked one would take the shipper's 5 s timeout.
    assert statistics.median(during) < max(0.05, 10 * statistics.median(offline))
    proxy.restore()
    started = time.monotonic()
    for kiosk in kiosks:
        kiosk.ship()
        assert kiosk.shipper.status.waiting == 0 and kiosk.shipper.status.connected
    assert time.monotonic() - started < 60
    assert_exactly_once(hub, kiosks)
    proxy.close()


def test_a_hub_killed_at_random_points_of_the_batch_cycle_loses_and_doubles_nothing(tmp_path):
    hub = HubProcess(hub_config(tmp_path / "hub.toml", sites=SITES), tmp_path / "hub").start()
    kiosks = kiosks_of(hub, tmp_path, hub.url, [("grand-kl", "lobby"), ("grand-kl", "checkout")])
    for kiosk in kiosks:
        kiosk.shipper.batch = kiosk.shipper.batch_limit = 25  # many batches per round
    rng = random.Random(15)
    rounds = 50
    for _ in range(rounds):
        for kiosk in kiosks:
            for _ in range(rng.randint(10, 60)):
                kiosk.tap(rng.randint(1, 5), ago=rng.uniform(0, 3000))
        threads = [threading.Thread(target=k.shipper.drain) for k in kiosks]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.0, 0.25))  # anywhere: reading, writing, answering
        hub.kill()
        for thread in threads:
            thread.join(30)
        hub.start()
    for kiosk in kiosks:
        kiosk.ship()
        assert kiosk.shipper.status.waiting == 0
    hub.stop()
    assert_exactly_once(hub, kiosks)
    # The reports' tallies agree with the raw count.
    checked = cli("--config", str(hub.config), "--data-dir", str(hub.data_dir), "store", "check")
    assert checked.returncode == 0
    report = cli(
        "--config",
        str(hub.config),
        "--data-dir",
        str(hub.data_dir),
        "report",
        "--format",
        "json",
    )
    import json

    data = json.loads(report.stdout)
    answers = sum(c["count"] for c in data["cycles"])
    assert answers == len(hub_ids(hub))


def test_a_lost_acknowledgement_makes_the_retry_a_no_op(hub, tmp_path):
    proxy = Proxy(hub.port)
    (kiosk,) = kiosks_of(hub, tmp_path, proxy.url, [("grand-kl", "lobby")])
    kiosk.shipper.step()  # a heartbeat first: connected
    assert kiosk.shipper.status.connected
    for _ in range(30):
        kiosk.tap(3)
    proxy.drop_replies = True
    result = kiosk.shipper.step()
    assert result.failed and proxy.dropped >= 1
    time.sleep(0.5)
    assert len(hub_ids(hub)) == 30  # the hub committed what the kiosk never heard about
    proxy.drop_replies = False
    assert kiosk.ship() == 30  # sent again ...
    time.sleep(1.5)  # the hub notes kiosks' counters once a second
    (entry,) = [
        k
        for k in hub.kiosks()
        if k["state"] != "revoked" and k["kiosk"] == "lobby" and k["site"] == "grand-kl"
    ]
    assert entry["accepted"] == 30 and entry["duplicates"] == 30  # ... and taken as a no-op
    assert_exactly_once(hub, [kiosk])
    proxy.close()


def test_kiosk_clocks_an_hour_fast_and_a_day_slow_are_flagged_and_nothing_is_dropped(hub, tmp_path):
    fast, slow = kiosks_of(hub, tmp_path, hub.url, [("grand-kl", "lobby"), ("grand-pg", "lobby")])
    catalogue = fast.runtime.catalogue
    for kiosk, skew in ((fast, 3600.0), (slow, -86400.0)):
        kiosk.shipper = Shipper(
            kiosk.runtime.site_store.changes, kiosk.dir, clock=lambda s=skew: time.time() + s
        )
        for n in range(3):  # bad check-in waits, on the kiosk's own (wrong) clock
            rating = catalogue.new_rating(
                site=kiosk.site,
                kiosk=kiosk.name,
                cycle="hotel-guest",
                moment="check-in-wait",
                score=1,
                language="en",
                ahead=timedelta(days=2),
                at=datetime.now(UTC) + timedelta(seconds=skew + n),
            )
            kiosk.runtime.site_store.ratings.add(rating)
        assert kiosk.ship() == 3
    time.sleep(2.5)
    entries = {
        k["site"]: k for k in hub.kiosks() if k["kiosk"] == "lobby" and k["state"] != "revoked"
    }
    assert (
        entries["grand-kl"]["clock_flagged"]
        and 3500 < entries["grand-kl"]["clock_offset_seconds"] < 3700
    )
    assert (
        entries["grand-pg"]["clock_flagged"]
        and -86500 < entries["grand-pg"]["clock_offset_seconds"] < -86300
    )
    assert_exactly_once(hub, [fast, slow])
    stored = {r: None for r in hub_ids(hub)}
    assert len(stored) == 6  # kept with the kiosks' own times
    # Both kiosks' bad moments are live once their offsets are known: the rules correct a
    # flagged kiosk's times (docs/fleet.md), so a day-slow clock's "yesterday" is now.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        firing = {
            a["key"].get("site") for a in hub.alerts() if a["rule"] == "hotel.check-in-wait-streak"
        }
        if len(firing) == 2:
            break
        time.sleep(0.3)
    assert firing == {"grand-kl", "grand-pg"}


def test_late_data_counts_in_reports_but_fires_no_live_alert_for_a_closed_window(hub, tmp_path):
    (kiosk,) = kiosks_of(hub, tmp_path, hub.url, [("grand-kl", "restaurant")])
    for ago in (7200, 7100, 7000):  # three bad waits two hours ago, shipped only now
        kiosk.tap(1, ago=ago)
    assert kiosk.ship() == 3
    time.sleep(3)
    assert [a for a in hub.alerts() if a["rule"] == "hotel.check-in-wait-streak"] == []
    assert len(hub_ids(hub)) == 3


def test_a_site_rule_across_two_kiosks_fires_exactly_one_alert_and_one_notification(
    tmp_path,
    http_receiver,  # noqa: F811
):
    config = hub_config(tmp_path / "hub.toml", sites=SITES, hook=http_receiver.url)
    hub = HubProcess(config, tmp_path / "hub").start()
    try:
        lobby, checkout = kiosks_of(
            hub, tmp_path, hub.url, [("grand-kl", "lobby"), ("grand-kl", "checkout")]
        )
        lobby.tap(1, ago=60)
        checkout.tap(2, ago=30)
        lobby.tap(1)
        for kiosk in (lobby, checkout):
            kiosk.ship()
        requests = http_receiver.wait_for(1, timeout=15)
        time.sleep(3)  # nothing more comes
        firing = [
            r
            for r in http_receiver.requests
            if any(a.get("status") == "firing" for a in r.body.get("alerts", []))
        ]
        assert len(firing) == 1, [r.body for r in requests]
        alerts = [a for a in hub.alerts() if a["rule"] == "hotel.check-in-wait-streak"]
        assert len(alerts) == 1 and alerts[0]["state"] == "firing"
        # The kiosks notify nothing themselves: a fleet kiosk has no dispatcher.
        from servicecycle.core import AlertingWorker

        worker = AlertingWorker(lobby.runtime)
        assert worker.dispatcher is None
        worker.stop()
    finally:
        hub.stop()


def test_a_revoked_kiosks_tail_is_recovered_by_store_copy(hub, tmp_path):
    (kiosk,) = kiosks_of(hub, tmp_path, hub.url, [("grand-pg", "lobby")])
    kiosk.tap(5)
    kiosk.ship()
    hub.cli("hub", "revoke", "lobby", "--site", "grand-pg")
    for _ in range(4):
        kiosk.tap(4)
    assert kiosk.shipper.drain().failed  # refused at once
    hub.stop()
    cli("store", "copy", str(kiosk.dir), str(hub.data_dir))
    assert_exactly_once(hub, [kiosk])


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # closed before any answer
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 91\r\n\r\n{"acc',
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]",  # JSON, but not an answer
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 21\r\n\r\n"
        b"<h1>Wi-Fi login</h1>\n",  # a captive portal
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
    ids=["closed", "cut-mid-body", "not-an-object", "captive-portal", "garbage"],
)
def test_a_reply_that_is_not_the_hubs_answer_moves_no_cursor(hub, tmp_path, reply):
    """Cut short, garbage, or a 200 from something else: the step fails, nothing is skipped."""
    import json
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_badly() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(reply)

    threading.Thread(target=answer_badly, daemon=True).start()
    kiosk = Kiosk(tmp_path, "grand-kl", "lobby")
    try:
        kiosk.join(hub.url, hub.enroll("grand-kl", "lobby"))
        kiosk.tap(1)
        membership = kiosk.dir / "hub.json"
        real = json.loads(membership.read_text())
        membership.write_text(json.dumps({**real, "hub": f"http://127.0.0.1:{port}"}))
        assert kiosk.shipper is not None
        result = kiosk.shipper.drain()
        assert result.failed and result.sent == 0 and kiosk.shipper.cursor is None
        assert kiosk.shipper.status.connected is False and kiosk.shipper.status.waiting == 1
        membership.write_text(json.dumps(real))  # the real hub again
        assert kiosk.ship() == 1 and hub_ids(hub) == list(kiosk.ids())
    finally:
        server.close()
        kiosk.close()
