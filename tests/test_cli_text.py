"""Text people type is text: no command reads outside text as markup or lets a control
character through to the terminal.

Two halves: a guard over the CLI's source that keeps the one way of showing text
(``cli/render.py`` explains it), and hostile texts — markup, escape sequences,
bidi overrides, NUL, emoji, 5,000 characters — put into a real data folder, site
configuration, rules file and plugin, then shown by every command that shows them.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.cli.main import cli
from servicecycle.core import PluginHost, printable

from .conftest import BUILTIN, run_cli, with_plugins
from .test_plugin_loading import install

ROOT = Path(__file__).resolve().parent.parent

# -- the guard ------------------------------------------------------------------------------

#: Calls whose arguments Rich draws: every argument is checked (for ``Text`` and
#: ``append`` the first one; the others are styles).
RICH_CALLS = {"print", "add_row", "add_column", "assemble", "Table", "Rule", "Panel"}
FIRST_ONLY = {"Text", "append", "TextColumn"}
#: Plain-text sinks: markup is no danger there, control characters are; their f-strings count.
PLAIN_CALLS = {"echo", "ClickException", "BadParameter", "UsageError"}
#: Keyword arguments that are shown (the rest are styles and layout).
SHOWN_KEYWORDS = {"title", "subtitle", "caption", "message"}
#: Calls whose result is safe to show: the helper, Rich renderables (their own arguments are
#: checked where they are made), numbers, machine output (JSON).
SAFE_CALLS = {"printable", "Text", "assemble", "Group", "Panel", "Rule", "Table"}
SAFE_CALLS |= {"len", "max", "min", "round", "dumps"}
MARKUP = re.compile(
    r"\[/?(bold|italic|dim|red|green|yellow|cyan|magenta|blue|link)\b[^\]]*\]|\[/\]"
)


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _defined(files: list[Path]) -> set[str]:
    """Functions of the CLI itself (trusted to return what is safe to show) and the
    number formatters of core's reports."""
    names = {"count_text", "delta_text", "gap_text", "index_text", "mean_text", "number"}
    names |= {"percent", "share_text"}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names.add(node.name)
    return names


