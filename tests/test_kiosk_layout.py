"""The customer's screens at every size: large type that fits or falls back, never cut off;
the faces centred; below 80×24 a notice for staff instead, and no rating taken from it."""

from __future__ import annotations

import pytest

from servicecycle.core import Catalogue, KioskSession, PluginHost, Runtime, hookimpl
from servicecycle.kiosk import KioskApp
from servicecycle.kiosk.screens import AttractScreen, ThanksScreen, TooSmallScreen
from servicecycle.kiosk.widgets.big_text import BigText, big_type, covers, large_screen
from servicecycle.kiosk.widgets.faces import Face

from .test_kiosk_support import (
    BUILTIN,
    TEST_TERMINAL,
    FakeClock,
    data_dir,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    on_screen,
    ready,
    screen_text,
    stored,
    wait_for,
    write_config,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

LANGUAGES = ("en", "ms", "ru", "tr")
LARGE_SIZES = pytest.mark.parametrize(
    "size", [(120, 33), (120, 40), (160, 48)], ids=["120x33", "120x40", "160x48"]
)


# -- large type, on its own -----------------------------------------------------------------


def test_the_large_fonts_and_what_they_cover():
    assert covers("mono9", "Как вас встретил? Şoförümüz çok iyi, café")
    assert not covers("pagga", "Как")  # the small font has no Cyrillic
    assert not covers("pagga", "Şoför")  # nor Turkish letters
    assert covers("pagga", "How were you welcomed? Sambutan café")


def test_large_type_fits_its_box_and_never_splits_a_word():
    text = "How were you welcomed by our driver on arrival?"
    for width, height in [(110, 12), (150, 20), (60, 20), (40, 30)]:
        art = big_type(text, width, height)
        if art is None:
            continue
        rows = art.splitlines()
        assert len(rows) <= height and all(len(row) <= width for row in rows)
        assert len({len(row) for row in rows}) == 1  # one block: it centres as one
    assert big_type("Supercalifragilistic", 30, 40) is None  # one word wider than the box
    assert big_type(text, 110, 2) is None  # no font is that short


def test_cyrillic_that_does_not_fit_the_large_font_falls_back_to_text():
    question = "Как вас встретил наш водитель по прибытии?"
    assert big_type(question, 110, 12) is None  # only mono9 has Cyrillic, and it needs more
    assert big_type(question, 150, 20) is not None


def test_large_type_only_on_a_large_terminal():
    assert large_screen((120, 33)) and large_screen((120, 40)) and large_screen((200, 60))
    assert not large_screen((119, 40)) and not large_screen((160, 31))


# -- the question on screen, in every language -----------------------------------------------


def question_shown_whole(app, question: BigText) -> None:
    """Large type within its box, or every word of the text on screen."""
    region = question.content_region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    shown = [line[region.x : region.right] for line in lines]
    if question.big:
        art = str(question.visual).splitlines()
        assert len(art) <= region.height and max(map(len, art)) <= region.width
        assert [row.strip() for row in art if row.strip()] == [
            row.strip() for row in shown if row.strip()
        ], "the large type is not on screen as drawn"
    else:
        words = " ".join(row.strip() for row in shown).split()
        assert words == question.text.split(), "the question is cut off"


@LARGE_SIZES
@pytest.mark.parametrize("language", LANGUAGES)
@kiosk_test
async def test_the_longest_builtin_question_of_each_language_is_shown_whole(
    make_app, catalogue: Catalogue, language, size
):
    text, cycle, moment = max(
        (
            (m.question.get(language, ""), c.id, m.id)
            for c in catalogue.cycles.values()
            for stage in c.stages
            for m in stage.moments
        ),
        key=lambda found: len(found[0]),
    )
    app = make_app(f'[kiosk]\ncycle = "{cycle}"\nmoment = "{moment}"\n', language=language)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        await pilot.pause()
        question = screen.query_one("#question", BigText)
        assert question.text == text
        question_shown_whole(app, question)
        if language in ("en", "ms") and size[1] >= 40:  # (pagga has no Turkish, no Cyrillic)
            assert question.big, "a question in English or Malay fits in large type"


@LARGE_SIZES
@kiosk_test
async def test_the_russian_question_falls_back_to_bold_text_where_no_font_fits(make_app, size):
    app = make_app(language="ru")
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        await pilot.pause()
        question = screen.query_one("#question", BigText)
        assert question.big == (size == (160, 48))  # mono9 has Cyrillic, but needs the room
        question_shown_whole(app, question)
        if not question.big:
            assert "Как вас встретил наш водитель по прибытии?" in screen_text(app)


LONG = {
    "en": "Thinking of everything from the moment you arrived until now, how well did "
    "our team look after you and everyone who came here with you today?",
    "ms": "Memikirkan segala-galanya sejak anda tiba sehingga sekarang, sejauh manakah "
    "pasukan kami menjaga anda dan semua yang datang bersama anda hari ini?",
    "ru": "Если вспомнить всё с момента вашего прихода и до сих пор, насколько хорошо "
    "наша команда позаботилась о вас и обо всех, кто пришёл с вами сегодня?",
    "tr": "Geldiğiniz andan bu yana olan her şeyi düşündüğünüzde ekibimiz bugün size ve "
    "sizinle gelen herkese ne kadar iyi baktı?",
}


class LongQuestion:
    @hookimpl
    def register_cycles(self, register):
        names = {language: "Visit" for language in LANGUAGES}
        register(
            {
                "id": "long-cycle",
                "industry": "test",
                "name": names,
                "languages": list(LANGUAGES),
                "stages": [
                    {
                        "id": "visit",
                        "name": names,
                        "moments": [
                            {"id": "whole", "question": LONG, "critical": True, "target": 4}
                        ],
                    }
                ],
            }
        )


@pytest.mark.parametrize(
    "size", [(80, 24), (120, 40), (160, 48)], ids=["80x24", "120x40", "160x48"]
)
@pytest.mark.parametrize("language", LANGUAGES)
@kiosk_test
async def test_a_long_question_is_never_cut_off(tmp_path, monkeypatch, language, size):
    for name, value in TEST_TERMINAL.items():
        monkeypatch.setenv(name, value)
    host = PluginHost.discover(only=BUILTIN)
    host.add(LongQuestion(), "long")
    config = write_config(tmp_path, '[kiosk]\ncycle = "long-cycle"\nmoment = "whole"\n')
    runtime = Runtime.open(config, data_dir=tmp_path / "data", plugins=host)
    clock = FakeClock()
    app = KioskApp(
        KioskSession(runtime, language=language, clock=clock),
        clock=clock,
        alerting=False,
        tick_seconds=0.02,
    )
    try:
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            screen = await on_screen(pilot, AttractScreen)
            await pilot.pause()
            question = screen.query_one("#question", BigText)
            assert question.text == LONG[language]
            question_shown_whole(app, question)
    finally:
        runtime.close()


# -- thank you, and the faces ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "big"), [((80, 24), False), ((120, 40), True)], ids=["80x24", "120x40"]
)
@kiosk_test
async def test_thank_you_grows_with_the_screen(make_app, size, big):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("3")
        screen = await on_screen(pilot, ThanksScreen)
        await pilot.pause()
        title = screen.query_one("#thanks-title", BigText)
        assert title.big is big
        assert ("Thank you!" in screen_text(app)) is not big


