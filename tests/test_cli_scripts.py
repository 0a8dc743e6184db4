"""The command line for scripts: --json everywhere data or a verdict is printed, one
reading of --since/--until, times on the site's clock, and shell completion.

The JSON shapes are the ones documented in docs/operations.md and docs/rules.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.cli.options import When
from servicecycle.cli.render import site_time

from .conftest import run_cli

ISTANBUL = ZoneInfo("Europe/Istanbul")
HOTEL_TESTS = "plugins/hotel/rules_test.toml"


@pytest.fixture
def site(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[site]\nid = "hotel-a"\ntimezone = "Europe/Istanbul"\n')
    return {"SERVICECYCLE_CONFIG": str(config), "SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}


def ok(site, *args: str, code: int = 0) -> str:
    done = run_cli(*args, env=site)
    assert done.returncode == code, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def as_json(site, *args: str, code: int = 0):
    return json.loads(ok(site, *args, "--json", code=code))


def record(site, *args: str) -> dict:
    return as_json(
        site, "record", "--cycle", "health-emergency", "--moment", "emergency-wait", *args
    )


# -- --json ---------------------------------------------------------------------------------


def test_store_commands_in_json(site, tmp_path):
    record(site, "--score", "4")
    stats = as_json(site, "store", "stats")
    assert stats["schema"] == 3 and stats["data_dir"] == site["SERVICECYCLE_DATA_DIR"]
    [ratings] = [t for t in stats["tables"] if t["name"] == "ratings"]
    assert ratings["records"] == 1 and ratings["files"] == 1 and ratings["bytes"] > 0
    assert ratings["oldest"] == ratings["newest"] and ratings["oldest"].endswith("Z")
    checked = as_json(site, "store", "check")
    assert checked["ok"] is True and checked["damage"] == [] and checked["records"] >= 1
    assert set(checked) == {
        "data_dir",
        "ok",
        "files",
        "records",
        "damaged_files",
        "damage",
        "strangers",
    }
    assert as_json(site, "store", "repair") == {
        "files": 0,
        "kept": 0,
        "damaged_bytes": 0,
        "set_aside": [],
    }
    assert set(as_json(site, "store", "compact")) == {
        "merged_months",
        "rewritten",
        "files_before",
        "files_after",
        "summaries_written",
    }
    backup = as_json(site, "store", "backup", str(tmp_path / "copy"))
    assert backup["files"] >= 1 and backup["target"] == str(tmp_path / "copy")
    # damage: exit 1, and each place in the list
    [part] = (tmp_path / "data" / "tables" / "ratings").glob("*.log")
    part.write_bytes(part.read_bytes().replace(b'"score":4', b'"score":5'))
    damaged = as_json(site, "store", "check", code=1)
    assert damaged["ok"] is False and damaged["damaged_files"] == 1
    [place] = damaged["damage"]
    assert place["kind"] == "damaged" and place["line"] == 1 and place["path"] == str(part)


def test_rules_check_and_test_in_json(site, tmp_path):
    good = as_json(site, "rules", "check", "plugins/hotel/rules.toml")
    assert good["ok"] is True and "hotel.bill-dispute" in good["rules"] and good["problems"] == []
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nid = "x.y"\nkind = "single"\nwindow = "soon"\n')
    refused = as_json(site, "rules", "check", str(bad), code=1)
    assert refused["ok"] is False and refused["files"] == [str(bad)]
    [problem] = refused["problems"]
    assert problem["source"] == str(bad) and problem["rule"] == "x.y" and problem["text"]
    tested = as_json(site, "rules", "test", HOTEL_TESTS)
    assert tested["failed"] == 0 and tested["passed"] == len(tested["tests"]) > 0
    assert set(tested["tests"][0]) == {"file", "name", "passed", "failures"}


def test_alerts_run_once_says_what_changed(site):
    assert ok(site, "alerts", "run", "--once").strip() == "no alert changed"
    assert as_json(site, "alerts", "run", "--once") == []
    record(site, "--score", "1")
    [change] = as_json(site, "alerts", "run", "--once")
    assert change["rule"] == "health.admission-furious" and change["state"] == "firing"
    assert change["previous"] is None and change["at"] and change["id"]
    assert ok(site, "alerts", "run", "--once").strip() == "no alert changed"
    loop = run_cli("alerts", "run", "--json", env=site)
    assert loop.returncode == 2 and "--json needs --once" in loop.stderr


def test_alerts_ack_and_silences_in_json(site):
    record(site, "--score", "1")
    ok(site, "alerts", "run", "--once")
    [alert] = as_json(site, "alerts", "list")
    acked = as_json(site, "alerts", "ack", alert["id"], "--by", "Aida", "--note", "on it")
    assert acked["acknowledged_by"] == "Aida" and acked["note"] == "on it"
    assert acked["fingerprint"] == alert["fingerprint"]
    added = as_json(
        site, "alerts", "silence", "add", "alertname=x", "--by", "Ali", "--comment", "drill"
    )
    assert added["matchers"] == ['alertname="x"'] and added["active"] is True
    assert [s["id"] for s in as_json(site, "alerts", "silence", "list")] == [added["id"]]
    expired = as_json(site, "alerts", "silence", "expire", added["id"])
    assert expired["id"] == added["id"] and expired["active"] is False
    assert as_json(site, "alerts", "silence", "list") == []
    assert [s["id"] for s in as_json(site, "alerts", "silence", "list", "--all")] == [added["id"]]


def test_plugins_plugin_check_cycles_and_record_in_json(site):
    plugins = as_json(site, "plugins")
    assert {p["name"] for p in plugins["plugins"]} == {"hotel", "health", "banking"}
    checked = as_json(site, "plugin", "check", "hotel")
    assert [(c["plugin"], c["ok"]) for c in checked] == [("hotel", True)]
    assert as_json(site, "cycles", "hotel")[0]["id"] == "hotel-guest"
    assert record(site, "--score", "3")["score"] == 3


# -- times on the site's clock --------------------------------------------------------------


def test_times_are_shown_on_the_site_clock_with_the_zone_named(site):
    record(site, "--score", "1")
    ok(site, "alerts", "run", "--once")
    [alert] = as_json(site, "alerts", "list")
    since = datetime.fromisoformat(alert["since"])
    assert f"since {site_time(since, ISTANBUL)}" in ok(site, "alerts")
    added = ok(site, "alerts", "silence", "add", "alertname=x", "--by", "A", "--comment", "c")
    assert added.rstrip().endswith("Europe/Istanbul")
    assert "Europe/Istanbul" in ok(site, "alerts", "silence", "list")
    assert "times in Europe/Istanbul" in ok(site, "store", "stats")
    assert "Europe/Istanbul" in ok(site, "rules", "replay", "--since", "1d")


def test_site_time_names_the_zone():
    at = datetime(2026, 11, 22, 7, 5, tzinfo=UTC)
    assert site_time(at, ISTANBUL) == "2026-11-22 10:05 Europe/Istanbul"
    assert site_time(at, ISTANBUL, named=False, seconds=True) == "2026-11-22 10:05:00"


# -- --since / --until ----------------------------------------------------------------------

FORMS = ["2026-11-01", "2026-11-01T08:00", "2026-11-01 08:00:30", "2026-11-01T08:00+03:00"]
FORMS += ["2026-11-01T05:00Z", "7d", "36h", "1h30m"]


@pytest.mark.parametrize("form", FORMS)
def test_every_command_takes_the_same_forms(site, form):
    for command in (["export"], ["report", "--format", "json"], ["rules", "replay"]):
        done = run_cli(*command, "--since", form, env=site)
        assert done.returncode == 0, (command, form, done.stderr)
    assert run_cli("export", "--until", form, env=site).returncode == 0


@pytest.mark.parametrize("command", [["export"], ["report"], ["rules", "replay"]])
def test_a_bad_time_is_a_usage_error_naming_option_value_and_forms(site, command):
    done = run_cli(*command, "--since", "last tuesday", env=site)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    message = " ".join(done.stderr.split())
    assert "Invalid value for '--since': 'last tuesday'" in message
    for form in ("2026-11-01", "2026-11-01T08:00", "7d", "36h"):
        assert form in message


def test_what_the_forms_mean(site):
    # 08:30 in Istanbul is 05:30 UTC
    record(site, "--score", "4", "--at", "2026-11-01T05:30:00Z")

    def exported(*args: str) -> int:
        return len(ok(site, "export", "--format", "jsonl", *args).splitlines())

    assert exported("--since", "2026-11-01T08:00") == 1  # a zoneless time is site time
    assert exported("--since", "2026-11-01T09:00") == 0
    assert exported("--since", "2026-11-01T08:00Z") == 0  # ... unless it has a zone
    assert exported("--until", "2026-11-01") == 1  # a date as --until: that whole day
    assert exported("--until", "2026-11-01T08:30") == 0  # a time: exclusive
    assert exported("--since", "2026-11-02") == 0
    far = run_cli("export", "--since", "400d", env=site)
    assert far.returncode == 2 and "at most 366d" in far.stderr


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40), end=st.booleans())
def test_any_text_is_a_time_or_a_clear_usage_error(text, end):
    when = When(end=end, zone=ISTANBUL)
    try:
        at = when.convert(text, None, None)
    except click.BadParameter as exc:
        assert "is neither a date" in exc.message or "at most" in exc.message
    else:
        assert isinstance(at, datetime) and at.tzinfo is not None
        at.astimezone(UTC)  # a time that can be compared with stored ones


@settings(max_examples=200, deadline=None)
@given(
    at=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2990, 1, 1), timezones=st.none()
    ),
    style=st.sampled_from(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%MZ"]),
)
def test_written_times_read_back(at, style):
    text = at.strftime(style)
    read = When(zone=ISTANBUL).convert(text, None, None)
    zone = UTC if text.endswith("Z") else ISTANBUL
    assert read.astimezone(zone).replace(tzinfo=None) == datetime.strptime(
        text.removesuffix("Z"), style.removesuffix("Z")
    )


def test_a_time_ago_is_counted_from_now():
    read = When(zone=ISTANBUL).convert("36h", None, None)
    assert abs(datetime.now(UTC) - timedelta(hours=36) - read) < timedelta(seconds=5)


# -- shell completion -----------------------------------------------------------------------


def test_the_bash_completion_script_is_produced():
    script = run_cli(env={"_SERVICECYCLE_COMPLETE": "bash_source"})
    assert script.returncode == 0, script.stderr
    assert "_servicecycle_completion" in script.stdout and "complete -o" in script.stdout
    words = run_cli(
        env={
            "_SERVICECYCLE_COMPLETE": "bash_complete",
            "COMP_WORDS": "servicecycle st",
            "COMP_CWORD": "1",
        }
    )
    assert "store" in words.stdout
