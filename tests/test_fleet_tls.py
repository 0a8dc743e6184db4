"""The hub over HTTPS (uvicorn with a certificate), and its per-kiosk rate limit."""

from __future__ import annotations

import http.client
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import trustme

from servicecycle.core import ServiceCycleError
from servicecycle.core.fleet import Shipper

from .fleet import CLI, Kiosk, free_port, hub_config


def hub_certificate(folder) -> tuple[str, str, str]:
    """A test CA (trustme) and the hub's certificate for 127.0.0.1: (CA, cert, key) files."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    paths = folder / "ca.pem", folder / "hub.pem", folder / "hub.key"
    ca.cert_pem.write_to_path(str(paths[0]))
    issued.cert_chain_pems[0].write_to_path(str(paths[1]))
    issued.private_key_pem.write_to_path(str(paths[2]))
    return str(paths[0]), str(paths[1]), str(paths[2])


def test_a_kiosk_joins_and_ships_over_https_and_refuses_an_unknown_certificate(
    tmp_path, monkeypatch
):
    authority, cert, key = hub_certificate(tmp_path)
    config = hub_config(tmp_path / "hub.toml", sites={"grand-kl": ["lobby"]})
    port = free_port()
    base = [CLI, "--config", str(config), "--data-dir", str(tmp_path / "hub")]
    hub = subprocess.Popen(
        [*base, "hub", "serve", "--port", str(port), "--certfile", cert, "--keyfile", key],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        code = subprocess.run(
            [*base, "hub", "enroll", "--site", "grand-kl", "--kiosk", "lobby"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        kiosk = Kiosk(tmp_path, "grand-kl", "lobby")
        deadline = time.monotonic() + 20
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        while True:  # an unknown certificate is refused, naming TLS
            try:
                kiosk.join(url, code)
                raise AssertionError("joined a hub whose certificate nobody vouched for")
            except ServiceCycleError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc) or time.monotonic() > deadline:
                    assert "CERTIFICATE_VERIFY_FAILED" in str(exc), exc
                    break
                time.sleep(0.2)  # not listening yet
        monkeypatch.setenv("SSL_CERT_FILE", authority)  # the kiosk trusts the hub's CA
        kiosk.join(url, code)
        kiosk.tap(3)
        assert kiosk.ship() == 1
        with pytest.raises(
            (urllib.error.URLError, http.client.HTTPException, ConnectionError)
        ):  # no plain HTTP
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
        kiosk.close()
    finally:
        hub.terminate()
        hub.wait(10)


def test_a_kiosk_over_its_rate_is_told_to_wait_and_backs_off(tmp_path):
    from .fleet import HubProcess

    config = hub_config(tmp_path / "hub.toml", sites={"grand-kl": ["lobby"]}, extra="")
    text = config.read_text().replace('chain = "grand"', 'chain = "grand"\nrate_limit = 6')
    config.write_text(text)
    hub = HubProcess(config, tmp_path / "hub").start()
    try:
        kiosk = Kiosk(tmp_path, "grand-kl", "lobby")
        kiosk.join(hub.url, hub.enroll("grand-kl", "lobby"))
        shipper: Shipper = kiosk.shipper
        shipper.heartbeat = 0  # every step sends
        outcomes = [shipper.step().failed for _ in range(12)]
        assert outcomes[:10] == [False] * 10 and outcomes[-1] is True  # a burst of 10, then 429
        assert "(429)" in shipper.status.last_error
        assert shipper._retry_after is not None and shipper._retry_after >= 1
        assert shipper.step_delay() >= shipper._retry_after  # never sooner than Retry-After
        kiosk.close()
    finally:
        hub.stop()