@pytest.mark.parametrize(
    "size",
    [(80, 24), (100, 30), (120, 33), (120, 40), (160, 48)],
    ids=["80x24", "100x30", "120x33", "120x40", "160x48"],
)
@pytest.mark.parametrize("scale", [5, 4])
@kiosk_test
async def test_the_row_of_faces_is_centred_and_grows(make_app, size, scale):
    app = make_app(f"[kiosk]\nscale = {scale}\n")
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        await pilot.pause()
        faces = list(screen.query(Face))
        left = faces[0].region.x
        right = size[0] - faces[-1].region.right
        assert abs(left - right) <= 1, (left, right)
        widths = [face.region.width for face in faces]
        assert max(widths) - min(widths) <= 1
        assert all(face.big is large_screen(size) for face in faces)


# -- too small -----------------------------------------------------------------------------------


@kiosk_test
async def test_below_80x24_staff_see_the_sizes_and_no_rating_is_taken(make_app, data_dir):
    clock = FakeClock()
    app = make_app(clock=clock)
    async with app.run_test(size=(70, 20)) as pilot:
        await ready(pilot)
        notice = await on_screen(pilot, TooSmallScreen)
        text = " ".join(screen_text(app).split())
        assert "Screen too small" in text
        assert "This terminal is 70×20; the kiosk needs at least 80×24." in text
        await pilot.press(*"12345", "enter")
        await pilot.click(offset=(10, 5))
        await pilot.press("ctrl+k", "ctrl+k", "ctrl+k")  # nor a PIN pad nobody can read
        await pilot.pause(0.1)
        assert app.screen is notice
        await pilot.resize_terminal(79, 30)  # still too narrow: the notice says so
        await wait_for(pilot, lambda: "79×30" in " ".join(screen_text(app).split()))
        await pilot.resize_terminal(80, 24)
        await on_screen(pilot, AttractScreen)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
        await pilot.resize_terminal(60, 20)  # shrinks on the thank-you screen: notice on top
        await on_screen(pilot, TooSmallScreen)
        clock.advance(60)
        await pilot.press("1")
        await pilot.pause(0.1)
        await pilot.resize_terminal(120, 40)  # back: the thank-you screen, as it was
        await on_screen(pilot, ThanksScreen)
        await app.reset()
        await on_screen(pilot, AttractScreen)
    assert [rating.score for rating in stored(data_dir)] == [3]


@kiosk_test
async def test_a_reset_while_too_small_keeps_the_notice(make_app, data_dir):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("3")
        await on_screen(pilot, ThanksScreen)
        await pilot.resize_terminal(50, 15)
        await on_screen(pilot, TooSmallScreen)
        await app.reset()  # the thank-you time ran out
        await on_screen(pilot, TooSmallScreen)
        assert [type(s) for s in app.screen_stack] == [AttractScreen, TooSmallScreen]
        await pilot.resize_terminal(80, 24)
        await on_screen(pilot, AttractScreen)
    assert [rating.score for rating in stored(data_dir)] == [3]
