"""Text people type is text: nothing from outside the kiosk is read as markup or reaches the
terminal as a control character.

Two halves. A scan of the kiosk's source keeps the class closed: every text a
widget is given is either a plain literal of the kiosk's own or made by
``servicecycle.kiosk.plain`` (no markup, control characters escaped). Then
hostile texts are put everywhere outside text comes from (the site's name, a
plugin's cycle: question, stage name, reason and praise labels; the alert book:
rule ids, key values, summaries, response paths, who acknowledged; the survey
link) and every screen is walked with Pilot: the kiosk keeps running and shows
each text literally.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest
from rich.text import Text
from textual.content import Content
from textual.widgets import Button, DataTable, OptionList, Static, TabbedContent

from servicecycle.core import (
    Alert,
    AlertState,
    KioskSession,
    PluginHost,
    Runtime,
    StoreError,
    hookimpl,
    printable,
)
from servicecycle.core.rules import AlertBook
from servicecycle.kiosk import KioskApp
from servicecycle.kiosk.plain import plain, plain_cell
from servicecycle.kiosk.screens import (
    AttractScreen,
    OutOfServiceScreen,
    PinScreen,
    ReasonsScreen,
    StaffScreen,
    ThanksScreen,
)
from servicecycle.kiosk.widgets.big_text import BigText

from .test_kiosk_support import (
    BUILTIN,
    FakeClock,
    kiosk_test,
    on_screen,
    ready,
    screen_text,
    stored,
    wait_for,
    write_config,
)

KIOSK = Path(__file__).resolve().parent.parent / "kiosk"

# -- the scan: every widget text goes through plain() -------------------------------------

#: Widgets whose first argument (or these keywords) is shown as text, parsed as markup
#: when it is a ``str``.
TEXT_WIDGETS = {
    "Static",
    "Label",
    "Button",
    "Tile",
    "Option",
    "TabPane",
    "Tab",
    "ContentTab",
    "Checkbox",
    "RadioButton",
    "Link",
    "Digits",
    "Markdown",
    "Collapsible",
    "Input",
    "BigText",
}
TEXT_KEYWORDS = {"content", "label", "prompt", "title", "renderable", "tooltip", "placeholder"}
#: Methods that show their arguments (``Static.update``, a table's cells, a toast...).
TEXT_METHODS = {"update", "add_column", "add_row", "add_option", "notify", "write", "set_options"}
#: Attributes shown as text when set.
TEXT_ATTRIBUTES = {"label", "tooltip", "border_title", "border_subtitle", "title", "sub_title"}
#: Widgets the kiosk may import that take no text of their own (their cells and options are
#: checked through the calls above). A new widget must be added to one of the two sets.
TEXTLESS_WIDGETS = {"DataTable", "OptionList", "TabbedContent"}
SAFE_MAKERS = {"plain", "plain_cell"}
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\\[]")


def safe(node: ast.expr) -> bool:
    """A plain literal of the kiosk's own, or text made by plain()/plain_cell()."""
    if isinstance(node, ast.Constant):
        return not (isinstance(node.value, str) and UNSAFE_CHARACTERS.search(node.value))
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in SAFE_MAKERS
    if isinstance(node, ast.IfExp):
        return safe(node.body) and safe(node.orelse)
    if isinstance(node, ast.Starred):
        value = node.value
        if isinstance(value, ast.Name):
            return False  # a prepared list: make each element with plain() where it is used
        if isinstance(value, ast.GeneratorExp | ast.ListComp):
            return safe(value.elt)
        return safe(value)
    return False


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def unsafe_texts(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: code`` for each text given to a widget another way than plain()."""
    tree = ast.parse(source, filename=filename)
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in TEXT_WIDGETS and isinstance(node.func, ast.Name):
                texts = node.args[:1]
            elif name in TEXT_METHODS and isinstance(node.func, ast.Attribute):
                texts = list(node.args) if name == "add_row" else node.args[:1]
            else:
                continue
            texts += [kw.value for kw in node.keywords if kw.arg in TEXT_KEYWORDS]
            found += [text for text in texts if not safe(text)]
        elif isinstance(node, ast.Assign):
            shown = [t for t in node.targets if isinstance(t, ast.Attribute)]
            if any(t.attr in TEXT_ATTRIBUTES for t in shown) and not safe(node.value):
                found.append(node.value)
    lines = source.splitlines()
    return [f"{filename}:{n.lineno}: {lines[n.lineno - 1].strip()}" for n in found]


def kiosk_sources() -> list[Path]:
    return sorted(KIOSK.rglob("*.py"))


def test_every_widget_text_in_the_kiosk_goes_through_plain():
    problems = [
        problem
        for path in kiosk_sources()
        for problem in unsafe_texts(path.read_text(encoding="utf-8"), str(path.relative_to(KIOSK)))
    ]
    assert problems == [], (
        "show outside text with servicecycle.kiosk.plain.plain() (plain_cell() for a "
        "DataTable), never as a str, which Textual reads as markup:\n" + "\n".join(problems)
    )


def test_the_kiosk_uses_no_widget_the_scan_does_not_know():
    imported: set[str] = set()
    for path in kiosk_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "textual.widgets"
            ):
                imported |= {alias.name for alias in node.names}
    assert imported <= TEXT_WIDGETS | TEXTLESS_WIDGETS, (
        f"add {sorted(imported - TEXT_WIDGETS - TEXTLESS_WIDGETS)} to the scan's sets"
    )


def test_the_scan_catches_markup_ways_in():
    planted = textwrap.dedent(
        """
        Static(name)
        Static(name, markup=False)
        Button(f"{by}")
        Tile("[b]x", value="v")
        Tile(label, value="v")
        Option(prompt, id="m")
        note.update(text)
        button.label = text
        table.add_row(*cells, key="k")
        table.add_row(cell, "x")
        table.add_column(label)
        self.notify(message)
        Static(texts.fill("staff.acked", by=name))
        TabPane(title, id="t")
        Static("a\\x1bb")
        """
    )
    assert len(unsafe_texts(planted)) == 15
    clean = textwrap.dedent(
        """
        Static(plain(name))
        Static("OK")
        Static()
        Tile(plain(x), value="v", classes="c")
        Button(plain(texts["staff.ack"]), id=f"ack-{short_id}")
        table.add_row(*(plain_cell(c) for c in cells), key=f"{a}/{b}")
        note.update(plain("" if x else y))
        button.label = plain(text)
        """
    )
    assert unsafe_texts(clean) == []


def test_plain_shows_markup_and_control_characters_as_text():
    content = plain("[bold red]boom[/] \x1b[2J a\x00b \u202eevil [/x]")
    assert isinstance(content, Content)
    assert content.plain == "[bold red]boom[/] \\x1b[2J a\\x00b \\u202eevil [/x]"
    assert content.spans == []  # no style came out of the brackets
    assert plain("two\nlines", newlines=True).plain == "two\nlines"
    assert plain("two\nlines").plain == "two\\x0alines"
    cell = plain_cell("[link=http://x]y\x1b")
    assert isinstance(cell, Text) and cell.plain == "[link=http://x]y\\x1b" and not cell.spans


# -- hostile texts through every screen ----------------------------------------------------

LONG = "Ω" * 2500 + "x" * 2500  # 5,000 characters
HOSTILE = [
    "[/x]",
    "[bold red]boom[/]",
    "[link=http://x]y",
    "\x1b[2J\x1b[31mred",
    "\u202eevil",
    "a\x00b",
    "😀 café 👍🏽",
    LONG,
]
#: What the screen may never contain: raw control characters and bidi overrides.
RAW_CONTROLS = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
SITE_NAME = "[/x] [bold red]boom[/] \x1b[2J \u202eevil a\x00b 😀"  # site.name: 80 at most


def hostile_cycle() -> dict:
    reasons = [
        {
            "id": f"bad-{n}",
            "group": "hostile",
            "polarity": "negative",
            "label": {"en": text},
        }
        for n, text in enumerate(HOSTILE[:6])
    ]
    praise = [
        {"id": f"good-{n}", "group": "hostile", "polarity": "positive", "label": {"en": text}}
        for n, text in enumerate(HOSTILE[6:] + HOSTILE[:4])
    ]
    return {
        "id": "hostile-cycle",
        "industry": "hostile",
        "name": {"en": "[/x] cycle"},
        "languages": ["en"],
        "use_default_reasons": False,
        "reasons": reasons + praise,
        "stages": [
            {
                "id": "first",
                "name": {"en": "[bold]stage[/] \x1b[31m"},
                "moments": [
                    {
                        "id": "asked",
                        "question": {"en": "[/x] How was [link=http://x]it\x1b[2J \u202eevil?"},
                        "critical": True,
                        "target": 4.0,
                        "reasons": [r["id"] for r in reasons],
                        "praise": [r["id"] for r in praise],
                    },
                    {
                        "id": "other",
                        "question": {"en": "[red]Other[/red] a\x00b"},
                        "target": 4.0,
                    },
                ],
            }
        ],
    }


class HostilePlugin:
    @hookimpl
    def register_cycles(self, register):
        register(hostile_cycle())


def hostile_alerts(runtime: Runtime) -> None:
    """In the alert book: one alert per hostile text (rule id, key, summary, response),
    each acknowledged by a staff member of that name, and one left unacknowledged."""
    from datetime import UTC, datetime

    book = AlertBook(runtime.store)
    now = datetime.now(UTC)
    for n, text in enumerate([*HOSTILE, "[/unacknowledged]"]):
        alert = Alert(
            rule=f"{text}-rule-{n}",
            key=(("site", text), ("moment", f"[/m]{n}")),
            state=AlertState.FIRING,
            severity="critical" if n % 2 else "warning",
            summary=f"summary {n}: {text}",
            since=now,
            response=f"response {n}: {text}",
            active_since=now,
            labels={"team": text},
            values={"count": text},
        )
        book.record(alert, None)
        if n < len(HOSTILE):
            book.acknowledge(alert.fingerprint, f"{text} {n}")


@pytest.fixture
def hostile_app(tmp_path):
    host = PluginHost.discover(only=BUILTIN)
    host.add(HostilePlugin(), "hostile")
    config = (
        f"[site]\nname = {json.dumps(SITE_NAME, ensure_ascii=False)}\n"
        '[kiosk]\ncycle = "hostile-cycle"\nmoment = "asked"\nlanguages = ["en", "ms"]\n'
    )
    runtime = Runtime.open(write_config(tmp_path, config), data_dir=tmp_path / "data", plugins=host)
    assert [p for p in host.problems if p.plugin == "hostile"] == []
    hostile_alerts(runtime)
    clock = FakeClock()
    session = KioskSession(runtime, clock=clock)
    link = "https://feedback.example/s/" + "[/x]\x1b[2J\u202e" * 40  # too long for a code
    app = KioskApp(
        session,
        survey_link=lambda rating: link,
        clock=clock,
        alerting=True,
        alert_interval=3600,
        retry_seconds=0.05,
        tick_seconds=0.02,
    )
    yield app, clock, tmp_path / "data", link
    runtime.close()


def shown(app: KioskApp) -> str:
    """Every text the current screen's widgets hold (all of it, not only what fits),
    plus what is on screen."""
    screen = app.screen
    parts = [screen_text(app)]
    parts += [str(widget.visual) for widget in screen.query(Static)]
    for options in screen.query(OptionList):
        parts += [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
    for table in screen.query(DataTable):
        parts += [str(column.label) for column in table.columns.values()]
        parts += [str(cell) for row in range(table.row_count) for cell in table.get_row_at(row)]
    return "\n".join(parts)


def check_screen(app: KioskApp, *expected: str) -> None:
    assert app.is_running and app.return_code is None
    text = screen_text(app)
    assert not RAW_CONTROLS.search(text), "a control character reached the screen"
    everything = shown(app)
    assert not RAW_CONTROLS.search(everything.replace("\n", ""))
    for literal in expected:
        assert printable(literal) in everything, f"{printable(literal)[:60]!r} not shown as is"


@kiosk_test
async def test_hostile_texts_are_shown_literally_on_every_screen(hostile_app):
    app, clock, data_dir, link = hostile_app
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        assert app.problem is None
        await on_screen(pilot, AttractScreen)
        question = app.session.moment.question["en"]
        check_screen(app, SITE_NAME, question)
        assert "[/x] [bold red]boom[/]" in screen_text(app)  # the brackets, on screen
        assert "\\x1b[2J" in screen_text(app) and "\\u202eevil" in screen_text(app)

        await pilot.press("1")  # low: the reasons are the hostile labels
        reasons = await on_screen(pilot, ReasonsScreen)
        check_screen(app, SITE_NAME, *HOSTILE[:6])
        assert len(reasons.reason_ids) == 6
        await pilot.press("6")  # the 5,000-character reason
        await on_screen(pilot, ThanksScreen)
        check_screen(app, link)  # the address shown as text, escaped
        assert "[/x]\\x1b[2J\\u202e" in shown(app)

        clock.advance(60)  # a new customer
        await app.reset()
        await pilot.press("5")  # high: the hostile praise
        await on_screen(pilot, ReasonsScreen)
        check_screen(app, *HOSTILE[6:], *HOSTILE[:4])
        await pilot.click("#lang-ms")  # another language: the same texts again, recomposed
        await wait_for(pilot, lambda: app.session.language == "ms")
        await pilot.pause(0.05)
        check_screen(app, SITE_NAME, *HOSTILE[6:])
        await pilot.press("0")
        await on_screen(pilot, ThanksScreen)
        check_screen(app, link)

        await app.reset()
        clock.advance(60)
        await pilot.press("ctrl+k", "ctrl+k", "ctrl+k")
        await on_screen(pilot, PinScreen)
        check_screen(app)
        await pilot.press(*"0000", "enter")  # the demo PIN
        staff = await on_screen(pilot, StaffScreen)
        await staff.workers.wait_for_complete()
        table = staff.query_one("#today", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        check_screen(app, question, HOSTILE[5])  # today: the moment, its top reason
        assert "★ " + printable(question) in shown(app)

        staff.query_one(TabbedContent).active = "tab-alerts"
        await wait_for(pilot, lambda: len(staff.query(".alert")) == len(HOSTILE) + 1)
        await pilot.pause(0.05)
        names = [f"Acknowledged by {text} {n}" for n, text in enumerate(HOSTILE)]
        summaries = [f"summary {n}: {text}" for n, text in enumerate(HOSTILE)]
        responses = [f"Response: response {n}: {text}" for n, text in enumerate(HOSTILE)]
        check_screen(app, *names, *summaries, *responses)
        assert len(staff.query(".ack")) == 1  # the one nobody acknowledged yet
        button = staff.query_one(".ack", Button)
        button.scroll_visible(animate=False)  # below the 5,000-character cards
        await pilot.pause(0.05)
        await pilot.click(button)  # acknowledged at the kiosk: the card shows it, literally
        await wait_for(pilot, lambda: not staff.query(".ack"))
        check_screen(app, "Acknowledged by staff at kiosk kiosk-1")

        staff.query_one(TabbedContent).active = "tab-moment"
        await pilot.pause(0.05)
        check_screen(app, "[bold]stage[/] \x1b[31m", question, "[red]Other[/red] a\x00b")

        await pilot.press("escape")
        await on_screen(pilot, AttractScreen)
        await app.out_of_service(StoreError("[/x] disk \x1b[2J full"))
        await on_screen(pilot, OutOfServiceScreen)
        check_screen(app, SITE_NAME)
        assert app.is_running
    assert app.return_code in (None, 0)
    ratings = stored(data_dir)
    assert [(r.score, r.reasons) for r in ratings] == [(1, ("bad-5",)), (5, ())]


@kiosk_test
async def test_a_hostile_question_in_large_type_is_drawn_from_its_printable_text(hostile_app):
    app, _clock, _data_dir, _link = hostile_app
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        screen = await on_screen(pilot, AttractScreen)
        await pilot.pause()
        question = screen.query_one("#question", BigText)
        assert question.text == printable(app.session.moment.question["en"])
        assert question.big  # drawn: brackets, backslashes and all are letters of the font
        check_screen(app, SITE_NAME)
        assert "[/x]" not in screen_text(app).split("\n", 3)[-1]  # not as text: as type


# -- the kiosk's own words ----------------------------------------------------------------------


def test_every_kiosk_text_is_in_every_language_with_the_same_placeholders():
    import string

    from servicecycle.kiosk.screens import TooSmallScreen
    from servicecycle.kiosk.strings import strings

    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    table = strings()
    for key, texts in table.items():
        assert set(texts) == {"en", "ms", "ru", "tr"}, key
        assert len({frozenset(placeholders(t)) for t in texts.values()}) == 1, key
    for screen in (OutOfServiceScreen, PinScreen, StaffScreen, ThanksScreen, TooSmallScreen):
        missing = [key for key in screen.TEXT_KEYS if key not in table]
        assert missing == [], f"{screen.__name__} declares texts strings.toml lacks"
