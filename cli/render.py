"""Drawing core's objects for a terminal with Rich (no logic of their own)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from servicecycle.core import Cycle, PluginHost, pick

CRITICAL = "bold red"


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
        note = Text(stage.id, "dim")
        if stage.critical:
            note.append("  ★ critical stage", style=CRITICAL)
        table.add_row(
            Text(f"{number:>2}", style="bold cyan"),
            Text(pick(stage.name, lang, fallback), style="bold"),
            note,
            "",
        )
        for moment in stage.moments:
            mark, style = ("★", CRITICAL) if moment.critical else ("·", "")
            table.add_row(
                Text(" │", "cyan"),
                Text(f"{mark} {moment.id}", style),
                Text(pick(moment.question, lang, fallback), style=style or "italic"),
                Text(f"target {moment.target:.1f}", "dim"),
            )
        if number - 1 != last:
            table.add_row(Text(" ▼", "cyan"), "", "", "")
    critical = len(cycle.critical_moments())
    moments = sum(len(s.moments) for s in cycle.stages)
    header = Text()
    if cycle.description:
        header.append(pick(cycle.description, lang, fallback) + "\n", "italic")
    header.append(
        f"{len(cycle.stages)} stages · {moments} moments of truth · {critical} critical · "
        f"scale 1–{cycle.scale} · languages {', '.join(cycle.languages)}\n",
        "dim",
    )
    return Panel(
        Group(header, table),
        title=f"[bold]{pick(cycle.name, lang, fallback)}[/] · {cycle.id}",
        subtitle=f"industry {cycle.industry} · plugin {plugin}",
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
            info.name,
            info.version or "-",
            info.module,
            ", ".join(info.hooks) or "-",
            registered or "-",
        )
    return table


def problems_text(host: PluginHost) -> Text:
    text = Text()
    for problem in host.problems:
        text.append("✗ ", CRITICAL)
        text.append(f"{problem.plugin}", "bold")
        text.append(f" ({problem.stage}): {problem.message}\n")
    return text
