"""Shared helpers for the kiosk tests, and the tests of those helpers and of the QR code.

The kiosk tests drive the real app with Textual's Pilot on a real data folder
(``tmp_path``) and read the store back from disk. Async scenarios run under
``asyncio.run`` (see :func:`kiosk_test`), so no async pytest plugin is needed.

The QR code is checked the way a phone would: the screen's cells are turned
into pixels (each cell 8×16, half-block characters drawn as halves, in the
colours on screen) and handed to a real decoder (zxing-cpp).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.cells import cell_len
from textual.app import App
from textual.pilot import Pilot

from servicecycle.core import KioskSession, PluginHost, Rating, Runtime, Store
from servicecycle.kiosk import KioskApp
from servicecycle.kiosk.widgets.qr import QUIET_ZONE, half_blocks, qr_matrix, qr_text

if TYPE_CHECKING:
    from PIL.Image import Image

BUILTIN = {"hotel", "health", "banking"}
FIXED_LINK = "http://127.0.0.1:8765/s/" + "K" * 48  # the shape of a real link: 72 characters
CELL_W, CELL_H = 8, 16


# -- running scenarios -------------------------------------------------------------------


def kiosk_test(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run an ``async def`` test body with ``asyncio.run`` (fixtures still injected)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(function(*args, **kwargs))

    wrapper.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
    return wrapper


class FakeClock:
    """A monotonic clock the test moves by hand (timeouts, repeat gaps, PIN locks)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def kiosk_host() -> PluginHost:
    return PluginHost.discover(only=BUILTIN)


def write_config(folder: Path, text: str = "") -> Path:
    path = folder / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_runtime(
    kiosk_host: PluginHost, tmp_path: Path, data_dir: Path
) -> Iterator[Callable[..., Runtime]]:
    """``make_runtime(config_text)``: a Runtime on ``data_dir``, closed after the test."""
    opened: list[Runtime] = []

    def make(config: str = "") -> Runtime:
        runtime = Runtime.open(
            write_config(tmp_path, config), data_dir=data_dir, plugins=kiosk_host
        )
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        runtime.close()


#: The terminal the kiosk tests run on, whatever the one running the tests is: true colour,
#: colours on. A test of another terminal sets TERM, COLORTERM or NO_COLOR itself.
TEST_TERMINAL = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}


@pytest.fixture
def make_app(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., KioskApp]:
    """``make_app(config_text, clock=..., language=..., **app_options)``.

    The app reads the terminal's colour system (TERM, COLORTERM) and NO_COLOR when
    it is made: they are set to :data:`TEST_TERMINAL` first, so that a test changing
    them (``monkeypatch.setenv``) after asking for this fixture decides.
    """
    for name, value in TEST_TERMINAL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_COLOR", raising=False)

    def make(
        config: str = "",
        *,
        clock: FakeClock | None = None,
        language: str | None = None,
        link: str | None = FIXED_LINK,
        **options: Any,
    ) -> KioskApp:
        runtime = make_runtime(config)
        clock = clock or FakeClock()
        session = KioskSession(runtime, language=language, clock=clock)
        options.setdefault("alerting", False)
        options.setdefault("retry_seconds", 0.05)
        options.setdefault("tick_seconds", 0.02)
        survey_link = (lambda rating: link) if link is not None else None
        return KioskApp(session, survey_link=survey_link, clock=clock, **options)

    return make


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 5.0
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            app = pilot.app
            raise AssertionError(
                f"timed out waiting for {condition.__qualname__}: screen {app.screen!r}, "
                f"stack {app.screen_stack!r}, out of service: {getattr(app, 'problem', None)!r}"
            )
        await pilot.pause(0.01)


async def on_screen(pilot: Pilot[Any], kind: type, timeout: float = 5.0) -> Any:
    """Wait until the app shows a screen of ``kind`` (and it is mounted); return it."""
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen.is_mounted, timeout
    )
    await pilot.pause()
    return pilot.app.screen


async def ready(pilot: Pilot[Any]) -> None:
    """The store is open (or the kiosk has gone out of service)."""
    app = pilot.app
    await wait_for(pilot, lambda: app.problem is not None or app.store_opened)


def stored(data_dir: Path) -> list[Rating]:
    """Every rating on disk, read by a separate reader of the data folder."""
    with Store(data_dir) as store:
        return list(store.ratings.query())


