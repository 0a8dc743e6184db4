"""Drawing core's objects for a terminal with Rich (no logic of their own).

Text from outside — names, comments, reasons, plugin texts, rule files, paths —
is never read as markup and never reaches the terminal with a control character
in it. There is one way to do that here: every console comes from :func:`console`,
which reads no markup and no emoji codes, so a ``str`` is shown as written;
styles come only from :class:`rich.text.Text` parts; and every outside value
goes through :func:`~servicecycle.core.printable` (``tests/test_cli_text.py``
checks the CLI's source for both).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from servicecycle.core import Cycle, PluginHost, pick, printable

CRITICAL = "bold red"


def console(*, stderr: bool = False, **options: Any) -> Console:
    """A console on which a string is always plain text: no markup, no emoji codes."""
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, **options)


# -- times ------------------------------------------------------------------------------


def site_time(at: datetime, zone: ZoneInfo, *, seconds: bool = False, named: bool = True) -> str:
    """``2026-11-22 14:05 Europe/Istanbul``: a stored (UTC) time as the site reads it.

    Staff read times on their own clock; the zone is named so a time is never
    mistaken for another zone's. ``named=False`` is for a table whose title
    names the zone once.
    """
    shown = at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{shown} {zone.key}" if named else shown


# -- fitting the terminal ---------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of :func:`fitted_table`.

    ``keep`` 0 is always shown; when the terminal is too narrow for every
    column, the one with the highest ``keep`` is left out first (the
    rightmost of equals). ``wrap=False`` keeps each cell on one line (a figure
    such as ``3.62 ± 0.02``); otherwise a cell wraps between words, never inside one.
    """

    header: str
    keep: int = 0
    justify: Literal["left", "right"] = "left"
    wrap: bool = True
    style: str = ""


Cell = str | Text


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _widths(cell: Cell, wrap: bool) -> tuple[int, int]:
    """(narrowest, widest) a cell can be drawn without breaking a word (or, unwrapped, at all)."""
    lines = _plain(cell).split("\n")
    widest = max(cell_len(line) for line in lines)
    if not wrap:
        return widest, widest
    return max((cell_len(word) for line in lines for word in line.split()), default=0), widest


def _overhead(columns: int, options: dict[str, Any]) -> int:
    """Columns of the terminal a table of this style takes besides its cells' text."""
    probe = Table(**{**options, "show_header": False})
    for _ in range(columns):
        probe.add_column(width=1, no_wrap=True)
    probe.add_row(*["x" for _ in range(columns)])
    measure = console(file=io.StringIO(), width=1000)
    lines = measure.render_lines(probe, measure.options, pad=False)
    return max(cell_len("".join(s.text for s in line)) for line in lines) - columns


def _squeeze(least: list[int], most: list[int], room: int) -> list[int]:
    """Widths between ``least`` and ``most`` summing to at most ``room``: the widest give first."""
    widths = list(most)
    while sum(widths) > room:
        wide = [i for i, w in enumerate(widths) if w > least[i]]
        if not wide:
            break
        widest = max(wide, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def fitted_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell] | None],
    width: int,
    *,
    title: Cell | None = None,
    more: str = "--json",
    **options: Any,
) -> RenderableType:
    """A table that fits ``width`` columns of terminal without breaking a word in a cell.

    Rich narrows a column below its longest word when a table does not fit,
    splitting words and figures across lines; here the columns are measured
    first. When not all fit, the least needed are left out (named under the
    table); when even the needed ones do not fit, each row becomes a block of
    ``header: value`` lines, so nothing is lost. A row ``None`` draws a line between
    sections. ``more`` says where the left-out
    columns can be read; ``options`` go to :class:`rich.table.Table` (box, padding, ...).
    """
    options = {"box": box.HEAVY_HEAD, **options}
    sections = [row is None for row in rows]
    rows = [row for row in rows if row is not None]
    measured = []
    for n, column in enumerate(columns):
        sizes = [_widths(row[n], column.wrap) for row in rows]
        header = _widths(column.header, column.wrap)
        least = max([header[0], *(s[0] for s in sizes)])  # a header wraps as its cells do
        measured.append((least, max([least, *(s[1] for s in sizes)])))
    shown = list(range(len(columns)))
    by_need = sorted(shown, key=lambda i: (columns[i].keep, i))

    def room() -> int:
        return width - _overhead(len(shown), options)

    while sum(measured[i][0] for i in shown) > room() and columns[by_need[-1]].keep > 0:
        shown.remove(by_need.pop())
    if sum(measured[i][0] for i in shown) > room():
        return _stacked(columns, rows, title)
    widths = _squeeze([measured[i][0] for i in shown], [measured[i][1] for i in shown], room())
    table = Table(title=title, title_justify="left", **options)
    for i, w in zip(shown, widths, strict=True):
        column = columns[i]
        table.add_column(
            printable(column.header),
            justify=column.justify,
            style=column.style,
            width=w,
            no_wrap=not column.wrap,
            overflow="fold",
        )
    cells = iter(rows)
    for section in sections:
        if section:
            table.add_section()
            continue
        row = next(cells)
        table.add_row(*(row[i] for i in shown))
    left_out = [columns[i].header for i in range(len(columns)) if i not in shown]
    if not left_out or not rows:
        return table
    note = Text(
        f"left out at this width: {printable(', '.join(left_out))} (a wider terminal or "
        f"{printable(more)} shows them)",
        "dim",
    )
    return Group(table, note)


