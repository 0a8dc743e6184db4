"""A chain's hub on PostgreSQL: ingest through a server restart, notifications once."""

from __future__ import annotations

import time

from tests.fleet import HubProcess, Kiosk, hub_config, hub_ids
from tests.test_alerting_support import http_receiver  # noqa: F401  (a fixture)

from .pg import PgServer, pg_server, pg_url  # noqa: F401


def firing(receiver) -> list[dict]:
    return [
        a
        for r in receiver.requests
        for a in r.body.get("alerts", [])
        if a.get("status") == "firing"
    ]


def test_postgresql_restarted_during_ingest_gives_503_then_ingest_resumes_without_repeats(
    tmp_path,
    pg_server: PgServer,  # noqa: F811
    pg_url: str,  # noqa: F811
    http_receiver,  # noqa: F811
):
    config = hub_config(
        tmp_path / "hub.toml",
        sites={"grand-kl": ["lobby", "checkout"]},
        hook=http_receiver.url,
        store=pg_url,
    )
    hub = HubProcess(config, tmp_path / "hub").start()
    kiosks = []
    try:
        for name in ("lobby", "checkout"):
            kiosk = Kiosk(tmp_path, "grand-kl", name)
            kiosk.join(hub.url, hub.enroll("grand-kl", name))
            kiosks.append(kiosk)
        lobby, checkout = kiosks
        lobby.tap(1, ago=20)
        checkout.tap(1, ago=10)
        lobby.tap(2)
        for kiosk in kiosks:
            kiosk.ship()
        deadline = time.monotonic() + 20
        while not firing(http_receiver) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(firing(http_receiver)) == 1
        pg_server.stop()
        try:
            for _ in range(10):
                lobby.tap(4)
            answered = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                result = lobby.shipper.step()
                if result.failed and "(503)" in lobby.shipper.status.last_error:
                    answered = lobby.shipper.status.last_error
                    break
            assert answered is not None and "store is unavailable" in answered
            assert lobby.shipper.status.waiting == 10  # kept on the kiosk meanwhile
        finally:
            pg_server.start()
        started = time.monotonic()
        while lobby.shipper.status.waiting and time.monotonic() - started < 30:
            lobby.shipper.step()
            time.sleep(0.2)
        assert lobby.shipper.status.waiting == 0
        assert time.monotonic() - started < 20, "ingest resumes within seconds"
        checkout.ship()
        time.sleep(3)  # the rules thread came back too: nothing is notified again
        assert len(firing(http_receiver)) == 1
        held = hub_ids(hub)
        assert len(held) == len(set(held)) == 13
    finally:
        hub.stop()
        for kiosk in kiosks:
            kiosk.close()