def _safe(node: ast.AST, trusted: set[str], names_ok: bool) -> bool:
    """Whether ``node`` can only produce text that is safe to show.

    A bare name passed as a whole argument holds something already built (a
    table, a Text); inside an f-string it must go through ``printable()``, be
    formatted as a number or date (a format spec) or as a repr (``!r``).
    """
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return names_ok
    if isinstance(node, ast.JoinedStr):
        return all(
            value.conversion == ord("r")
            or value.format_spec is not None
            or _safe(value.value, trusted, names_ok=False)
            for value in node.values
            if isinstance(value, ast.FormattedValue)
        )
    if isinstance(node, ast.Call):
        return _name(node) in SAFE_CALLS | trusted
    if isinstance(node, ast.IfExp):
        return _safe(node.body, trusted, names_ok) and _safe(node.orelse, trusted, names_ok)
    if isinstance(node, ast.BoolOp):
        return all(_safe(v, trusted, names_ok) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _safe(node.left, trusted, names_ok) and _safe(node.right, trusted, names_ok)
    if isinstance(node, ast.Subscript | ast.Starred):
        return _safe(node.value, trusted, names_ok)
    if isinstance(node, ast.GeneratorExp | ast.ListComp):
        return _safe(node.elt, trusted, names_ok)
    if isinstance(node, ast.Tuple) and node.elts:  # (text, style), as Text.assemble takes
        return _safe(node.elts[0], trusted, names_ok)
    if isinstance(node, ast.List):  # a table's row, drawn cell by cell later: each cell counts
        return all(_safe(elt, trusted, names_ok) for elt in node.elts)
    # a mapping is machine output (JSON), never drawn
    return isinstance(node, ast.Dict)


def unsafe_text(folder: Path) -> list[str]:
    """Every place in ``folder`` that could show outside text unescaped, as ``file:line: why``."""
    files = sorted(folder.glob("*.py"))
    trusted = _defined(files)
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.name}:{node.lineno}"
            name = _name(node)
            if name == "Console" and path.name != "render.py":
                found.append(f"{where}: a Console not made by render.console()")
            if name == "TextColumn" and not any(
                k.arg == "markup" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords
            ):
                found.append(f"{where}: TextColumn without markup=False")
            if name == "Panel":
                for k in node.keywords:
                    if k.arg in {"title", "subtitle"} and isinstance(
                        k.value, ast.Constant | ast.JoinedStr
                    ):
                        found.append(f"{where}: a Panel {k.arg} is read as markup: use Text")
            if name in RICH_CALLS | FIRST_ONLY:
                args = node.args[:1] if name in FIRST_ONLY else node.args
            elif name in PLAIN_CALLS:
                args = [a for a in node.args if isinstance(a, ast.JoinedStr)]
            else:
                continue
            shown = list(args) + [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
            for arg in shown:
                if name in PLAIN_CALLS and not isinstance(arg, ast.JoinedStr):
                    continue
                if not _safe(arg, trusted, names_ok=True):
                    found.append(f"{where}: {ast.unparse(arg)[:60]} is not made printable()")
                literal = arg.value if isinstance(arg, ast.Constant) else None
                if isinstance(literal, str) and MARKUP.search(literal):
                    found.append(f"{where}: markup {literal[:40]!r} would be shown as written")
    return found


def test_the_cli_shows_outside_text_only_through_printable():
    assert unsafe_text(ROOT / "cli") == []


def test_the_guard_finds_what_it_is_for(tmp_path):
    (tmp_path / "bad.py").write_text(
        textwrap.dedent(
            """
            from rich.console import Console
            from rich.panel import Panel
            out = Console()
            def show(alert, table, by):
                out.print(f"[bold]{alert.id}[/] by {by}")
                out.print(alert.summary)
                table.add_row(alert.rule, f"{alert.count:,}", printable(alert.key))
                out.print(Panel("x", title=f"{alert.rule}"))
                out.print(f"{printable(by)} {len(by)} {by!r}")
                out.print("[red]x[/]")
            """
        )
    )
    found = unsafe_text(tmp_path)
    assert sorted(int(line.split(":")[1]) for line in found) == [
        4,  # Console()
        6,  # {alert.id}, {by}
        7,  # alert.summary
        8,  # alert.rule
        9,  # Panel title f-string
        9,  # ... and not printable
        11,  # a markup literal
    ]


# -- hostile texts, shown for real --------------------------------------------------------

HOSTILE = [
    "[/x]",
    "[bold red]boom[/]",
    "[link=http://x]y",
    "\x1b[2J\x1b[31mred",
    "\u202eevil",
    "a\x00b",
    "😀 :thumbs_up: ß",
]
LONG = "Ω" * 5000
BOX = re.compile(r"[\s│┃─━┏┓┗┛┡┩└┘├┤┼╭╮╰╯╷╵┌┐┬┴▼]")


def flat(text: str) -> str:
    """``text`` without whitespace and box drawing, so a folded table cell reads whole."""
    return BOX.sub("", text)


def shows(output: str, value: str) -> bool:
    """Whether ``value`` appears in ``output`` as the text it is (escapes spelled out)."""
    return flat(printable(value)) in flat(output)


def clean(output: str) -> None:
    """Nothing from the input reached the terminal as a control character or a bidi override."""
    assert "\x1b" not in output and "\x00" not in output and "\u202e" not in output


#: The hostile texts a command line can carry (an argument cannot hold a NUL).
TYPED = [text for text in HOSTILE if "\x00" not in text]


def toml(value: str) -> str:
    """``value`` as a TOML basic string (a JSON string is one, \\u escapes included)."""
    return json.dumps(value, ensure_ascii=False)


def test_hostile_texts_in_alerts_silences_rules_and_the_report(tmp_path):
    """Every hostile text through every command that shows it, in real processes."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "".join(
            f'[[rules]]\nid = "site.h{n}"\nkind = "single"\ncycle = "hotel-guest"\n'
            f"when = {{ score = 1 }}\nsummary = {toml(text)}\nresponse = {toml(text)}\n"
            for n, text in enumerate(HOSTILE)
        )
        # a broken rule: the problem message quotes the file
        + f'[[rules]]\nid = {toml(HOSTILE[1])}\nkind = "single"\nwhen = {{ score = 1 }}\n'
        'summary = "s"\nresponse = "r"\n',
        encoding="utf-8",
    )
    site_name = " ".join(HOSTILE)[:80]
    config = tmp_path / "site.toml"
    config.write_text(
        f'[site]\nname = {toml(site_name)}\n[rules]\nfiles = ["rules.toml"]\n', encoding="utf-8"
    )
    env = {
        "SERVICECYCLE_DATA_DIR": str(tmp_path / "data"),
        "SERVICECYCLE_CONFIG": str(config),
        "COLUMNS": "200",
    }

    def ok(*args: str, code: int = 0) -> str:
        done = run_cli(*args, env=env)
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr
        clean(done.stdout + done.stderr)
        return done.stdout + done.stderr

    ok("record", "--cycle", "hotel-guest", "--moment", "check-in-wait", "--score", "1")
    ran = ok("alerts", "run", "--once")
    assert all(shows(ran, text) for text in HOSTILE)
    listed = json.loads(run_cli("alerts", "list", "--json", env=env).stdout)
    by_rule = {a["rule"]: a["id"] for a in listed}
    assert [a["summary"] for a in listed if a["rule"] == "site.h3"] == [HOSTILE[3]]  # exact data
    for n, text in enumerate(TYPED):
        assert shows(ok("alerts", "ack", by_rule[f"site.h{n}"], "--by", text), text)
    ok("alerts", "ack", by_rule["site.h6"], "--by", LONG)
    shown = ok("alerts", "list")
    assert all(shows(shown, text) for text in [*TYPED[:-1], *HOSTILE, LONG])
    for text in TYPED:
        ok("alerts", "silence", "add", f"alertname={text}", "--by", text, "--comment", text)
    ok("alerts", "silence", "add", "alertname=x", "--by", LONG, "--comment", LONG)
    silences = ok("alerts", "silence", "list")
    assert all(shows(silences, text) for text in [*TYPED, LONG])
    assert "expired" in ok("alerts", "silence", "expire", silences.split()[0])

    listing = ok("rules", "list")
    assert "site.h0" in listing and shows(listing, HOSTILE[1])  # the broken rule's problem
    assert shows(ok("rules", "check", str(rules), code=1), HOSTILE[1])
    rule_tests = tmp_path / "rules_test.toml"
    rule_tests.write_text(
        f"rule_files = [{toml(str(ROOT / 'plugins' / 'hotel' / 'rules.toml'))}]\n"
        + "".join(
            f"[[tests]]\nname = {toml(text)}\n"
            '[[tests.ratings]]\nat = "0m"\nmoment = "bill-accuracy"\nscore = 5\n'
            '[[tests.expect]]\nat = "1m"\nfiring = ["hotel.bill-dispute"]\n'
            for text in HOSTILE
        ),
        encoding="utf-8",
    )
    tested = ok("rules", "test", str(rule_tests), code=1)
    assert all(shows(tested, f"FAIL {rule_tests}: {text}") for text in HOSTILE)
    replayed = ok("rules", "replay", "--since", "2000-01-01T00:00:00Z")
    assert all(shows(replayed, text) for text in HOSTILE)

    assert shows(ok("report"), site_name)
    for fmt in ("html", "json", "csv"):
        target = tmp_path / f"card.{fmt}"
        ok("report", "--format", fmt, "-o", str(target))
        assert target.stat().st_size > 0
    shown = run_cli("config", "show", env=env).stdout  # JSON: the exact text, for machines
    assert json.loads(shown)["site"]["name"] == site_name


HOSTILE_PLUGIN = """
from servicecycle.core import hookimpl

TEXTS = {texts!r}

@hookimpl
def register_cycles(register):
    register({{
        "id": "odd-visit", "industry": "odd", "languages": ["en"],
        "name": {{"en": TEXTS[1]}}, "description": {{"en": TEXTS[3]}},
        "stages": [{{"id": "s", "name": {{"en": TEXTS[0]}}, "moments": [
            {{"id": "m", "question": {{"en": TEXTS[4] + TEXTS[6]}}, "target": 4,
              "critical": True}},
            {{"id": "n", "question": {{"en": {long!r}}}, "target": 4}},
        ]}}],
    }})
"""


def test_hostile_plugin_texts_in_cycles_plugins_and_the_report(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install(site, "servicecycle-odd", "sc_odd", HOSTILE_PLUGIN.format(texts=HOSTILE, long=LONG))
    install(site, "servicecycle-bad", "sc_bad", f"raise RuntimeError({HOSTILE[2] + HOSTILE[3]!r})")
    env = {
        **with_plugins(site, "servicecycle-odd", "servicecycle-bad"),
        "SERVICECYCLE_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }
    outputs = {}
    for args in (
        ("cycles", "odd"),
        ("plugins",),
        ("plugin", "check", "odd"),
        ("record", "--cycle", "odd-visit", "--moment", "m", "--score", "2"),
        ("report", "--cycle", "odd"),
    ):
        done = run_cli(*args, env=env)
        assert done.returncode in (0, 1), (args, done.stderr)  # check: 1 for missing translations
        assert "Traceback" not in done.stderr
        clean(done.stdout + done.stderr)
        outputs[args[0]] = done.stdout + done.stderr
    for text in (HOSTILE[0], HOSTILE[1], HOSTILE[3], HOSTILE[4] + HOSTILE[6], LONG[:100]):
        assert shows(outputs["cycles"], text), text  # a long question is cut to the map's width
    assert shows(outputs["plugins"], HOSTILE[2] + HOSTILE[3])  # the broken plugin's problem
    assert shows(outputs["report"], HOSTILE[1]) and shows(outputs["report"], HOSTILE[0])


def test_a_stranger_file_with_a_hostile_name_in_the_data_folder(tmp_path):
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    assert run_cli("record", "--score", "3", env=env).returncode == 0
    name = "[bold red]boom\x1b[2J\u202e.log"  # a file name cannot hold a "/"
    (tmp_path / "tables" / "ratings" / name).write_text("not a partition")
    for args in (("store", "check"), ("store", "stats")):
        done = run_cli(*args, env=env)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        clean(done.stdout)
    assert shows(run_cli("store", "check", env=env).stdout, name)


# -- any name, through `alerts ack --by` and `alerts list` --------------------------------


@pytest.fixture(scope="module")
def firing(tmp_path_factory):
    """A data folder with one firing alert; returns (data folder, alert id)."""
    data = tmp_path_factory.mktemp("alerts")
    runner = CliRunner()

    def invoke(*args: str):
        host = PluginHost.discover(only=BUILTIN)
        return runner.invoke(cli, ["--data-dir", str(data), *args], obj=host)

    recorded = invoke(
        "record", "--cycle", "health-emergency", "--moment", "emergency-wait", "--score", "1"
    )
    assert recorded.exit_code == 0, recorded.output
    assert invoke("alerts", "run", "--once").exit_code == 0
    [alert] = json.loads(invoke("alerts", "list", "--json").stdout)
    return invoke, alert["id"]


NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=60).filter(str.strip)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES)
def test_any_name_is_shown_as_the_text_it_is(firing, name):
    invoke, alert_id = firing
    acked = invoke("alerts", "ack", alert_id, f"--by={name}")
    assert acked.exit_code == 0, acked.output
    shown = invoke("alerts", "list")
    assert shown.exit_code == 0 and shown.exception is None, shown.output
    assert f"acknowledged by {printable(name.strip())}\n" in shown.stdout
    clean(acked.stdout + shown.stdout)
