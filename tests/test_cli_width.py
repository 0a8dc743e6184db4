"""The command line at 60, 80 and 120 columns: no word of a cell is broken across lines.

Each command runs for real (``run_cli`` sets ``COLUMNS``); what it shows is
compared with what the same command says in ``--json`` (or what core computes):
every word of every cell shown must appear whole, a column left out must be
named as left out, and a table is never wider than the terminal.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len

from servicecycle.cli.render import Column, console, fitted_table, flow, site_time
from servicecycle.core import Catalogue, PluginHost, Store
from servicecycle.core.rating import parse_time
from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from
from servicecycle.core.reports.format import gap_text, mean_text

from .conftest import BUILTIN, run_cli
from .test_report_support import rating

WIDTHS = (60, 80, 120)
ISTANBUL = ZoneInfo("Europe/Istanbul")
BORDERS = set("┏┓┗┛┃━┡┩└┘│─┌┐├┤┼┳┻╇╋")
LEFT_OUT = re.compile(r"left out at this width: (.*?) \(a wider terminal")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A data folder with 45 days of ratings (alerts fire on them) and an Istanbul site."""
    folder = tmp_path_factory.mktemp("wide")
    config = folder / "site.toml"
    config.write_text(
        '[site]\nid = "hotel-a"\nname = "Hotel Alpha"\ntimezone = "Europe/Istanbul"\n'
    )
    catalogue = Catalogue.from_plugins(PluginHost.discover(only=BUILTIN))
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=1)
    ratings = []
    for day in range(45):
        at = today - timedelta(days=day)
        for i in range(4):
            ratings.append(rating(catalogue, at + timedelta(minutes=i), 1 + (day + i) % 5))
        ratings.append(rating(catalogue, at, 2, moment="bill-accuracy", reasons=["bill-error"]))
        ratings.append(rating(catalogue, at, 4, language="tr", kiosk="lobby-2"))
        ratings.append(rating(catalogue, at, 1, moment="check-in-wait"))
    with Store(folder / "data") as store:
        store.ratings.add_many(ratings)
    return {"SERVICECYCLE_CONFIG": str(config), "SERVICECYCLE_DATA_DIR": str(folder / "data")}


def shown(site, width: int, *args: str) -> str:
    done = run_cli(*args, env={**site, "COLUMNS": str(width)})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def data(site, *args: str):
    done = run_cli(*args, "--json", env=site)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def broken(output: str, values) -> list[str]:
    """The words of ``values`` that do not appear whole in ``output``."""
    words = {word.strip(",;") for value in values for word in str(value).split()}
    return sorted(word for word in words if word and word not in output)


def left_out(output: str) -> set[str]:
    """The columns the output says it left out (the note may wrap)."""
    found = LEFT_OUT.search(" ".join(output.split()))
    return {name.strip() for name in found.group(1).split(",")} if found else set()


def fits(output: str, width: int) -> None:
    """Every line of a table is within the terminal, and nothing was cut with an ellipsis."""
    assert not re.search(r"\S…|…\S", output)  # " … " is a range; "chec…" a cut word
    for line in output.splitlines():
        if BORDERS & set(line):
            assert cell_len(line) <= width, line


def check_columns(output: str, rows: list[dict], always: dict[str, str], sometimes: dict[str, str]):
    """``always``/``sometimes`` map column headers to JSON fields: the first are shown
    at every width; the others are shown whole, or named as left out."""
    dropped = left_out(output)
    assert not dropped & set(always), dropped
    for header, field in {**always, **sometimes}.items():
        if header in dropped:
            continue
        assert broken(output, (row[field] for row in rows)) == [], (header, output)


@pytest.mark.parametrize("width", WIDTHS)
def test_rules_list(site, width):
    output = shown(site, width, "rules", "list")
    fits(output, width)
    rules = data(site, "rules", "list")
    check_columns(
        output,
        rules,
        {"id": "id", "status": "status", "fires on": "threshold"},
        {"kind": "kind", "severity": "severity", "from": "origin"},
    )
    if width >= 120:
        assert left_out(output) <= {"from", "key"}


