"""The customer's path, driven with Pilot on a real data folder and checked on disk."""

from __future__ import annotations

import logging

from servicecycle.core import SurveyTokens
from servicecycle.kiosk.screens import AttractScreen, ReasonsScreen, ThanksScreen
from servicecycle.kiosk.strings import strings
from servicecycle.kiosk.widgets.faces import Face
from servicecycle.kiosk.widgets.qr import QRCode

from .test_kiosk_support import (
    FIXED_LINK,
    FakeClock,
    data_dir,
    decode,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    on_screen,
    rasterise,
    ready,
    screen_text,
    stored,
    wait_for,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]  # fixtures used here

SIZE = (80, 24)


@kiosk_test
async def test_attract_screen_shows_question_site_and_five_faces(make_app):
    app = make_app('[site]\nname = "Grand Hotel KL"\n')
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        text = screen_text(app)
        assert "How were you welcomed by our driver on arrival?" in text
        assert "Grand Hotel KL" in text
        faces = list(screen.query(Face))
        assert [f.score for f in faces] == [1, 2, 3, 4, 5]
        assert [f.mood for f in faces] == ["very_bad", "bad", "neutral", "good", "very_good"]
        for digit in "12345":
            assert digit in text
        assert "Very bad" in text and "Very good" in text


@kiosk_test
async def test_four_point_scale_has_no_neutral_face_and_ignores_key_5(make_app, data_dir):
    app = make_app("[kiosk]\nscale = 4\n")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        assert [f.mood for f in screen.query(Face)] == ["very_bad", "bad", "good", "very_good"]
        await pilot.press("5")
        await pilot.pause(0.1)
        assert isinstance(app.screen, AttractScreen)
        assert stored(data_dir) == []
        await pilot.press("4")
        await on_screen(pilot, ReasonsScreen)  # praise on a 4-point scale
    [rating] = stored(data_dir)
    assert (rating.score, rating.scale) == (4, 4)


@kiosk_test
async def test_low_rating_by_key_then_a_reason_by_key(make_app, data_dir):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("1")
        reasons = await on_screen(pilot, ReasonsScreen)
        # The tap is on disk before the reason screen is up.
        [first] = stored(data_dir)
        assert first.score == 1 and first.reasons == ()
        assert reasons.tap.follow_up == "reasons"
        assert "What went wrong?" in screen_text(app)
        assert 1 <= len(reasons.reason_ids) <= 6
        await pilot.press("2")
        thanks = await on_screen(pilot, ThanksScreen)
        assert thanks.rating.id == first.id
    [rating] = stored(data_dir)
    assert rating.id == first.id
    assert rating.reasons == (reasons.reason_ids[1],)
    assert rating.moment == "pickup-welcome" and rating.site == "demo-site"


@kiosk_test
async def test_low_rating_by_tap_then_a_reason_by_tap(make_app, data_dir):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.click(".mood-bad")
        reasons = await on_screen(pilot, ReasonsScreen)
        await pilot.click(".reason")  # the first reason
        await on_screen(pilot, ThanksScreen)
    [rating] = stored(data_dir)
    assert rating.score == 2
    assert rating.reasons == (reasons.reason_ids[0],)


@kiosk_test
async def test_skip_keeps_the_rating_without_reasons(make_app, data_dir):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("1")
        await on_screen(pilot, ReasonsScreen)
        await pilot.click("#skip")
        await on_screen(pilot, ThanksScreen)
    [rating] = stored(data_dir)
    assert (rating.score, rating.reasons) == (1, ())


@kiosk_test
async def test_high_rating_asks_what_went_well(make_app, data_dir):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.click(".mood-very-good")
        praise = await on_screen(pilot, ReasonsScreen)
        assert praise.tap.follow_up == "praise"
        assert "What went well?" in screen_text(app)
        await pilot.press("1")
        await on_screen(pilot, ThanksScreen)
    [rating] = stored(data_dir)
    assert rating.score == 5 and rating.reasons == (praise.reason_ids[0],)


@kiosk_test
async def test_middle_rating_goes_straight_to_thanks(make_app, data_dir):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
        assert "Thank you!" in screen_text(app)
    assert [r.score for r in stored(data_dir)] == [3]


