"""The HTML report in a real headless browser: it renders offline, charts and all, error-free.

Uses Debian's chromium (``.ci/install-browser``) through Playwright; Playwright's
own browser download is never used. The screenshot goes to pytest's tmp_path,
never into the repository.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from
from servicecycle.core.reports.html import render_html

from .conftest import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_fail
from .test_report_support import ISTANBUL, random_history, store_with, utc


@pytest.fixture(scope="module")
def page_file(catalogue, tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    ratings = random_history(catalogue, random.Random(3), utc(2026, 5, 1), days=200, per_day=12)
    with store_with(folder / "data", ratings) as store:
        store.table("answers").insert(
            {
                "id": ratings[-1].id,
                "at": (ratings[-1].at + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "cycle": "hotel-guest",
                "site": "hotel-a",
                "scale": 5,
                "stages": [{"stage": "check-out", "score": 2}],
                "comment": "<script>alert('x')</script>",  # must arrive as text, not code
            }
        )
        request = ReportRequest(period_from("2026-10-24", "2026-11-22", ISTANBUL), Scope())
        report = build_report(store, catalogue, request, site_name="Hotel <Alpha> & Co")
    path = folder / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def test_page_is_self_contained(page_file):
    page = page_file.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and '<link rel="stylesheet"' not in page
    assert "Hotel &lt;Alpha&gt; &amp; Co" in page
    for marker in ("src=", "url(", "@import", "https:"):
        assert marker not in page, marker


def test_page_renders_in_chromium(page_file, tmp_path):
    sync_playwright = sync_playwright_or_fail()
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            assert page.title().startswith("Report card · Hotel <Alpha> & Co")
            assert page.locator("section.cycle").count() == 2  # hotel and banking
            charts = page.locator("section.cycle svg.chart")
            assert charts.count() == 2 * 5  # map, gaps, trend, reasons, months per cycle
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 30
            assert page.locator("svg g.stage").count() == 6 + 7  # every stage of both cycles
            assert page.locator("svg polyline.line").count() >= 2  # trend lines drawn
            assert page.locator("svg rect.month").count() >= 6
            assert page.get_by_text("Service map").first.is_visible()
            assert page.locator("#survey").is_visible()
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert shot.stat().st_size > 20_000