def screen_text(app: App[Any]) -> str:
    """Everything on screen as plain text, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


# -- from screen to pixels to a decoded QR code -------------------------------------------


def rasterise(app: App[Any]) -> Image:
    """The screen as a picture: each cell a CELL_W × CELL_H box in its colours.

    Half blocks are drawn as halves and full blocks filled, so a half-block QR
    code becomes square modules; other characters are drawn as their background.
    """
    from PIL import Image, ImageDraw  # test tools: only the QR tests need them

    width, height = app.size
    image = Image.new("RGB", (width * CELL_W, height * CELL_H), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        x = 0
        for segment in strip:
            style = segment.style
            fg = style.color.get_truecolor() if style and style.color else (255, 255, 255)
            bg = style.bgcolor.get_truecolor() if style and style.bgcolor else (0, 0, 0)
            if style and style.reverse:
                fg, bg = bg, fg
            for char in segment.text:
                cells = cell_len(char)
                left, top = x * CELL_W, y * CELL_H
                right, bottom = left + CELL_W * cells - 1, top + CELL_H - 1
                middle = top + CELL_H // 2
                draw.rectangle((left, top, right, bottom), fill=tuple(bg))
                if char == "▀":
                    draw.rectangle((left, top, right, middle - 1), fill=tuple(fg))
                elif char == "▄":
                    draw.rectangle((left, middle, right, bottom), fill=tuple(fg))
                elif char == "█":
                    draw.rectangle((left, top, right, bottom), fill=tuple(fg))
                x += cells
    return image


def decode(image: Image) -> list[str]:
    """Texts of the QR codes a real decoder finds in ``image``."""
    import zxingcpp

    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.QRCode
    ]


def text_image(text: str, dark: tuple[int, int, int] = (0, 0, 0)) -> Image:
    """Draw half-block text (as the QR widget shows it) dark-on-white, with no app."""
    from PIL import Image, ImageDraw

    lines = text.splitlines()
    image = Image.new("RGB", (len(lines[0]) * CELL_W, len(lines) * CELL_H), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for y, line in enumerate(lines):
        for x, char in enumerate(line):
            left, top = x * CELL_W, y * CELL_H
            if char in "▀█":
                draw.rectangle((left, top, left + CELL_W - 1, top + CELL_H // 2 - 1), fill=dark)
            if char in "▄█":
                draw.rectangle(
                    (left, top + CELL_H // 2, left + CELL_W - 1, top + CELL_H - 1), fill=dark
                )
    return image


# -- tests of the QR code itself -----------------------------------------------------------


def test_qr_text_decodes_to_the_url() -> None:
    text = qr_text(qr_matrix(FIXED_LINK), max_width=50, max_height=24)
    assert text is not None
    assert decode(text_image(text)) == [FIXED_LINK]


def test_qr_uses_the_smallest_symbol_and_the_strongest_correction_at_that_size() -> None:
    matrix = qr_matrix(FIXED_LINK)
    # 72 bytes need version 4 at level L (33 modules) plus the quiet zone on both sides.
    assert len(matrix) == 33 + 2 * QUIET_ZONE
    assert not any(matrix[0]) and not any(row[0] for row in matrix)  # quiet zone is light
    assert len(qr_matrix("http://x.example/s/abc")) < len(matrix)


def test_a_default_link_fits_beside_the_text_at_80x24() -> None:
    text = qr_text(qr_matrix(FIXED_LINK), max_width=80 - 30, max_height=24)
    assert text is not None
    lines = text.splitlines()
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 50


def test_the_code_grows_on_a_large_terminal_and_still_decodes() -> None:
    small = qr_text(qr_matrix(FIXED_LINK), max_width=50, max_height=24)
    large = qr_text(qr_matrix(FIXED_LINK), max_width=130, max_height=48)
    assert small is not None and large is not None
    assert len(large.splitlines()) > len(small.splitlines())
    assert decode(text_image(large)) == [FIXED_LINK]


def test_a_link_too_long_for_the_screen_gives_no_code() -> None:
    long_link = "https://feedback.example.com/" + "x" * 200 + "/s/" + "K" * 48
    assert qr_text(qr_matrix(long_link), max_width=50, max_height=24) is None


def test_half_blocks_pair_module_rows() -> None:
    assert half_blocks([[True, False], [True, True]]) == "█▄"
    assert half_blocks([[True, False, True]]) == "▀ ▀"
