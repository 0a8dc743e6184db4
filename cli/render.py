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

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from servicecycle.core import Cycle, PluginHost, pick, printable

CRITICAL = "bold red"


def console(*, stderr: bool = False, **options: Any) -> Console:
    """A console on which a string is always plain text: no markup, no emoji codes."""
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, **options)


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


def plugin_table(host: PluginHost) -> Table:
    table = Table(title="Plugins", title_justify="left", expand=False)
    table.add_column("name", style="bold")
    table.add_column("version")
    table.add_column("module", overflow="fold")
    table.add_column("hooks", overflow="fold")
    table.add_column("registers", overflow="fold")
    for info in sorted(host.infos.values(), key=lambda i: i.name):
        registered = "; ".join(
            f"{kind}: {', '.join(items)}" for kind, items in info.registered.items()
        )
        table.add_row(
            printable(info.name),
            printable(info.version or "-"),
            printable(info.module),
            printable(", ".join(info.hooks) or "-"),
            printable(registered or "-"),
        )
    return table


def problems_text(host: PluginHost) -> Text:
    text = Text()
    for problem in host.problems:
        text.append("✗ ", CRITICAL)
        text.append(printable(problem.plugin), "bold")
        text.append(f" ({printable(problem.stage)}): {printable(problem.message, newlines=True)}\n")
    return text
