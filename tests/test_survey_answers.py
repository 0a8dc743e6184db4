"""Core's survey answers: validation, one answer per rating, derived ratings, URL templates."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta

import pytest

from servicecycle.core import (
    FLAGS,
    AlertState,
    ConfigError,
    PluginHost,
    RatingFilter,
    Runtime,
    SurveySettings,
    complete_answers,
    load_config,
    survey_url,
)
from servicecycle.core.answers import (
    MAX_COMMENT,
    MAX_CONTACT,
    SURVEY_KIOSK,
    AlreadyAnswered,
    AnswerError,
    answers,
    find_answer,
    record_answer,
    survey_moment,
)
from servicecycle.core.rules import Alerting

from .test_survey_support import (
    BUILTIN,
    SURVEY_RULE,
    crash_while_answering,
    kiosk_rating,
    make_site,
)


@pytest.fixture
def site(tmp_path):
    runtime = make_site(tmp_path, extra=SURVEY_RULE)
    yield runtime
    runtime.close()


def test_an_answer_is_stored_once_linked_to_its_kiosk_rating(site):
    rating, _ = kiosk_rating(site, language="tr")
    answer = record_answer(
        site,
        rating,
        {"check-in": 1, "stay": 5},
        "  Bekleme çok uzundu.\r\nOda güzeldi.  ",
        "+90 555 000 00 00",
        contact_consent=True,
    )
    assert answer.id == rating.id
    stored = find_answer(site.store, rating)
    assert stored == answer
    assert [(s.stage, s.score) for s in stored.stages] == [("check-in", 1), ("stay", 5)]
    assert stored.comment == "Bekleme çok uzundu.\nOda güzeldi."
    assert stored.contact == "+90 555 000 00 00" and stored.contact_consent
    assert (stored.language, stored.cycle, stored.kiosk) == ("tr", "hotel-guest", "kiosk-1")
    record = site.store.table("answers").get(key=rating.id)
    assert record["rating_at"] <= record["at"]
    assert list(answers(site.store)) == [answer]


def test_each_answered_stage_becomes_a_survey_rating_on_its_first_critical_moment(site):
    rating, _ = kiosk_rating(site, language="ru")
    answer = record_answer(site, rating, {"reservation": 2, "check-out": 1}, "", None)
    derived = {r.id: r for r in site.store.ratings.query(RatingFilter(kiosk=SURVEY_KIOSK))}
    assert set(derived) == {s.rating for s in answer.stages}
    by_stage = {r.stage: r for r in derived.values()}
    # reservation has no critical moment: its first moment; check-out: its first critical one
    assert by_stage["reservation"].moment == "booking-contact"
    assert by_stage["check-out"].moment == "bill-accuracy"
    for r in derived.values():
        assert (r.site, r.cycle, r.language, r.scale) == ("lobby", "hotel-guest", "ru", 5)
        assert r.flags == ("survey",)
    cycle = site.catalogue.cycle("hotel-guest")
    assert survey_moment(cycle.stages[2]).id == "front-desk-welcome"


def _test_rating(site, score, language="en"):
    """A kiosk rating flagged ``test`` (a staff member trying the kiosk)."""
    return site.recorder.record(
        site="lobby",
        kiosk="kiosk-1",
        cycle="hotel-guest",
        moment="check-in-wait",
        score=score,
        language=language,
        flags=("test",),
    )


def test_a_test_rating_s_survey_stays_a_test(site):
    rating = _test_rating(site, 3)
    answer = record_answer(site, rating, {"stay": 4})
    derived = site.store.ratings.get(answer.stages[0].rating)
    assert derived.flags == ("survey", "test")


def test_a_second_answer_is_refused(site):
    rating, _ = kiosk_rating(site)
    record_answer(site, rating, {"stay": 4})
    with pytest.raises(AlreadyAnswered):
        record_answer(site, rating, {"stay": 1})
    assert len(site.store.table("answers")) == 1
    assert site.store.ratings.count(RatingFilter(kiosk=SURVEY_KIOSK)) == 1


@pytest.mark.parametrize(
    ("scores", "comment", "contact", "consent", "field"),
    [
        ({"no-such-stage": 3}, "", None, False, "stages.no-such-stage"),
        ({"stay": 0}, "", None, False, "stages.stay"),
        ({"stay": 6}, "", None, False, "stages.stay"),
        ({"stay": True}, "", None, False, "stages.stay"),
        ({"stay": "3"}, "", None, False, "stages.stay"),
        ({}, "", None, False, "stages"),
        ({}, "   ", None, False, "stages"),
        ({"stay": 3}, "x" * (MAX_COMMENT + 1), None, False, "comment"),
        ({"stay": 3}, "bell\x07", None, False, "comment"),
        ({"stay": 3}, "", "y" * (MAX_CONTACT + 1), True, "contact"),
        ({"stay": 3}, "", "me@example.org", False, "contact"),
    ],
)
def test_bad_answers_are_refused_with_the_field_named(
    site, scores, comment, contact, consent, field
):
    rating, _ = kiosk_rating(site)
    with pytest.raises(AnswerError) as caught:
        record_answer(site, rating, scores, comment, contact, contact_consent=consent)
    assert caught.value.field == field
    assert len(site.store.table("answers")) == 0
    assert site.store.ratings.count(RatingFilter(kiosk=SURVEY_KIOSK)) == 0


def test_limits_count_characters_after_normalising_line_endings(site):
    rating, _ = kiosk_rating(site)
    comment = ("ab\r\n" * 700)[: MAX_COMMENT + 200]  # CRLF pairs count once
    answer = record_answer(site, rating, {}, comment.replace("\r\n", "\n")[:MAX_COMMENT])
    assert len(answer.comment) <= MAX_COMMENT


def test_consent_without_contact_stores_no_contact(site):
    rating, _ = kiosk_rating(site)
    answer = record_answer(site, rating, {"stay": 5}, "", "", contact_consent=True)
    assert answer.contact is None and answer.contact_consent is False


def test_a_comment_alone_is_an_answer(site):
    rating, _ = kiosk_rating(site)
    answer = record_answer(site, rating, {}, "Lovely staff")
    assert answer.stages == () and answer.comment == "Lovely staff"


def test_four_point_kiosk_scale_bounds_the_survey_scores(tmp_path):
    runtime = make_site(tmp_path, kiosk="scale = 4")
    try:
        rating, _ = kiosk_rating(runtime)
        assert rating.scale == 4
        with pytest.raises(AnswerError):
            record_answer(runtime, rating, {"stay": 5})
        answer = record_answer(runtime, rating, {"stay": 4})
        assert runtime.store.ratings.get(answer.stages[0].rating).scale == 4
    finally:
        runtime.close()


def test_concurrent_answers_in_threads_store_exactly_one(site):
    rating, _ = kiosk_rating(site)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def submit(score: int) -> None:
        barrier.wait()
        try:
            record_answer(site, rating, {"stay": score})
            outcomes.append("stored")
        except AlreadyAnswered:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit, args=(n % 5 + 1,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["refused"] * 5 + ["stored"]
    assert len(site.store.table("answers")) == 1
    assert site.store.ratings.count(RatingFilter(kiosk=SURVEY_KIOSK)) == 1


def _answer_in_process(config: str, rating_id: str, start, results) -> None:
    runtime = Runtime.open(config, plugins=PluginHost.discover(only=BUILTIN))
    rating = runtime.store.ratings.get(rating_id)
    start.wait()
    try:
        record_answer(runtime, rating, {"stay": 2})
        results.put("stored")
    except AlreadyAnswered:
        results.put("refused")
    finally:
        runtime.close()


def test_concurrent_answers_in_processes_store_exactly_one(site, tmp_path):
    rating, _ = kiosk_rating(site)
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_answer_in_process, args=(str(tmp_path / "site.toml"), rating.id, start, results)
        )
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(30)
    assert sorted(results.get(timeout=5) for _ in workers) == ["refused", "refused", "stored"]
    assert len(site.store.table("answers")) == 1


def test_a_bad_survey_stage_fires_a_rule_scoped_on_the_survey_kiosk(site):
    alerting = Alerting(site)
    alerting.start()
    rating, _ = kiosk_rating(site, score=4)
    alerting.poll()
    assert not [a for a in alerting.book.current() if a.rule == "site.survey-bad-stage"]
    record_answer(site, rating, {"stay": 5, "check-out": 1})
    alerting.poll()
    fired = [a for a in alerting.book.current() if a.rule == "site.survey-bad-stage"]
    assert len(fired) == 1
    assert fired[0].state is AlertState.FIRING
    assert dict(fired[0].key) == {"site": "lobby", "stage": "check-out"}
    assert fired[0].summary == "A survey rated check-out 1"


def test_survey_is_a_known_rating_flag():
    assert "survey" in FLAGS


# -- where the QR code points -------------------------------------------------------


def test_url_templates_fill_every_placeholder_url_quoted(site):
    rating, _ = kiosk_rating(site, language="ms", score=2)
    settings = SurveySettings(
        url="https://lime.example/index.php/123?lang={language}&sc={token}&r={rating}"
        "&m={moment}&s={score}&c={cycle}"
    )
    url = survey_url(site.plugins, settings, rating, "a/b+c")
    assert url == (
        f"https://lime.example/index.php/123?lang=ms&sc=a%2Fb%2Bc&r={rating.id}"
        f"&m={rating.moment}&s=2&c=hotel-guest"
    )


def test_the_default_url_template_is_unchanged(site):
    rating, url = kiosk_rating(site)
    assert url.startswith("http://127.0.0.1:8765/s/")
    assert (
        survey_url(site.plugins, SurveySettings(), rating, "tok") == "http://127.0.0.1:8765/s/tok"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://x/survey?m={moment}", "must contain {token}"),
        ("https://x/s/{token}?t={tokn}", "unknown placeholder(s) {tokn}"),
        ("ftp://x/{token}", "must start with http"),
    ],
)
def test_bad_url_templates_are_refused(tmp_path, url, message):
    path = tmp_path / "site.toml"
    path.write_text(f'[survey]\nurl = "{url}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)


def test_a_rating_id_alone_is_enough_for_an_external_tool(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[survey]\nurl = "https://x/s?r={rating}"\ntoken_ttl = "2d"\n')
    config = load_config(path)
    assert config.survey.token_ttl == timedelta(days=2)


def test_survey_ratings_stay_out_of_kiosk_rules_unless_a_rule_asks(tmp_path):
    """No phantom 'silent kiosk' named survey, no desk alarm hours after the visit."""
    from datetime import UTC, datetime

    runtime = make_site(tmp_path, extra=SURVEY_RULE)
    try:
        alerting = Alerting(runtime)
        alerting.start()
        rating, _ = kiosk_rating(runtime, score=4)
        record_answer(runtime, rating, {"stay": 5, "check-out": 1})
        alerting.poll()
        current = {a.rule for a in alerting.book.current()}
        assert "site.survey-bad-stage" in current  # it asked for survey ratings
        assert "hotel.bill-dispute" not in current  # the survey's 1 is not a tap at the desk
        # A day later (at least 16 open hours, whatever the time of day now): silent.
        alerting.poll(datetime.now(UTC) + timedelta(hours=24))
        silent = {dict(a.key)["kiosk"] for a in alerting.book.current() if "silent" in a.rule}
        assert silent == {"kiosk-1"}
    finally:
        runtime.close()


def test_an_answer_interrupted_by_a_crash_is_completed_exactly_once(site, tmp_path):
    rating = _test_rating(site, 2, language="tr")
    crash_while_answering(tmp_path / "site.toml", rating.id)
    answer = find_answer(site.store, rating)
    assert answer is not None and len(answer.stages) == 3
    survey_ratings = lambda: {  # noqa: E731
        r.id: r for r in site.store.ratings.query(RatingFilter(kiosk=SURVEY_KIOSK))
    }
    assert len(survey_ratings()) == 1  # the crash left two stage ratings unrecorded
    since = datetime.now(UTC) - timedelta(days=7)
    assert complete_answers(site, since) == 2
    derived = survey_ratings()
    assert set(derived) == {s.rating for s in answer.stages}
    for stage in answer.stages:
        r = derived[stage.rating]
        assert (r.moment, r.score, r.at, r.language) == (
            stage.moment,
            stage.score,
            answer.at,
            "tr",
        )
        assert r.flags == ("survey", "test")
    assert complete_answers(site, since) == 0  # nothing twice
    assert len(survey_ratings()) == 3
