"""Retention of survey answers' personal data: ``[survey] keep_contact_days`` and ``answers prune``.

On a real data folder and a real PostgreSQL: answers older than the setting lose their
comment and contact and keep their scores, recent ones keep everything, running it
again changes nothing, an erasure made on request stands, and the CLI says what it
did (and that it did nothing when the setting is unset).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.core import (
    AnswerError,
    ConfigError,
    RatingFilter,
    answers,
    erase_answer,
    load_config,
    prune_answers,
)
from servicecycle.core.answers import RETENTION, SURVEY_KIOSK
from servicecycle.core.config import MAX_KEEP_DAYS

from .conftest import run_cli
from .pg import pg_server, pg_url  # noqa: F401
from .test_answers_erase import (
    COMMENT,
    CONTACT,
    ENGINES,
    answered,
    cli_env,
    open_runtime,
    traces,
)

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=ENGINES)
def site(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    runtime = open_runtime(tmp_path, url)
    yield runtime
    runtime.close()


def given_at(runtime, at, **fields):
    """An answer given at ``at`` exactly (its kiosk rating three minutes before)."""
    return answered(runtime, at - timedelta(minutes=3), **fields)


def by_id(runtime):
    return {a.id: a for a in answers(runtime.site_store)}


def test_old_answers_lose_their_text_and_recent_ones_keep_everything(site):
    old = given_at(site, NOW - timedelta(days=60))
    older_than_30 = given_at(site, NOW - timedelta(days=30, microseconds=1))
    at_the_edge = given_at(site, NOW - timedelta(days=30))
    recent = given_at(site, NOW - timedelta(days=1))
    derived = site.site_store.ratings.count(RatingFilter(kiosk=SURVEY_KIOSK))

    result = prune_answers(site.site_store, 30, now=NOW)

    assert (result.erased, result.already, result.without) == (2, 0, 0)
    assert result.before == NOW - timedelta(days=30) and result.keep_days == 30
    stored = by_id(site)
    for answer in (old, older_than_30):
        erased = stored[answer.id]
        assert (erased.comment, erased.contact, erased.contact_consent) == ("", None, False)
        assert erased.erased.by == RETENTION and "keep_contact_days" in erased.erased.reason
        assert erased.erased.fields == ("comment", "contact")
        assert erased.stages == answer.stages  # the scores stay
    for answer in (at_the_edge, recent):
        assert stored[answer.id] == answer  # nothing lost but what was meant
    assert site.site_store.ratings.count(RatingFilter(kiosk=SURVEY_KIOSK)) == derived


def test_pruning_again_changes_nothing(site):
    given_at(site, NOW - timedelta(days=40))
    given_at(site, NOW - timedelta(days=2))
    assert prune_answers(site.site_store, 30, now=NOW).erased == 1
    before = list(site.site_store.answers.records())
    again = prune_answers(site.site_store, 30, now=NOW + timedelta(hours=1))
    assert (again.erased, again.already, again.without) == (0, 1, 0)
    assert list(site.site_store.answers.records()) == before


def test_what_held_no_text_is_left_alone_and_only_what_held_some_is_named(site):
    plain = given_at(site, NOW - timedelta(days=50), comment=None, contact=None)
    comment_only = given_at(site, NOW - timedelta(days=50), comment="Güzel", contact=None)
    result = prune_answers(site.site_store, 30, now=NOW)
    assert (result.erased, result.without) == (1, 1)
    stored = by_id(site)
    assert stored[plain.id] == plain and stored[plain.id].erased is None
    assert stored[comment_only.id].erased.fields == ("comment",)


def test_an_erasure_on_request_stands(site):
    answer = given_at(site, NOW - timedelta(days=50))
    first = erase_answer(site.site_store, answer.id, "alice", "ticket 4711")
    result = prune_answers(site.site_store, 30, now=NOW)
    assert (result.erased, result.already) == (0, 1)
    assert by_id(site)[answer.id].erased == first.erasure


def test_long_work_goes_in_batches_and_reports_progress(tmp_path):
    runtime = open_runtime(tmp_path)
    try:
        old = [given_at(runtime, NOW - timedelta(days=40, minutes=i)) for i in range(7)]
        calls: list[tuple[int, int]] = []
        result = prune_answers(
            runtime.site_store, 30, now=NOW, progress=lambda d, t: calls.append((d, t)), batch=3
        )
        assert result.erased == 7
        assert calls[0] == (0, 7) and calls[-1] == (7, 7)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) == 4
        assert all(by_id(runtime)[a.id].erased is not None for a in old)
    finally:
        runtime.close()


@pytest.mark.parametrize("days", [0, -1, True, 1.5, "30", None])
def test_keep_days_must_be_whole_days_at_least_one(tmp_path, days):
    runtime = open_runtime(tmp_path)
    try:
        with pytest.raises(AnswerError, match="keep_contact_days"):
            prune_answers(runtime.site_store, days)  # type: ignore[arg-type]
    finally:
        runtime.close()


# -- the setting ------------------------------------------------------------------------


def test_unset_means_kept(tmp_path):
    assert load_config(None).survey.keep_contact_days is None
    path = tmp_path / "site.toml"
    path.write_text("[survey]\nkeep_contact_days = 90\n")
    assert load_config(path).survey.keep_contact_days == 90


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(min_value=1 - 2**63, max_value=2**63 - 1), st.booleans()))
def test_the_setting_is_whole_days_or_a_message_naming_key_value_and_range(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("conf") / "site.toml"
    literal = str(value).lower() if isinstance(value, bool) else str(value)
    path.write_text(f"[survey]\nkeep_contact_days = {literal}\n")
    valid = not isinstance(value, bool) and 1 <= value <= MAX_KEEP_DAYS
    if valid:
        assert load_config(path).survey.keep_contact_days == value
        return
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "survey.keep_contact_days" in message
    assert f"from 1 to {MAX_KEEP_DAYS}" in message and "leave the key out" in message


@pytest.mark.parametrize("literal", ['"90"', "90.0", "[90]", '"90d"'])
def test_other_kinds_of_value_are_refused_too(tmp_path, literal):
    path = tmp_path / "site.toml"
    path.write_text(f"[survey]\nkeep_contact_days = {literal}\n")
    with pytest.raises(ConfigError, match=r"survey\.keep_contact_days .*from 1 to 36500"):
        load_config(path)


# -- the CLI ----------------------------------------------------------------------------


def test_cli_prune_without_the_setting_erases_nothing_and_says_so(tmp_path):
    runtime = open_runtime(tmp_path)
    answer = given_at(runtime, NOW - timedelta(days=400))
    runtime.close()
    done = run_cli(*cli_env(tmp_path), "answers", "prune")
    assert done.returncode == 0, done.stderr
    assert "keep_contact_days is not set" in done.stderr and "nothing was erased" in done.stderr
    as_json = json.loads(run_cli(*cli_env(tmp_path), "answers", "prune", "--json").stdout)
    assert as_json["keep_days"] is None and as_json["erased"] == 0
    runtime = open_runtime(tmp_path)
    try:
        assert by_id(runtime)[answer.id] == answer
    finally:
        runtime.close()


def test_cli_prune_with_compact_leaves_only_the_recent_text_in_the_files(tmp_path):
    runtime = open_runtime(tmp_path, extra="[survey]\nkeep_contact_days = 30\n")
    given_at(runtime, NOW - timedelta(days=400))  # a closed month
    given_at(runtime, NOW - timedelta(days=45))
    recent = given_at(runtime, NOW - timedelta(days=3), comment="Recent 5c1d", contact="r@x.org")
    runtime.close()
    done = run_cli(*cli_env(tmp_path), "answers", "prune", "--compact")
    assert done.returncode == 0, done.stderr
    assert "keep_contact_days = 30" in done.stdout and "erased the comment and contact of 2" in (
        done.stdout
    )
    assert "the text is gone from the data folder" in done.stdout
    assert traces(tmp_path / "data") == []
    assert traces(tmp_path / "data", ("Recent 5c1d", "r@x.org")), "the recent answer is kept"
    again = json.loads(run_cli(*cli_env(tmp_path), "answers", "prune", "--json").stdout)
    assert (again["erased"], again["already"], again["keep_days"]) == (0, 2, 30)
    runtime = open_runtime(tmp_path)
    try:
        assert by_id(runtime)[recent.id] == recent
    finally:
        runtime.close()


def test_cli_prune_on_postgresql(tmp_path, pg_url):  # noqa: F811
    runtime = open_runtime(tmp_path, pg_url, extra="[survey]\nkeep_contact_days = 7\n")
    old = given_at(runtime, NOW - timedelta(days=8))
    runtime.close()
    done = run_cli(*cli_env(tmp_path, pg_url), "answers", "prune", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["erased"], data["keep_days"], data["compacted"]) == (1, 7, False)
    runtime = open_runtime(tmp_path, pg_url)
    try:
        stored = by_id(runtime)[old.id]
        assert stored.erased.by == RETENTION and COMMENT not in repr(stored)
        assert CONTACT not in repr(stored)
    finally:
        runtime.close()
