"""Filters that name nothing are refused with the known values; typed options are blamed
as options. A value that exists but has no rating in the period is an empty result."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import click
import pytest
from click.testing import CliRunner

from servicecycle.cli.main import cli
from servicecycle.cli.options import blamed, choices, refuse_unknown
from servicecycle.core import Catalogue, PluginHost, RatingError, Runtime, Store

from .conftest import BUILTIN, run_cli
from .test_report_support import rating

LAST_YEAR = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Ratings of two sites, last year and today; a third site only has a suspect press."""
    folder = tmp_path_factory.mktemp("filters") / "data"
    catalogue = Catalogue.from_plugins(PluginHost.discover(only=BUILTIN))
    now = datetime.now(UTC).replace(microsecond=0)
    with Store(folder) as store:
        store.ratings.add_many(
            [
                rating(catalogue, LAST_YEAR, 2, site="old-branch", kiosk="k-old", language="tr"),
                rating(catalogue, now - timedelta(hours=1), 4),
                rating(catalogue, now - timedelta(hours=1), 5, site="hotel-b", kiosk="lobby-2"),
                rating(catalogue, now - timedelta(hours=1), 1, site="shady", suspect=True),
            ]
        )
    return folder


def invoke(data, *args: str):
    """The real root command in this process, over the data folder."""
    host = PluginHost.discover(only=BUILTIN)
    return CliRunner().invoke(cli, ["--data-dir", str(data), *args], obj=host)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["export", "--site", "nowhere"],
            "Invalid value for '--site': 'nowhere' is not this site's id nor the site of any "
            "stored rating; known sites: demo-site, hotel-a, hotel-b, old-branch, shady",
        ),
        (
            ["export", "--kiosk", "lobby-9"],
            "Invalid value for '--kiosk': 'lobby-9' is not this kiosk's id nor the kiosk of any "
            "stored rating; known kiosks: k-old, kiosk-1, lobby-1, lobby-2",
        ),
        (["export", "--cycle", "spa-visit"], "known cycles: banking-branch, health-emergency,"),
        (
            ["export", "--cycle", "hotel-guest", "--moment", "nap"],
            "Invalid value for '--moment': 'nap' is not a moment of 'hotel-guest'; its moments:",
        ),
        (["report", "--site", "nowhere"], "Invalid value for '--site': 'nowhere'"),
        (["report", "--kiosk", "lobby-9"], "Invalid value for '--kiosk': 'lobby-9'"),
        (
            ["report", "--lang", "xx"],
            "Invalid value for '--lang': 'xx' is not a language of any cycle nor of any stored "
            "rating; known languages: en, ms, ru, tr",
        ),
        (["report", "--cycle", "spa"], "Invalid value for '--cycle': no industry or cycle named"),
        (["cycles", "spa"], "Invalid value for 'INDUSTRY': no industry or cycle named 'spa'"),
    ],
)
def test_a_filter_that_names_nothing_is_refused_with_the_known_values(data, args, message):
    result = invoke(data, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output and "configuration" not in result.stderr
    assert result.stdout == ""  # nothing half written


@pytest.mark.parametrize(
    "args",
    [
        ["--site", "old-branch"],  # has ratings, none in the period
        ["--site", "demo-site"],  # this site's own id: no rating yet
        ["--kiosk", "k-old"],
        ["--site", "hotel-a", "--kiosk", "lobby-2"],  # both exist, never together
    ],
)
def test_a_known_value_without_ratings_in_the_period_is_an_empty_report(data, args):
    result = invoke(data, "report", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cycles"] == []
    assert "no ratings in this period" in result.stderr
    terminal = invoke(data, "report", *args)
    assert terminal.exit_code == 0 and "No ratings in this period." in terminal.stdout


def test_a_catalogue_language_without_ratings_is_known(data):
    result = invoke(data, "report", "--lang", "ms")
    assert result.exit_code == 0, result.output
    assert "No ratings in this period." in result.stdout


def test_export_of_a_known_value_in_another_period_is_empty_not_an_error(data):
    since = (LAST_YEAR + timedelta(days=1)).isoformat()
    result = invoke(data, "export", "--site", "old-branch", "--since", since)
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.stdout))) == []
    assert "no ratings in this period match the filters" in result.stderr
    suspect = invoke(data, "export", "--site", "shady", "--no-suspect")
    assert suspect.exit_code == 0 and suspect.stdout.count("\n") == 1  # the header only


def test_a_filter_that_matches_exports_its_ratings(data):
    result = invoke(data, "export", "--site", "hotel-b", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["kiosk"] for line in result.stdout.splitlines()] == ["lobby-2"]


def test_a_stored_cycle_no_plugin_provides_is_still_known(data):
    """With only the banking plugin loaded, the hotel ratings in the store are still there."""
    host = PluginHost.discover(only={"banking"})
    since = datetime.now(UTC) + timedelta(days=1)
    args = [
        "--data-dir",
        str(data),
        "export",
        "--cycle",
        "hotel-guest",
        "--since",
        since.isoformat(),
    ]
    result = CliRunner().invoke(cli, args, obj=host)
    assert result.exit_code == 0, result.output
    refused = CliRunner().invoke(
        cli, ["--data-dir", str(data), "export", "--cycle", "spa-visit"], obj=host
    )
    assert refused.exit_code == 2
    assert "known cycles: banking-branch, hotel-guest" in refused.stderr


def test_values_the_catalogue_and_the_config_know_never_open_the_store(tmp_path, host):
    runtime = Runtime.open(data_dir=tmp_path / "absent", plugins=host)
    try:
        refuse_unknown(
            runtime,
            {
                "--site": ("site", "demo-site"),
                "--lang": ("language", "tr"),
                "--cycle": ("cycle", "banking-branch"),
                "--moment": ("moment", "wait-time"),
            },
        )
    finally:
        runtime.close()
    assert not (tmp_path / "absent").exists()


def test_long_lists_of_known_values_are_cut(tmp_path):
    assert choices(f"site-{n:02d}" for n in range(25)) == (
        ", ".join(f"site-{n:02d}" for n in range(20)) + " and 5 more"
    )
    assert choices([]) == "(none)"
    assert choices(["a\x1bb"]) == "a\\x1bb"


def test_the_real_command_blames_the_option(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    done = run_cli("report", "--format", "csv", "--site", "nowhere", env=env)
    assert done.returncode == 2
    assert "Error: Invalid value for '--site': 'nowhere'" in done.stderr
    assert "known sites: demo-site" in done.stderr and "Traceback" not in done.stderr


def test_blamed_turns_a_rating_error_about_a_typed_field_into_that_option_s(runtime):
    """What `record` needs: a bad --score or --lang is the option's fault."""
    catalogue = runtime.catalogue

    def new(**fields):
        values = {"site": "s", "kiosk": "k", "cycle": "hotel-guest", "moment": "check-out-wait"}
        return catalogue.new_rating(**{**values, "score": 3, "language": "en", **fields})

    with (
        pytest.raises(click.BadParameter) as bad,
        blamed({"score": "--score", "language": "--lang"}),
    ):
        new(score=9)
    assert bad.value.format_message() == (
        "Invalid value for '--score': 9 is not allowed; a whole number from 1 to 5"
    )
    with pytest.raises(click.BadParameter) as bad, blamed({"language": "--lang"}):
        new(language="xx")
    assert bad.value.format_message().startswith("Invalid value for '--lang': 'xx' is not allowed")
    with pytest.raises(RatingError, match="rating field 'site'"), blamed({"score": "--score"}):
        new(site="bad site")  # not typed: core's own words
