"""End to end in a real headless browser: kiosk tap → QR link → survey page → stored → alert.

Runs Debian's chromium (``.ci/install-browser`` installs it) through Playwright,
with JavaScript turned off as on the most locked-down phone, against the real
uvicorn server on a free loopback port and a real data folder. A missing
browser fails this test: the survey page is not tested without it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from servicecycle.core import KioskSession, PluginHost, Runtime, SurveyTokens
from servicecycle.core.answers import find_answer
from servicecycle.core.rules import Alerting
from servicecycle.survey import make_server

from .conftest import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_fail
from .test_survey_support import BUILTIN, SURVEY_RULE, make_site


@pytest.fixture
def server(tmp_path):
    """The real survey server on a free loopback port, in a thread, over a real data folder."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = make_site(tmp_path, url=f"http://127.0.0.1:{port}/s/{{token}}", extra=SURVEY_RULE)
    served = Runtime.open(tmp_path / "site.toml", plugins=PluginHost.discover(only=BUILTIN))
    uvicorn_server = make_server(served, port=port, log_level="warning")
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        assert time.monotonic() < deadline, "the survey server did not start"
        time.sleep(0.02)
    yield site, f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(10)
    sock.close()
    served.close()
    site.close()


def test_a_customer_answers_on_a_phone_and_a_bad_stage_raises_an_alert(server, tmp_path):
    sync_playwright = sync_playwright_or_fail()
    site, base = server
    # The kiosk: a guest taps a face, the thank-you screen shows this link as a QR code.
    session = KioskSession(site, language="en")
    rating = session.tap(2).rating
    link = session.survey_link(rating)
    assert link.startswith(base + "/s/")
    token = link.rsplit("/", 1)[1]

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            java_script_enabled=False,  # the page must work without any script
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
            locale="en-GB",
        )
        try:
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

            response = page.goto(link)
            assert response.status == 200
            assert page.locator("html").get_attribute("lang") == "en"
            assert page.locator("h1").inner_text() == "How was your visit?"
            legends = page.locator("fieldset.stage legend").all_inner_texts()
            cycle = site.catalogue.cycle("hotel-guest")
            assert legends == [stage.name["en"] for stage in cycle.stages]
            # the stylesheet loaded under the CSP: radios are hidden behind the faces
            radio = page.locator("#s-stay-5")
            assert radio.evaluate("e => getComputedStyle(e).opacity") == "0"
            page.screenshot(path=str(tmp_path / "survey-form.png"), full_page=True)

            page.locator('label[for="s-check-in-1"]').click()  # the bad stage
            page.locator('label[for="s-stay-5"]').click()
            page.locator('label[for="s-check-out-4"]').click()
            page.locator('label[for="s-check-out-5"]').click()  # a change of mind
            page.fill("#comment", "The queue at the front desk took 40 minutes.")
            page.check("#consent")
            page.fill("#contact", "+60 12 345 6789")
            with page.expect_navigation():
                page.locator("button[type=submit]").click()
            assert page.url == f"{link}/thanks"
            assert page.locator("h1").inner_text() == "Thank you!"
            page.screenshot(path=str(tmp_path / "survey-thanks.png"))
            assert problems == []  # no failed resource, no CSP violation on the way

            # Stored on disk, as read by a fresh process would.
            reader = Runtime.open(tmp_path / "site.toml", plugins=PluginHost.discover(only=BUILTIN))
            answer = find_answer(reader.store, rating)
            assert {s.stage: s.score for s in answer.stages} == {
                "check-in": 1,
                "stay": 5,
                "check-out": 5,
            }
            assert answer.comment == "The queue at the front desk took 40 minutes."
            assert answer.contact == "+60 12 345 6789" and answer.contact_consent
            # The rule engine, following the store, raises the alert for the bad stage.
            alerting = Alerting(reader)
            alerting.start()
            fired = [a for a in alerting.book.current() if a.rule == "site.survey-bad-stage"]
            assert [dict(a.key) for a in fired] == [{"site": "lobby", "stage": "check-in"}]
            alerting.close()
            reader.close()

            # A second visit, and every kind of broken link, get a clear page and status.
            tokens = SurveyTokens.for_data_dir(site.data_dir)
            tampered = token[:-2] + ("AB" if token[-2:] != "AB" else "CD")
            unknown = tokens.issue("0" * 12 + "7" + "1" * 19)
            expired = tokens.issue(rating.id, ttl=60, now=0)
            for url, status, title in [
                (link, 409, "Already answered"),
                (f"{base}/s/{tampered}", 403, "This link is not valid"),
                (f"{base}/s/{expired}", 410, "This link has expired"),
                (f"{base}/s/garbage", 400, "This link is not valid"),
                (f"{base}/s/{unknown}", 404, "Survey not found"),
                (f"{base}/elsewhere", 404, "Page not found"),
            ]:
                response = page.goto(url)
                assert response.status == status, url
                assert page.locator("h1").inner_text() == title
                assert "Traceback" not in page.content()
            assert not [p for p in problems if "Content Security Policy" in p], problems
        finally:
            context.close()


def test_the_browser_installer_is_idempotent_and_says_what_it_does():
    script = Path(__file__).resolve().parent.parent / ".ci" / "install-browser"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "apt-get install" in text and "/usr/bin/chromium" in text
    assert shutil.which("bash")
