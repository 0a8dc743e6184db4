"""The report card as HTML, in a real headless browser: offline, named, in print.

The same templates make the offline file and the console's page
(``servicecycle.reportcard``). Uses Debian's chromium (``.ci/install-browser``)
through Playwright; Playwright's own browser download is never used. Printing
goes through Chromium's own PDF output, read back with pypdf.
"""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from pypdf import PdfReader

from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from
from servicecycle.reportcard import Words, languages, render_document

from .conftest import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_fail
from .test_report_support import ISTANBUL, random_history, store_with, utc

#: Text boxes in one chart that overlap by more than a pixel each way, and any table
#: or chart wider than the page (cut off on paper).
LAYOUT_PROBLEMS = """() => {
  const found = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const boxes = [...svg.querySelectorAll('text')]
      .map(t => [t.textContent, t.getBoundingClientRect()]).filter(([, b]) => b.width > 0);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [ta, a] = boxes[i], [tb, b] = boxes[j];
      const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (x > 1 && y > 1) found.push(`${svg.getAttribute('aria-label')}: "${ta}" on "${tb}"`);
    }
  }
  const width = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('table, svg.chart, .kpis')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1) found.push(`${el.tagName} ${el.className.baseVal ?? el.className} ends at ${box.right} > ${width}`);
  }
  return found;
}"""


@pytest.fixture(scope="module")
def report_of(catalogue, tmp_path_factory):
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
        reports = {}
        for lang in languages():
            request = ReportRequest(
                period_from("2026-10-24", "2026-11-22", ISTANBUL), Scope(), language=lang
            )
            reports[lang] = build_report(store, catalogue, request, site_name="Hotel <Alpha> & Co")

    def write(lang: str) -> object:
        path = folder / f"report-{lang}.html"
        path.write_text(render_document(reports[lang], lang), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="module")
def browser():
    sync_playwright = sync_playwright_or_fail()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_the_file_is_self_contained_and_escapes_what_it_is_given(report_of):
    page = report_of("en").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and '<link rel="stylesheet"' not in page
    assert "Hotel &lt;Alpha&gt; &amp; Co" in page
    for marker in ("src=", "url(", "@import", "https:"):
        assert marker not in page, marker


def test_moments_stages_and_reasons_are_named_in_the_language_asked_for(report_of):
    english = report_of("en").read_text(encoding="utf-8")
    assert "Check-in wait" in english and "I waited too long" in english
    assert ">check-in-wait<" not in english and "lost-time (" not in english
    for lang in set(languages()) - {"en"}:
        page = report_of(lang).read_text(encoding="utf-8")
        words = Words(lang)
        assert words.language == lang
        assert words("service_map") in page and words("heat_map") in page
        assert "Check-in wait" not in page and "I waited too long" not in page, lang


def test_the_page_renders_in_chromium_with_every_chart(report_of, browser, tmp_path):
    problems: list[str] = []
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report_of("en").as_uri(), wait_until="load")
    assert page.title().startswith("Report card · Hotel <Alpha> & Co")
    assert page.locator("section.cycle").count() == 2  # hotel and banking
    for kind in ("service-map", "gaps", "trend", "heat", "reasons", "months"):
        charts = page.locator(f"section.cycle svg.chart.{kind}")
        assert charts.count() == 2, kind
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 30, kind
    assert page.locator("svg g.stage").count() == 6 + 7  # every stage of both cycles
    assert page.locator("svg.chart.trend polyline.line").count() >= 2  # one index line each
    assert page.locator("svg.chart.multiple").count() >= 2  # small multiples, not one tangle
    assert page.locator("svg.chart.heat rect.hour").count() >= 20
    assert page.locator("table.card svg.faces").count() >= 2
    assert page.locator("#survey").is_visible()
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert problems == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert shot.stat().st_size > 20_000


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_it_prints_on_a4_and_letter_with_no_blank_page_and_no_overlapping_label(
    report_of, browser, paper, lang
):
    assert lang in languages()
    # printable width: A4 210 mm, Letter 8.5 in, less the 12 mm margins, at 96 px/in
    width = round(((210 if paper == "A4" else 215.9) - 24) / 25.4 * 96)
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto(report_of(lang).as_uri(), wait_until="load")
    page.emulate_media(media="print")
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    pdf = PdfReader(io.BytesIO(page.pdf(format=paper, print_background=True)))
    page.close()
    texts = [p.extract_text() or "" for p in pdf.pages]
    assert len(texts) >= 3
    words = Words(lang)
    assert words("report_card") in texts[0] and "Hotel <Alpha> & Co" in texts[0]
    assert words("service_map") in texts[0]  # the first page is the report, not a gap
    blank = [n for n, text in enumerate(texts, 1) if len(text.strip()) < 40]
    assert blank == [], f"blank page(s) {blank} of {len(texts)}"
    box = pdf.pages[0].mediabox
    expected = (595.3, 841.9) if paper == "A4" else (612, 792)  # points
    assert abs(float(box.width) - expected[0]) < 2 and abs(float(box.height) - expected[1]) < 2