def _stacked(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: Cell | None
) -> RenderableType:
    """Each row as its first cell, then ``header: value`` lines: for the narrowest terminals."""
    parts: list[RenderableType] = []
    if title is not None:
        parts.append(title if isinstance(title, Text) else Text(title, "bold"))
    for row in rows:
        block = Text()
        first = row[0]
        block.append_text(first if isinstance(first, Text) else Text(first, "bold"))
        for column, cell in zip(columns[1:], row[1:], strict=True):
            block.append(f"\n  {printable(column.header)}: ", "dim")
            value = cell if isinstance(cell, Text) else Text(cell)
            block.append_text(Text("\n    ").join(value.split("\n")))
        parts.append(block)
    return Group(*parts)


def flow(parts: Sequence[Text], width: int, *, gap: str = "  ", indent: str = "") -> Text:
    """``parts`` on as few lines as fit ``width``, each part kept whole on one line.

    For lines of figures (``mean 3.62 ± 0.02``, ``gap +0.78``): wrapping between
    words would cut a figure from its name. A part wider than a line wraps on its own.
    """
    text = Text()
    used = 0
    for part in parts:
        size = cell_len(part.plain)
        if used and used + len(gap) + size > width:
            text.append("\n" + indent)
            used = len(indent)
        elif used:
            text.append(gap)
            used += len(gap)
        text.append_text(part)
        used += size
    return text


def cycle_map(cycle: Cycle, plugin: str, language: str) -> RenderableType:
    """The service map of one cycle: stages in order, their moments, critical ones marked."""
    lang = language if language in cycle.languages else cycle.languages[0]
    fallback = cycle.languages[0]
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=3, no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    table.add_column(justify="right", no_wrap=True)
    last = len(cycle.stages) - 1
    for number, stage in enumerate(cycle.stages, start=1):
        note = Text(printable(stage.id), "dim")
        if stage.critical:
            note.append("  ★ critical stage", style=CRITICAL)
        table.add_row(
            Text(f"{number:>2}", style="bold cyan"),
            Text(printable(pick(stage.name, lang, fallback)), style="bold"),
            note,
            "",
        )
        for moment in stage.moments:
            mark, style = ("★", CRITICAL) if moment.critical else ("·", "")
            table.add_row(
                Text(" │", "cyan"),
                Text.assemble(mark, " ", printable(moment.id), style=style),
                Text(printable(pick(moment.question, lang, fallback)), style=style or "italic"),
                Text(f"target {moment.target:.1f}", "dim"),
            )
        if number - 1 != last:
            table.add_row(Text(" ▼", "cyan"), "", "", "")
    critical = len(cycle.critical_moments())
    moments = sum(len(s.moments) for s in cycle.stages)
    header = Text()
    if cycle.description:
        header.append(printable(pick(cycle.description, lang, fallback)) + "\n", "italic")
    header.append(
        f"{len(cycle.stages):d} stages · {moments:d} moments of truth · {critical:d} critical · "
        f"scale 1–{cycle.scale:d} · languages {printable(', '.join(cycle.languages))}\n",
        "dim",
    )
    return Panel(
        Group(header, table),
        title=Text.assemble(
            (printable(pick(cycle.name, lang, fallback)), "bold"), " · ", printable(cycle.id)
        ),
        subtitle=Text(f"industry {printable(cycle.industry)} · plugin {printable(plugin)}"),
        title_align="left",
        subtitle_align="right",
        border_style="cyan",
    )


def plugin_table(host: PluginHost, width: int) -> RenderableType:
    """Installed plugins and what each registers, fitted to ``width`` columns."""
    columns = [
        Column("name", style="bold"),
        Column("version", keep=3),
        Column("module", keep=4),
        Column("hooks", keep=2),
        Column("registers"),
    ]
    rows = []
    for info in sorted(host.infos.values(), key=lambda i: i.name):
        registered = "\n".join(
            printable(f"{kind}: {', '.join(items)}") for kind, items in info.registered.items()
        )
        rows.append(
            [
                printable(info.name),
                printable(info.version or "-"),
                printable(info.module),
                printable(", ".join(info.hooks) or "-"),
                registered or "-",
            ]
        )
    return fitted_table(columns, rows, width, title="Plugins")


def problems_text(host: PluginHost) -> Text:
    text = Text()
    for problem in host.problems:
        text.append("✗ ", CRITICAL)
        text.append(printable(problem.plugin), "bold")
        text.append(f" ({printable(problem.stage)}): {printable(problem.message, newlines=True)}\n")
    return text
