"""The faces keep their meaning, red → green in order, on every colour system a terminal has.

What is checked is what reaches the terminal: the colours of the face tiles are read
from the rendered screen (every cell's foreground and background), downgraded the way
Textual's driver downgrades them for the colour system Rich detected (``Strip.render``:
``Color.downgrade``), and turned into the RGB the terminal shows for that colour
number (Rich's 16-colour palette is the VGA one of the Linux console). On the Linux
console a bright background (SGR 100-107) is drawn as the dark one, so that is applied
too. Each face's colour is its most used colour that is a colour at all (not black,
white or grey); the faces must then run from red to green: hues within red…green and
never going back, and the share of green in red + green rising strictly.
"""

from __future__ import annotations

import colorsys
from collections import Counter
from itertools import pairwise

import pytest
from rich._palettes import EIGHT_BIT_PALETTE, STANDARD_PALETTE
from rich.cells import cell_len
from rich.color import Color, ColorSystem, ColorType

from servicecycle.kiosk.screens import AttractScreen
from servicecycle.kiosk.widgets.faces import Face

from .test_kiosk_support import (
    data_dir,
    kiosk_host,
    kiosk_test,
    make_app,
    make_runtime,
    on_screen,
    ready,
)

__all__ = ["data_dir", "kiosk_host", "make_app", "make_runtime"]

RGB = tuple[int, int, int]

#: Terminals: (id, environment, the colour system Rich must find, Linux console?).
TERMINALS = [
    ("truecolor", {"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "truecolor", False),
    ("256", {"TERM": "xterm-256color", "COLORTERM": None}, "256", False),
    ("linux-console", {"TERM": "linux", "COLORTERM": None}, "standard", True),
    ("xterm-16", {"TERM": "xterm", "COLORTERM": None}, "standard", False),
]
SYSTEMS = {
    "truecolor": ColorSystem.TRUECOLOR,
    "256": ColorSystem.EIGHT_BIT,
    "standard": ColorSystem.STANDARD,
}


def shown_rgb(color: Color | None, system: ColorSystem, *, background: bool, console: bool) -> RGB:
    """The RGB a terminal of ``system`` shows for ``color`` (as Textual sends it)."""
    if color is None or color.type is ColorType.DEFAULT:
        return (0, 0, 0) if background else (255, 255, 255)  # a dark terminal's defaults
    sent = color.downgrade(system)
    if sent.type is ColorType.TRUECOLOR:
        assert sent.triplet is not None
        return tuple(sent.triplet)  # type: ignore[return-value]
    assert sent.number is not None
    if sent.type is ColorType.EIGHT_BIT and sent.number >= 16:
        return tuple(EIGHT_BIT_PALETTE[sent.number])  # type: ignore[return-value]
    number = sent.number
    if console and background and number >= 8:
        number -= 8  # the Linux console has eight background colours
    return tuple(STANDARD_PALETTE[number])  # type: ignore[return-value]


def chromatic(rgb: RGB) -> bool:
    """A colour at all: not black, white or a grey."""
    _hue, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    return saturation >= 0.25 and 0.1 < lightness < 0.95


def face_colours(app, system: ColorSystem, *, console: bool) -> list[RGB | None]:
    """Each face's colour on screen, score 1 first (None: the face has no colour)."""
    strips = list(app.screen._compositor.render_strips())
    colours: list[RGB | None] = []
    for face in app.screen.query(Face):
        region = face.region
        seen: Counter[RGB] = Counter()
        for y in range(region.y, region.bottom):
            x = 0
            for segment in strips[y]:
                style = segment.style
                for char in segment.text:
                    if region.x <= x < region.right and style is not None:
                        fg, bg = style.color, style.bgcolor
                        if style.reverse:
                            fg, bg = bg, fg
                        seen[shown_rgb(bg, system, background=True, console=console)] += 1
                        if not char.isspace():
                            seen[shown_rgb(fg, system, background=False, console=console)] += 1
                    x += cell_len(char)
        colour = next((rgb for rgb, _ in seen.most_common() if chromatic(rgb)), None)
        colours.append(colour)
    return colours


def hue(rgb: RGB) -> float:
    """Degrees, 0 red … 120 green; a red just short of 360 counts as red."""
    degrees = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360
    return 0.0 if degrees > 330 else degrees


def greenness(rgb: RGB) -> float:
    red, green, _ = rgb
    return green / (red + green)


def assert_red_to_green(colours: list[RGB | None]) -> None:
    assert None not in colours, f"a face has no colour: {colours}"
    hues = [hue(c) for c in colours]  # type: ignore[arg-type]
    assert all(0 <= h <= 150 for h in hues), f"not a red…green colour: {colours}"
    assert hues == sorted(hues), f"hues go back: {hues} ({colours})"
    shares = [greenness(c) for c in colours]  # type: ignore[arg-type]
    assert all(a < b for a, b in pairwise(shares)), (
        f"not ever greener from very bad to very good: {shares} ({colours})"
    )


# -- the check itself --------------------------------------------------------------------


def test_the_check_finds_the_order_the_console_used_to_get_wrong():
    """The faces' true colours as Rich maps them to 16 (Okay bright red, Very good bright
    black) are out of order, and on the console Okay's background is plain red."""
    old = ["#b71c1c", "#e65100", "#f9a825", "#7cb342", "#1b5e20"]
    shown = [
        shown_rgb(Color.parse(c), ColorSystem.STANDARD, background=True, console=True) for c in old
    ]
    assert shown[2] == (170, 0, 0)  # "Okay": red
    assert not chromatic(shown[4])  # "Very good": black (bright black, grey, on xterm)
    with pytest.raises(AssertionError):
        assert_red_to_green([rgb if chromatic(rgb) else None for rgb in shown])
    assert_red_to_green([tuple(Color.parse(c).triplet) for c in old])  # in true colour: fine


# -- the faces on each terminal ------------------------------------------------------------


@pytest.mark.parametrize("scale", [5, 4])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize(
    ("environment", "system", "console"),
    [terminal[1:] for terminal in TERMINALS],
    ids=[terminal[0] for terminal in TERMINALS],
)
@kiosk_test
async def test_faces_run_red_to_green_on_every_colour_system(
    make_app, monkeypatch, environment, system, console, size, scale
):
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    app = make_app(f"[kiosk]\nscale = {scale}\n")
    assert app.console.color_system == system
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await on_screen(pilot, AttractScreen)
        await pilot.pause()
        colours = face_colours(app, SYSTEMS[system], console=console)
    assert len(colours) == scale
    assert_red_to_green(colours)


@kiosk_test
async def test_without_colour_the_faces_differ_by_digit_mouth_and_word(make_app, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        assert app.no_color
        strips = list(app.screen._compositor.render_strips())

        def shown(widget) -> str:
            r = widget.region
            return "\n".join(strips[y].crop(r.x, r.right).text for y in range(r.y, r.bottom))

        faces = [shown(face) for face in screen.query(Face)]
        mouths = [shown(art).strip() for art in screen.query(".face-art")]
    assert len(set(mouths)) == 5  # five different drawings, words aside
    for number, word in enumerate(["Very bad", "Bad", "Okay", "Good", "Very good"], start=1):
        assert word in faces[number - 1] and str(number) in faces[number - 1]
