"""`record` and the Python API refuse what cannot be true, naming the field and what is allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicecycle.cli.main import WholeNumber
from servicecycle.core import RatingError

from .conftest import run_cli

RATING = {
    "site": "kl",
    "kiosk": "k1",
    "cycle": "hotel-guest",
    "moment": "check-in-wait",
    "language": "en",
}


@given(st.text(max_size=12))
def test_a_score_is_ascii_digits_or_refused(text):
    try:
        value = WholeNumber().convert(text, None, None)
    except click.BadParameter as exc:
        assert "whole number" in str(exc) or "too large" in str(exc)
        return
    stripped = text.strip().removeprefix("-")
    assert stripped.isascii() and stripped.isdigit()
    assert value == int(text.strip())


@pytest.mark.parametrize("score", ["٣", "३", "３", "𝟑", "3.0", "1e3", "", "three", "²"])
def test_record_refuses_a_score_in_other_digits(tmp_path, score):
    result = run_cli("record", "--score", score, env={"SERVICECYCLE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "Invalid value for '--score'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "tables").exists()  # nothing was stored


@pytest.mark.parametrize("score", ["3", True, 3.0, "٣"])
def test_the_python_api_takes_only_an_int_score(catalogue, score):
    with pytest.raises(RatingError, match="rating field 'score'"):
        catalogue.new_rating(**RATING, score=score)


def test_a_complaint_cannot_go_with_the_top_score_nor_praise_with_the_lowest(catalogue):
    moment = catalogue.cycles["hotel-guest"].find_moment("check-in-wait")[1]
    bad, good = moment.reasons[0], moment.praise[0]
    with pytest.raises(RatingError, match="cannot go with the top score 5/5"):
        catalogue.new_rating(**RATING, score=5, reasons=[bad])
    with pytest.raises(RatingError, match="praise cannot go with the lowest score 1/5"):
        catalogue.new_rating(**RATING, score=1, reasons=[good])
    for score in (2, 3, 4):  # in between, both are possible
        catalogue.new_rating(**RATING, score=score, reasons=[bad, good])
    assert catalogue.new_rating(**RATING, score=5, reasons=[good]).reasons == (good,)
    assert catalogue.new_rating(**RATING, score=1, reasons=[bad]).reasons == (bad,)


def test_one_text_is_not_a_list_of_reasons(catalogue):
    with pytest.raises(RatingError, match="a list of reason ids"):
        catalogue.new_rating(**RATING, score=2, reasons="lost-time")


def test_a_time_far_in_the_future_or_before_2000_is_refused(catalogue):
    now = datetime.now(UTC)
    catalogue.new_rating(**RATING, score=2, at=now + timedelta(minutes=4))  # clocks differ
    with pytest.raises(RatingError, match="in the future"):
        catalogue.new_rating(**RATING, score=2, at=now + timedelta(hours=3))
    with pytest.raises(RatingError, match="from the year 2000"):
        catalogue.new_rating(**RATING, score=2, at=datetime(1969, 12, 31, tzinfo=UTC))
    with pytest.raises(RatingError, match="a datetime"):
        catalogue.new_rating(**RATING, score=2, at="2026-11-01T08:00:00Z")


def test_record_refuses_a_future_time_and_a_contradiction(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path)}
    future = run_cli("record", "--score", "2", "--at", "2062-01-01T10:00:00Z", env=env)
    assert future.returncode == 2 and "Invalid value for '--at'" in future.stderr
    assert "in the future" in future.stderr
    both = run_cli(
        "record", "--cycle", "hotel-guest", "--moment", "check-in-wait", "--score", "5",
        "--reason", "lost-time", env=env,
    )  # fmt: skip
    assert both.returncode == 2 and "cannot go with the top score" in both.stderr
    assert "Traceback" not in future.stderr + both.stderr
    assert run_cli("export", env=env).stdout.count("\n") <= 1  # nothing but the header
