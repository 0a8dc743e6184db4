"""`servicecycle report` as a user runs it: terminal, HTML, JSON and CSV, options and errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from servicecycle.cli.main import State
from servicecycle.cli.report import report
from servicecycle.core import Catalogue, PluginHost, Store

from .test_report_support import rating

BUILTIN = {"hotel", "health", "banking"}
#: Runs the CLI with `report` attached, whether or not main.py wires it in yet.
LAUNCH = (
    "import sys; from servicecycle.cli.main import cli, main; "
    "from servicecycle.cli.report import report; "
    "'report' in cli.commands or cli.add_command(report); main(sys.argv[1:])"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A data folder with this month's and last month's ratings, and its config."""
    folder = tmp_path_factory.mktemp("site")
    config = folder / "site.toml"
    config.write_text(
        '[site]\nid = "hotel-a"\nname = "Hotel Alpha"\ntimezone = "Europe/Istanbul"\n'
    )
    catalogue = Catalogue.from_plugins(PluginHost.discover(only=BUILTIN))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    today = min(now.replace(hour=9, minute=0), now - timedelta(minutes=5))  # never ahead
    ratings = []
    for day in range(45):
        at = today - timedelta(days=day)
        for i in range(4):
            ratings.append(rating(catalogue, at + timedelta(minutes=i), 1 + (day + i) % 5))
        ratings.append(rating(catalogue, at, 2, moment="bill-accuracy", reasons=["bill-error"]))
        ratings.append(rating(catalogue, at, 4, language="tr", kiosk="lobby-2"))
    with Store(folder / "data") as store:
        store.ratings.add_many(ratings)
    return config


def invoke(site, *args):
    state = State(site, site.parent / "data", PluginHost.discover(only=BUILTIN))
    try:
        return CliRunner().invoke(report, list(args), obj=state, catch_exceptions=False)
    finally:
        state.close()


def test_terminal_report_draws_the_service_map_and_card(site):
    result = invoke(site)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Report card — Hotel Alpha" in out and "(Europe/Istanbul)" in out
    assert "Hotel guest cycle" in out and "Service map" in out
    assert out.index("Reservation") < out.index("Check-in") < out.index("Check-out")
    assert "★ check-out-wait" in out and "★ critical stage" in out
    assert "Where promise and perception differ most" in out
    assert "lifecycle:" in out and "Reasons customers gave" in out
    assert "bill-error" in out


def test_json_and_filters(site):
    result = invoke(site, "--format", "json", "--lang", "tr", "--since", "2026-01-01")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "servicecycle-report" and data["filters"]["language"] == "tr"
    (hotel,) = data["cycles"]
    assert hotel["count"] == hotel["by_language"][0]["count"] and hotel["too_few"] is False
    assert {k["key"] for k in hotel["by_kiosk"]} == {"lobby-2"}
    assert hotel["series"]["every"] == "week"
    default = json.loads(invoke(site, "--format", "json").stdout)
    assert default["period"]["days"] == 30 and default["time_zone"] == "Europe/Istanbul"
    assert default["cycles"][0]["vs_previous"]["previous"]["count"] > 0


def test_csv_has_one_row_per_figure(site):
    result = invoke(site, "--format", "csv", "--cycle", "hotel", "--every", "week")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    sections = {row["section"] for row in rows}
    assert {"cycle", "stage", "moment", "site", "kiosk", "language", "week", "month"} <= sections
    wait = next(r for r in rows if r["moment"] == "check-out-wait")
    assert float(wait["mean_low"]) < float(wait["mean"]) < float(wait["mean_high"])
    assert wait["critical"] == "true"


def test_html_to_a_file(site, tmp_path):
    target = tmp_path / "out" / "card.html"
    result = invoke(site, "--format", "html", "-o", str(target), "--include-suspect")
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "suspect presses included" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page and "https://" not in page
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind


def test_terminal_report_to_a_file_has_no_colour_codes(site, tmp_path):
    target = tmp_path / "card.txt"
    assert invoke(site, "-o", str(target)).exit_code == 0
    text = target.read_text(encoding="utf-8")
    assert "Service map" in text and "\x1b[" not in text


def test_mistakes_are_messages_not_tracebacks(site):
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, "--config", str(site), "report", "--cycle", "spa"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no industry or cycle named 'spa'" in done.stderr
    assert "Invalid value for '--cycle'" in done.stderr
    assert "Traceback" not in done.stderr
    bad = invoke(site, "--since", "someday")
    assert bad.exit_code != 0
