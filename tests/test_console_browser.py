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


def test_a_manager_reads_the_report_downloads_it_prints_it_and_closes_a_follow_up(
    console, tmp_path
):
    """Keyboard and phone width; the report page, its three files and its PDF."""
    from io import BytesIO

    from pypdf import PdfReader

    from servicecycle.core import RatingFilter, Runtime, record_answer

    env, base = console
    (tmp_path / "pw2").write_text(PASSWORD + "\n")
    cli(env, "hub", "user", "add", "mert", "--role", "manager", "--site", "hotel-a",
        "--password-file", str(tmp_path / "pw2"))  # fmt: skip
    bad_moment(env, "waiting-room")
    runtime = Runtime.open(env["SERVICECYCLE_CONFIG"], data_dir=env["SERVICECYCLE_DATA_DIR"])
    try:
        [rating] = list(runtime.site_store.ratings.query(RatingFilter()))
        record_answer(runtime, rating, {}, "Nobody told us how long", "+90 555 0000",
                      contact_consent=True)  # fmt: skip
    finally:
        runtime.close()
    sync_playwright = sync_playwright_or_fail()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
        page = context.new_page()
        page.goto(base + "/console/login")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
        page.keyboard.type("mert")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/console/")
        # To the report card by keyboard: tab until the link has focus, then Enter.
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "Report card":
                break
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/report")
        assert page.locator("h1").first.inner_text().startswith("Report card")
        assert "Wait to be seen" in page.locator(".report").inner_text()
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
            " > 391 && !e.closest('.table-wrap')).map(e => e.tagName + '.' + e.className)"
        )
        assert wide == [] and page.evaluate("document.documentElement.scrollWidth") <= 390
        # The language, chosen with the keyboard: the same report in Turkish.
        page.get_by_label("Language").select_option("tr")
        page.get_by_role("button", name="Show").press("Enter")
        page.wait_for_url("**lang=tr**")
        assert page.locator("h1").first.inner_text().startswith("Karne")
        assert "Muayene bekleme süresi" in page.locator(".report").inner_text()
        # Downloads: the three files, named for the site and period.
        for fmt in ("csv", "json", "html"):
            with page.expect_download() as info:
                page.get_by_role("link", name=fmt.upper(), exact=False).first.click()
            download = info.value
            path = tmp_path / download.suggested_filename
            download.save_as(path)
            assert download.suggested_filename.startswith("report-hotel-a-")
            assert path.suffix == f".{fmt}"
            body = path.read_text(encoding="utf-8")
            if fmt == "json":
                assert json.loads(body)["cycles"][0]["report_card"]
            elif fmt == "csv":
                assert body.startswith("section,cycle,stage,moment")
            else:
                assert "<script" not in body and "Karne" in body
        # Printing the page: no blank first page, A4 and Letter.
        for paper in ("A4", "Letter"):
            pdf = PdfReader(BytesIO(page.pdf(format=paper, print_background=True)))
            first = pdf.pages[0].extract_text()
            assert "Karne" in first and "Hizmet haritası" in first, paper
            assert all(len((p.extract_text() or "").strip()) > 40 for p in pdf.pages), paper
        # The follow-up: taken, then closed, with who and when.
        page.goto(base + "/console/followups")
        item = page.locator("article.followup").first
        assert "Nobody told us how long" in item.inner_text()
        assert "+90 555 0000" in item.inner_text()
        item.get_by_role("button", name="Take it").press("Enter")
        page.wait_for_url("**/console/followups?done=*")
        assert "taken by mert" in page.locator("article.followup").first.inner_text()
        page.locator("article.followup").first.get_by_role("button", name="Close it").click()
        page.wait_for_url("**/console/followups?done=*")
        assert "closed by mert" in page.locator("article.followup").first.inner_text()
        # The guest asks to be forgotten: their words and number are erased, for good.
        item = page.locator("article.followup").first
        item.get_by_label("the guest asked to erase their words and contact").check()
        with page.expect_navigation():
            item.get_by_role("button", name="Erase comment and contact").click()
        assert "erased" in page.locator(".notice").inner_text()
        assert "Nobody told us how long" not in page.content() and "+90 555" not in page.content()
        browser.close()


def test_a_kiosks_moment_changed_in_the_console_is_asked_by_the_running_kiosk(tmp_path):
    """The hub's console, a kiosk joined to it and running (its session and shipper)."""
    from servicecycle.core import KioskSession, Runtime
    from tests.fleet import HubProcess, Kiosk, hub_config

    config = hub_config(tmp_path / "hub.toml", sites={"grand-kl": ["lobby"]})
    hub = HubProcess(config, tmp_path / "hub").start()
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    hub.cli("hub", "user", "add", "lina", "--role", "manager", "--site", "grand-kl",
            "--password-file", str(tmp_path / "pw"))  # fmt: skip
    joined = Kiosk(tmp_path, "grand-kl", "lobby")
    joined.join(hub.url, hub.enroll("grand-kl", "lobby"))
    joined.close()
    runtime = Runtime.open(joined.config, data_dir=joined.dir)
    session = KioskSession(runtime)
    try:
        assert session.moment.id == "check-in-wait"
        shipper = session.start_shipping(heartbeat=1.0)
        assert shipper is not None
        sync_playwright = sync_playwright_or_fail()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(hub.url + "/console/login")
            page.get_by_label("Name").fill("lina")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_label("Password").press("Enter")
            page.wait_for_url(hub.url + "/console/")
            page.goto(hub.url + "/console/kiosks")
            form = page.locator("#settings-grand-kl-lobby")
            form.wait_for(timeout=15000)
            form.get_by_label("Moment").select_option("hotel-guest/check-out-wait")
            form.get_by_label("Languages").fill("tr, en")
            with page.expect_navigation():
                form.get_by_role("button", name="Send to the kiosk").press("Enter")
            assert "settings v1 sent" in page.locator(".notice").inner_text()
            # The running kiosk hears it at its next contact and asks it between customers.
            deadline = time.monotonic() + 60
            while not session.settings_waiting:
                assert time.monotonic() < deadline, "the kiosk never heard the new settings"
                time.sleep(0.2)
            assert session.apply_waiting_settings() is True
            assert session.moment.id == "check-out-wait" and session.languages == ["tr", "en"]
            deadline = time.monotonic() + 30
            while True:
                page.reload()
                state = page.locator("#kiosk-grand-kl-lobby .settings-state").inner_text()
                if "applied" in state:
                    break
                assert time.monotonic() < deadline, state
                time.sleep(1)
            assert "check-out-wait" in page.locator("#kiosk-grand-kl-lobby").inner_text()
            browser.close()
    finally:
        session.stop_shipping()
        runtime.close()
        hub.stop()