@pytest.mark.parametrize("width", WIDTHS)
def test_plugins(site, width):
    output = shown(site, width, "plugins")
    fits(output, width)
    listed = data(site, "plugins")["plugins"]
    for plugin in listed:
        plugin["items"] = " ".join(i for items in plugin["registered"].values() for i in items)
        plugin["hook_names"] = " ".join(plugin["hooks"])
    check_columns(
        output,
        listed,
        {"name": "name", "registers": "items"},
        {"module": "module", "hooks": "hook_names", "version": "version"},
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_store_stats(site, width):
    output = shown(site, width, "store", "stats")
    fits(output, width)
    assert "times in Europe/Istanbul" in output
    tables = data(site, "store", "stats")["tables"]
    for table in tables:
        for edge in ("oldest", "newest"):
            local = site_time(parse_time(table[edge]), ISTANBUL, named=False)
            assert local in output  # on one line, on the site's clock
        table["count"] = f"{table['records']:,}"
    check_columns(output, tables, {"table": "name", "records": "count"}, {"files": "files"})


@pytest.mark.parametrize("width", WIDTHS)
def test_rules_replay(site, width):
    output = shown(site, width, "rules", "replay", "--since", "60d")
    done = run_cli("rules", "replay", "--since", "60d", "--json", env=site)
    fired = [json.loads(line) for line in done.stdout.splitlines()]
    assert fired, "the history makes alerts fire"
    assert "times in Europe/Istanbul" in output
    fits(output, width)
    for alert in fired:
        alert["local"] = site_time(datetime.fromisoformat(alert["at"]), ISTANBUL, named=False)
        alert["key_text"] = ", ".join(f"{k}={v}" for k, v in alert["key"].items())
    check_columns(
        output,
        fired,
        {"fired at": "local", "rule": "rule", "summary": "summary"},
        {"severity": "severity", "key": "key_text"},
    )


def _report(site) -> tuple[list, str, str]:
    """What core reports on the site's last 30 days, and the period's edges."""
    last = date.today() - timedelta(days=1)
    since, until = (last - timedelta(days=29)).isoformat(), last.isoformat()
    with Store(site["SERVICECYCLE_DATA_DIR"]) as store:
        built = build_report(
            store,
            Catalogue.from_plugins(PluginHost.discover(only=BUILTIN)),
            ReportRequest(
                period_from(since, until, ISTANBUL), Scope(cycles=frozenset({"hotel-guest"}))
            ),
        )
    return built.cycles, since, until


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_keeps_its_headline_figures_whole(site, width):
    cycles, since, until = _report(site)
    output = shown(site, width, "report", "--cycle", "hotel", "--since", since, "--until", until)
    fits(output, width)
    for line in output.splitlines():
        assert cell_len(line) <= width, line  # the report's console wraps; nothing sticks out
    [cycle] = cycles
    assert f"gap {gap_text(cycle.figures)}" in output  # the headline, on one line
    assert f"mean {mean_text(cycle.figures)}" in output
    for line in cycle.card:
        assert line.moment in output
        if line.figures.count:
            assert mean_text(line.figures) in output and gap_text(line.figures) in output
    for line in cycle.widest_gaps:
        assert f"gap {gap_text(line.figures)}" in output
    dropped = left_out(output)
    assert not dropped & {"moment of truth", "mean ± 95 %", "gap"}
    if width >= 120:
        assert not dropped  # everything fits a wide terminal
    else:
        assert "Δ mean" in dropped  # the secondary columns go first


# -- the helpers themselves -----------------------------------------------------------------


def _render(renderable, width: int) -> str:
    import io

    target = io.StringIO()
    console(file=target, width=width, color_system=None).print(renderable)
    return target.getvalue()


def test_a_table_drops_the_least_needed_columns_then_stacks():
    columns = [Column("name"), Column("detail", keep=2), Column("note", keep=1)]
    rows = [["servicecycle.plugins.banking", "register_cycles, register_rules", "a b c"]]
    wide = _render(fitted_table(columns, rows, 120), 120)
    assert "servicecycle.plugins.banking" in wide and "left out" not in wide
    narrow = _render(fitted_table(columns, rows, 50), 50)
    assert "servicecycle.plugins.banking" in narrow and "left out at this width: detail" in narrow
    tiny = _render(fitted_table(columns, rows, 30), 30)
    assert "detail: register_cycles," in tiny  # stacked: nothing is lost


def test_flow_keeps_each_part_whole():
    from rich.text import Text

    parts = [Text(f"figure {n} ± 0.{n}") for n in range(10)]
    for width in (20, 33, 60):
        text = _render(flow(parts, width), width)
        for n in range(10):
            assert f"figure {n} ± 0.{n}" in text
