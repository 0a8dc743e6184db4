"""The console in a real headless browser, on one machine over its data folder.

`servicecycle console serve` runs as its own process; alerts are made by the
CLI (`record`, `alerts run --once`) as a kiosk would make them. The browser
signs in, sees a new alert appear without a reload, acknowledges it, and the
CLI shows who did. The page is also used at phone width and by keyboard only.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

from tests.fleet import CLI, free_port

from .conftest import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_fail

PASSWORD = "correct horse battery"


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture
def console(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[site]\nid = "hotel-a"\ntimezone = "Europe/Istanbul"\n')
    env = {"SERVICECYCLE_CONFIG": str(config), "SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    cli(
        env,
        "hub",
        "user",
        "add",
        "aida",
        "--role",
        "staff",
        "--site",
        "hotel-a",
        "--password-file",
        str(tmp_path / "pw"),
    )
    port = free_port()
    log = (tmp_path / "console.log").open("w")
    process = subprocess.Popen(
        [CLI, "console", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(base + "/console/login", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "console.log"
            ).read_text()
            time.sleep(0.2)
    yield env, base
    process.terminate()
    process.wait(10)


def bad_moment(env: dict[str, str], kiosk: str) -> None:
    """A 1 for the emergency wait at ``kiosk``: health.admission-furious fires for it."""
    cli(
        env,
        "record",
        "--cycle",
        "health-emergency",
        "--moment",
        "emergency-wait",
        "--score",
        "1",
        "--kiosk",
        kiosk,
    )
    cli(env, "alerts", "run", "--once")


def test_sign_in_see_an_alert_arrive_and_acknowledge_it(console):
    env, base = console
    sync_playwright = sync_playwright_or_fail()
    bad_moment(env, "waiting-room")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.goto(base + "/")
        assert page.url.endswith("/console/login")
        # Keyboard only: the name field has focus; tab to the password, enter signs in.
        page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
        page.keyboard.type("aida")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/console/")
        assert page.locator("article.alert").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        # A new alert appears without a reload (the page's own script fetches the list).
        before = page.evaluate("performance.getEntriesByType('navigation').length")
        bad_moment(env, "triage")
        page.locator("article.alert").nth(1).wait_for(timeout=15000)
        assert page.evaluate("performance.getEntriesByType('navigation').length") == before
        first = page.locator("article.alert").first
        alert_id = first.get_attribute("id").removeprefix("alert-")
        first.get_by_label("Comment").fill("calling the triage nurse")
        first.get_by_role("button", name="Acknowledge").click()
        page.wait_for_url("**/console/?done=*")
        assert "acknowledged" in page.locator(".notice").inner_text()
        assert "Acknowledged by aida" in page.locator(f"#alert-{alert_id}").inner_text()
        browser.close()
    listed = json.loads(cli(env, "alerts", "list", "--json"))
    assert [a["acknowledged_by"] for a in listed if a["id"] == alert_id] == ["aida"]