@kiosk_test
async def test_thank_you_qr_code_decodes_to_this_ratings_signed_link(make_app, data_dir):
    """No injected link here: the real signed URL, read back from a picture of the screen."""
    app = make_app(link=None)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        thanks = await on_screen(pilot, ThanksScreen)
        qr = app.screen.query_one(QRCode)
        assert str(qr.styles.background) == "Color(255, 255, 255)"
        assert str(qr.styles.color) == "Color(0, 0, 0)"
        [url] = decode(rasterise(app))
    assert url == thanks.link
    assert url.startswith("http://127.0.0.1:8765/s/")
    token = url.rsplit("/", 1)[1]
    [rating] = stored(data_dir)
    assert SurveyTokens.for_data_dir(data_dir).verify(token).rating_id == rating.id


@kiosk_test
async def test_qr_code_stays_dark_on_light_in_a_light_theme(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.theme = "textual-light"
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
        assert decode(rasterise(app)) == [FIXED_LINK]


@kiosk_test
async def test_qr_code_decodes_on_a_large_terminal(make_app):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
        assert decode(rasterise(app)) == [FIXED_LINK]


@kiosk_test
async def test_a_link_too_long_for_a_code_is_shown_as_text_and_logged(make_app, caplog):
    long_link = "https://feedback.grand-hotel.example/surveys/" + "abcdefghij" * 12 + "/K" * 24
    app = make_app(link=long_link)
    with caplog.at_level(logging.WARNING, logger="servicecycle.kiosk"):
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("3")
            thanks = await on_screen(pilot, ThanksScreen)
            assert not thanks.query(QRCode)
            url = str(thanks.query_one("#survey-url").render())
            assert url.replace("\n", "") == long_link
    assert any("does not fit a QR code" in r.getMessage() for r in caplog.records)


@kiosk_test
async def test_repeated_presses_are_stored_as_suspect_and_only_thanked(make_app, data_dir):
    clock = FakeClock()
    app = make_app("[kiosk]\nrepeat_gap = '30s'\n", clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        thanks = await on_screen(pilot, ThanksScreen)
        await pilot.press("1")  # a second press 0 s later, on the thank-you screen
        await wait_for(pilot, lambda: len(stored(data_dir)) == 2)
        await pilot.pause(0.1)
        assert app.screen is thanks  # no reason screen for a repeat
        await app.reset()
        await on_screen(pilot, AttractScreen)
        clock.advance(5)
        await pilot.press("1")  # still within the gap: suspect, no reasons asked
        await on_screen(pilot, ThanksScreen)
    ratings = stored(data_dir)
    assert [r.score for r in ratings] == [3, 1, 1]
    assert [r.suspect for r in ratings] == [False, True, True]


@kiosk_test
async def test_a_new_customer_on_the_thank_you_screen_is_a_new_rating(make_app, data_dir):
    clock = FakeClock()
    app = make_app(clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
        clock.advance(3)  # past the 2 s repeat gap, before the 10 s reset
        await pilot.press("1")
        await on_screen(pilot, ReasonsScreen)
    assert [(r.score, r.suspect) for r in stored(data_dir)] == [(3, False), (1, False)]


# -- languages ----------------------------------------------------------------------------

EXPECTED = {
    "en": ("How were you welcomed by our driver on arrival?", "Very bad", "What went wrong?"),
    "ms": ("Sangat teruk", "Apakah yang tidak kena?"),
    "ru": ("Очень плохо", "Что пошло не так?"),
    "tr": ("Çok kötü", "Ne ters gitti?"),
}


@kiosk_test
async def test_each_language_fills_every_screen_in_that_language_only(make_app, data_dir):
    clock = FakeClock()
    app = make_app(clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for language in ("ms", "ru", "tr"):
            clock.advance(60)  # a new customer each time, not a repeated press
            await pilot.click(f"#lang-{language}")
            attract = await on_screen(pilot, AttractScreen)
            await wait_for(pilot, lambda lang=language: app.screen.language == lang)
            text = screen_text(app)
            assert EXPECTED[language][0] in text
            question = app.session.moment.question[language]
            assert question in text
            others = [lang for lang in EXPECTED if lang != language]
            for other in others:
                assert strings()["attract.hint"][other].split(",")[0] not in text
            await pilot.press("1")
            reasons = await on_screen(pilot, ReasonsScreen)
            assert reasons.language == language
            assert EXPECTED[language][-1] in screen_text(app)
            for reason_id in reasons.reason_ids:
                label = app.session.cycle.available_reasons[reason_id].label[language]
                assert " ".join(label.split()[:2]) in screen_text(app)
            await pilot.press("0")
            thanks = await on_screen(pilot, ThanksScreen)
            assert thanks.language == language
            assert strings()["thanks.title"][language] in screen_text(app)
            await app.reset()
            await pilot.pause(0.05)
            assert attract.language == "en"  # the next customer starts in the first language
        assert "Very bad" in screen_text(app)  # back in English for the next customer
    assert [r.language for r in stored(data_dir)] == ["ms", "ru", "tr"]


@kiosk_test
async def test_starting_language_from_the_command_line(make_app):
    app = make_app(language="ru")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        assert screen.language == "ru"
        assert "Очень плохо" in screen_text(app)


@kiosk_test
async def test_a_language_with_missing_texts_falls_back_as_a_whole_screen(make_app, caplog):
    app = make_app('[kiosk]\nlanguages = ["en", "de"]\n')
    with caplog.at_level(logging.WARNING):
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.click("#lang-de")
            await wait_for(pilot, lambda: app.session.language == "de")
            screen = await on_screen(pilot, AttractScreen)
            await pilot.pause(0.05)
            assert app.screen.language == "en"
            assert "Very bad" in screen_text(app) and screen is app.screen
    assert any("no 'de' text" in r.getMessage() for r in caplog.records)


# -- auto-reset ---------------------------------------------------------------------------


@kiosk_test
async def test_thank_you_screen_resets_after_thanks_seconds_from_the_config(make_app):
    """Real time: the configured 2 s, on the real clock."""
    import time

    app = make_app("[kiosk]\nthanks_seconds = 2\n", clock=time.monotonic)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        thanks = await on_screen(pilot, ThanksScreen)
        await on_screen(pilot, AttractScreen, timeout=5)
        assert 2 <= time.monotonic() - thanks.shown_at < 3


@kiosk_test
async def test_reason_screen_resets_when_idle_and_keeps_the_rating(make_app, data_dir):
    clock = FakeClock()
    app = make_app("[kiosk]\nidle_seconds = 20\n", clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.click("#lang-tr")
        await pilot.press("1")
        await on_screen(pilot, ReasonsScreen)
        clock.advance(15)
        await pilot.pause(0.1)
        assert isinstance(app.screen, ReasonsScreen)
        await pilot.hover(".reason")  # moving the mouse is not a touch
        await pilot.press("9")  # any key is input: the idle time starts again
        clock.advance(15)
        await pilot.pause(0.1)
        assert isinstance(app.screen, ReasonsScreen)
        clock.advance(6)
        screen = await on_screen(pilot, AttractScreen)
        assert screen.language == "en"
    [rating] = stored(data_dir)
    assert (rating.score, rating.reasons, rating.language) == (1, (), "tr")


@kiosk_test
async def test_attract_screen_never_times_out(make_app):
    clock = FakeClock()
    app = make_app(clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        clock.advance(10_000)
        await pilot.pause(0.1)
        assert app.screen is screen


@kiosk_test
async def test_the_next_customer_gets_a_code_for_their_own_rating(make_app, data_dir):
    """The thank-you screen is reused between customers: its code must follow the rating."""
    clock = FakeClock()
    app = make_app(link=None, clock=clock)
    links = []
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for key in ("3", "1"):
            clock.advance(60)
            await pilot.press(key)
            if key == "1":
                await on_screen(pilot, ReasonsScreen)
                await pilot.press("0")
            thanks = await on_screen(pilot, ThanksScreen)
            await pilot.pause()
            [url] = decode(rasterise(app))
            assert url == thanks.link
            links.append(url)
            await app.reset()
            await pilot.pause(0.05)
    tokens = SurveyTokens.for_data_dir(data_dir)
    ids = [tokens.verify(link.rsplit("/", 1)[1]).rating_id for link in links]
    assert ids == [r.id for r in stored(data_dir)]
    assert links[0] != links[1]
