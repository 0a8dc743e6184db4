"""`servicecycle report`: the service map and report card, in the terminal or as a file.

Core builds the report (``servicecycle.core.reports``); this module only
draws it with Rich, or hands it to core's HTML, JSON and CSV writers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from servicecycle.core import ServiceCycleError, printable
from servicecycle.core.reports import ReportRequest, Scope, build_report, period_from
from servicecycle.core.reports.export import FORMATS, write_csv, write_json
from servicecycle.core.reports.figures import MIN_ANSWERS, Figures
from servicecycle.core.reports.format import (
    Standing,
    arrow,
    count_text,
    delta_text,
    gap_text,
    index_text,
    mean_text,
    number,
    percent,
    share_text,
    standing,
)
from servicecycle.core.reports.model import CycleReport, MomentLine, Report, Slice
from servicecycle.core.reports.trend import Comparison, Delta
from servicecycle.reportcard import languages as report_languages
from servicecycle.reportcard import render_document

from . import render
from .options import SINCE, UNTIL, WHEN_HELP, cycles_option, refuse, refuse_unknown
from .output import write_output
from .progress import FileBar
from .render import Column, fitted_table, flow

err = render.console(stderr=True)

STYLES: dict[Standing, str] = {
    "meets": "green",
    "near": "yellow",
    "short": "bold red",
    "too-few": "dim",
    "none": "dim",
}
CRITICAL = "bold red"
SPARKS = "▁▂▃▄▅▆▇█"


def _styled(text: str, f: Figures) -> Text:
    return Text(text, STYLES[standing(f)])


# -- drawing ----------------------------------------------------------------------------


def _header(report: Report) -> RenderableType:
    scope = report.scope
    filters = [
        f"cycles {', '.join(sorted(scope.cycles))}" if scope.cycles else "all cycles",
        f"site {scope.site}" if scope.site else "all sites",
        f"kiosk {scope.kiosk}" if scope.kiosk else "all kiosks",
        f"language {scope.language}" if scope.language else "all languages",
        "suspect presses included" if scope.include_suspect else "suspect presses left out",
    ]
    text = Text()
    text.append(printable(f"{report.period.label()} ({report.period.zone.key})"), "bold")
    text.append(f"  compared with {printable(report.previous.label())}\n", "dim")
    text.append(printable(" · ".join(filters)), "dim")
    site = report.site_name or report.site_id or "all sites"
    return Panel(text, title=Text(f"Report card — {printable(site)}", "bold"), title_align="left")


def _kpis(f: Figures, c: Comparison, width: int) -> Text:
    """The headline figures, each kept whole on one line (the gap first among them)."""
    parts = [
        Text.assemble(("answers ", "dim"), (count_text(f), "bold"))
        + Text(f" ({delta_text(c.count, 'volume')})", "dim"),
        Text.assemble(("mean ", "dim"), (mean_text(f), STYLES[standing(f)]))
        + Text(_change(c.mean, "mean"), "dim"),
        Text.assemble(("target ", "dim"), number(f.target), (" gap ", "dim"), gap_text(f)),
        Text.assemble(("CSAT ", "dim"), share_text(f.csat, f.csat_ci))
        + Text(_change(c.csat, "share"), "dim"),
        Text.assemble(("index ", "dim"), index_text(f)),
        Text.assemble(("negative ", "dim"), share_text(f.negative_share, f.negative_ci)),
    ]
    return flow(parts, width)


def _change(delta: Delta, kind: Literal["mean", "share"]) -> str:
    """`` (Δ +0.12* ▲)``: the change, starred and arrowed when beyond noise."""
    mark = arrow(delta)
    return f" (Δ {delta_text(delta, kind)}{'' if mark == '·' else ' ' + mark})"


#: A grid: no borders, no header, one space between columns.
GRID: dict[str, object] = {
    "box": None,
    "show_header": False,
    "show_edge": False,
    "pad_edge": False,
    "padding": (0, 1),
}


def _service_map(cycle: CycleReport, width: int) -> RenderableType:
    """Stages in cycle order, each with its score; critical moments first within a stage."""
    columns = [
        Column("", wrap=False),
        Column("stage / moment"),
        Column("mean ± 95 %", justify="right", wrap=False),
        Column("gap", justify="right", wrap=False),
        Column("answers", keep=1, justify="right", wrap=False),
    ]
    rows: list[list[str | Text]] = []
    last = len(cycle.stages)
    for number_of, stage in enumerate(cycle.stages, start=1):
        name = Text(printable(stage.name), "bold")
        if stage.critical:
            name.append("  ★ critical stage", CRITICAL)
        rows.append(
            [
                Text(f"{number_of:>2}", "bold cyan"),
                name,
                _styled(mean_text(stage.figures), stage.figures),
                Text(f"gap {gap_text(stage.figures)}", "dim"),
                Text(count_text(stage.figures), "dim"),
            ]
        )
        for line in stage.moments:
            mark, style = ("★", CRITICAL) if line.critical else ("·", "")
            rows.append(
                [
                    Text(" │", "cyan"),
                    Text.assemble("  ", mark, " ", printable(line.moment), style=style),
                    _styled(mean_text(line.figures), line.figures),
                    Text(f"gap {gap_text(line.figures)}", STYLES[standing(line.figures)]),
                    Text(count_text(line.figures), "dim"),
                ]
            )
        if number_of != last:
            rows.append([Text(" ▼", "cyan"), "", "", "", ""])
    return fitted_table(columns, rows, width, more="--format json", **GRID)


#: The report card's columns; on a narrow terminal the highest ``keep`` go first, the
#: moment, its mean and its gap (the headline) never.
CARD = [
    Column("moment of truth"),
    Column("answers", keep=2, justify="right", wrap=False),
    Column("mean ± 95 %", justify="right", wrap=False),
    Column("target", keep=1, justify="right", wrap=False),
    Column("gap", justify="right", wrap=False),
    Column("CSAT (95 %)", keep=3, justify="right", wrap=False),
    Column("index", keep=5, justify="right", wrap=False),
    Column("neg.", keep=4, justify="right", wrap=False),
    Column("Δ mean", keep=6, justify="right", wrap=False),
]


def _card(lines: list[MomentLine], width: int) -> RenderableType:
    """Every moment, critical ones first; reasons are listed with the widest gaps.

    When the terminal is narrow the change, index, negative-share and CSAT
    columns are left out in that order (the summary line above the card still
    has them); the moment, its mean and its gap always stay.
    """
    rows = []
    for line in lines:
        f = line.figures
        cells: dict[str, RenderableType] = {
            "moment of truth": Text(
                f"{'★ ' if line.critical else '  '}{printable(line.moment)}",
                CRITICAL if line.critical else "",
            ),
            "answers": Text(count_text(f), "" if f.count else "dim"),
            "mean ± 95 %": _styled(mean_text(f), f),
            "target": f"{line.target:.2f}",
            "gap": _styled(gap_text(f), f),
            "CSAT (95 %)": share_text(f.csat, f.csat_ci),
            "index": index_text(f),
            "neg.": percent(f.negative_share),
            "Δ mean": delta_text(line.comparison.mean, "mean"),
        }
        rows.append([cells[column.header] for column in CARD])
    return fitted_table(
        CARD,
        rows,
        width,
        title="Report card — critical moments first",
        more="--format json",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0, 0, 1),
    )


def _gaps(cycle: CycleReport, width: int) -> Text:
    """The widest gaps, one figure per part: a figure is never cut from its name."""
    text = Text("Where promise and perception differ most\n", "bold")
    if not cycle.widest_gaps:
        text.append(
            "  no moment with enough answers falls short of its promise\n"
            if cycle.figures.count
            else "  no answers in this period\n",
            "dim",
        )
    for rank, line in enumerate(cycle.widest_gaps, start=1):
        parts = [
            Text.assemble(
                f"  {rank:d}. ",
                (f"{'★ ' if line.critical else ''}{printable(line.moment)}", "bold"),
                f" ({printable(line.stage)}):",
            ),
            Text(f"perceived {mean_text(line.figures)}"),
            Text(f"vs promised {line.target:.2f},"),
            Text.assemble("gap ", (gap_text(line.figures), STYLES[standing(line.figures)])),
        ]
        reasons = line.figures.top_reasons(3)
        if reasons:
            count = line.figures.count
            parts[-1].append(";")
            parts.append(Text("reasons:", "dim"))
            parts += [
                Text(f"{printable(r)} {n / count:.0%}{',' if i < len(reasons) - 1 else ''}", "dim")
                for i, (r, n) in enumerate(reasons)
            ]
        text.append_text(flow(parts, width, gap=" ", indent="     "))
        text.append("\n")
    return text


def _trend(cycle: CycleReport) -> Text:
    values = [p.figures.index for p in cycle.series]
    shown = [v for v in values if v is not None]
    text = Text(f"Trend per {printable(cycle.every)} (index 0–100): ", "bold")
    if not shown:
        return text.append("no answers", "dim")
    low, high = min(shown), max(shown)
    for value in values:
        if value is None:
            text.append(" ", "dim")
        else:
            level = 0 if high == low else round((value - low) / (high - low) * (len(SPARKS) - 1))
            text.append(SPARKS[level], "cyan")
    first, last = cycle.series[0].start, cycle.series[-1].start
    return text.append(f"  {low:.0f}–{high:.0f}, {printable(first)} … {printable(last)}", "dim")


def _reasons(cycle: CycleReport, width: int) -> Text:
    text = Text("Reasons customers gave\n", "bold")
    reasons = cycle.figures.top_reasons(6)
    if not reasons:
        return text.append("  none picked\n", "dim")
    peak = reasons[0][1]
    name_width = max(len(printable(r)) for r, _ in reasons)
    # the bars shrink before a count would be pushed onto a line of its own
    longest = max(len(f" {n:,} (100%)") for _, n in reasons)
    bar = max(5, min(30, width - 3 - name_width - longest))
    for reason, n in reasons:
        share = n / cycle.figures.count if cycle.figures.count else 0
        text.append(f"  {printable(reason):<{name_width}} ")
        text.append("█" * max(1, round(n / peak * bar)), "magenta")
        text.append(f" {n:,} ({share:.0%})\n", "dim")
    return text


#: The table by site, kiosk and language: what goes first when the terminal is narrow.
SLICES = [
    Column("by"),
    Column("", wrap=False),
    Column("answers", keep=1, justify="right", wrap=False),
    Column("mean ± 95 %", justify="right", wrap=False),
    Column("gap", justify="right", wrap=False),
    Column("CSAT", keep=2, justify="right", wrap=False),
    Column("negative", keep=3, justify="right", wrap=False),
]


def _slices(slices: list[tuple[str, list[Slice]]], width: int) -> RenderableType:
    """The cycle by site, by kiosk and by language, in one compact table."""
    rows: list[list[str | Text] | None] = []
    for title, items in slices:
        if rows:
            rows.append(None)
        for n, item in enumerate(items):
            rows.append(_slice_row(title if n == 0 else "", item))
    return fitted_table(
        SLICES,
        rows,
        width,
        title="By site, kiosk and language",
        more="--format json",
    )


def _slice_row(title: str, item: Slice) -> list[str | Text]:
    f = item.figures
    return [
        title,
        printable(item.key),
        count_text(f),
        _styled(mean_text(f), f),
        gap_text(f),
        percent(f.csat),
        percent(f.negative_share),
    ]


def _title(cycle: CycleReport, width: int) -> RenderableType:
    """The cycle's rule line; a title too long for it goes above a plain rule, whole."""
    title = Text.assemble(
        (printable(cycle.name), "bold"),
        f" · {printable(cycle.cycle)} · industry {printable(cycle.industry)} · "
        f"scale 1–{cycle.scale:d}",
    )
    if title.cell_len + 6 <= width:
        return Rule(title, align="left", style="cyan")
    return Group(title, Rule(style="cyan"))


def _cycle(cycle: CycleReport, width: int = 120) -> RenderableType:
    life = cycle.lifecycle
    parts: list[RenderableType] = [
        _kpis(cycle.figures, cycle.comparison, width),
        Text(
            f"lifecycle: {printable(life.phase or 'no data')} — {printable(life.explanation)}",
            "italic",
        ),
        Text("\nService map", "bold"),
        _service_map(cycle, width),
        Text(""),
        _card(cycle.card, width),
        _gaps(cycle, width),
        _trend(cycle),
        Text(""),
        _reasons(cycle, width),
    ]
    parts.append(
        _slices(
            [("site", cycle.by_site), ("kiosk", cycle.by_kiosk), ("language", cycle.by_language)],
            width,
        )
    )
    return Group(_title(cycle, width), *parts)


#: The survey table's columns, least needed last.
SURVEY = [
    Column("cycle", keep=2),
    Column("stage"),
    Column("answers", keep=1, justify="right", wrap=False),
    Column("mean ± 95 %", justify="right", wrap=False),
    Column("target", keep=1, justify="right", wrap=False),
    Column("gap", justify="right", wrap=False),
    Column("CSAT", keep=3, justify="right", wrap=False),
]


def _survey(report: Report, width: int) -> RenderableType | None:
    survey = report.survey
    if survey is None:
        return None
    rows: list[list[str | Text]] = [
        [
            printable(cycle.cycle),
            Text(f"{'★ ' if stage.critical else ''}{printable(stage.stage)}"),
            count_text(stage.figures),
            _styled(mean_text(stage.figures), stage.figures),
            f"{stage.target:.2f}",
            gap_text(stage.figures),
            share_text(stage.figures.csat, stage.figures.csat_ci),
        ]
        for cycle in survey.cycles
        for stage in cycle.stages
    ]
    return fitted_table(
        SURVEY,
        rows,
        width,
        title=f"Follow-up survey: {survey.answers:,} answers, {survey.comments:,} with a comment",
        more="--format json",
    )


def render_terminal(report: Report, console: Console) -> None:
    """Draw the whole report on ``console``."""
    console.print(_header(report))
    if not report.cycles:
        console.print("No ratings in this period.")
    for cycle in report.cycles:
        console.print(_cycle(cycle, console.width))
    survey = _survey(report, console.width)
    if survey is not None:
        console.print(survey)
    if report.unknown:
        console.print(
            Text(
                f"{report.unknown:,} rating(s) of cycles or moments no installed plugin "
                "provides were left out.",
                "dim",
            )
        )
    src = report.sources
    console.print(
        Text(
            f"mean ± 95 % t interval · CSAT = top two boxes (Wilson interval) · gap = target − "
            f"mean · fewer than {MIN_ANSWERS:d} answers: too few, never ranked · * change beyond "
            f"noise · {src.records:,} ratings in {src.partitions:,} file(s), {src.cached:,} from "
            f"the summary cache · see docs/reports.md",
            "dim",
        )
    )


# -- the command ------------------------------------------------------------------------


def _write(output: Path | None, write: Callable[[TextIO], object]) -> None:
    write_output(output, write)
    if output is not None:
        err.print(f"report written to {printable(output)}")


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="terminal",
    show_default=True,
    help="terminal: Rich tables; html: one self-contained page; json/csv: for other tools.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (default: stdout).",
)
@click.option(
    "--since",
    type=SINCE,
    help=f"Start: {WHEN_HELP}. Default: 30 days ago, today included.",
)
@click.option(
    "--until",
    type=UNTIL,
    help="End: a date (that whole day is included), a time (exclusive) or a time ago. "
    "Default: the end of today.",
)
@click.option("--cycle", help="Only this cycle (or every cycle of this industry).")
@click.option("--site", help="Only ratings of this site.")
@click.option("--region", help="Only ratings of this region's sites (a hub's [[hub.regions]]).")
@click.option("--kiosk", help="Only ratings of this kiosk.")
@click.option("--lang", help="Only ratings given in this customer language (e.g. tr).")
@click.option("--include-suspect", is_flag=True, help="Count presses flagged suspect too.")
@click.option(
    "--report-lang",
    "report_lang",
    metavar="LANG",
    default="en",
    show_default=True,
    help="Write names and headings in LANG (en, ms, ru, tr): moment, stage and reason names "
    "come from the plugins in that language. --lang filters the customers' language instead.",
)
@click.option(
    "--every",
    type=click.Choice(["day", "week"]),
    help="Trend granularity. Default: day up to 62 days, else week.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Read every partition, neither using nor writing the summary cache.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Processes reading partitions that have no summary yet. Default: one per core "
    "when there is much to read; 1 reads in this process only.",
)
@click.pass_context
def report(
    ctx: click.Context,
    fmt: str,
    output: Path | None,
    since: datetime | None,
    until: datetime | None,
    cycle: str | None,
    site: str | None,
    region: str | None,
    kiosk: str | None,
    lang: str | None,
    include_suspect: bool,
    report_lang: str,
    every: str | None,
    no_cache: bool,
    jobs: int | None,
) -> None:
    """The service map and report card: every stage in order with its score, critical
    moments first, and where the promised and perceived service differ most.

    A --cycle, --site, --kiosk or --lang that names nothing known is refused,
    listing the known values.
    """
    runtime = ctx.obj.runtime
    settings = runtime.config.site
    if report_lang not in report_languages():
        refuse("--report-lang", report_lang, "is not a language reports are written in",
               "languages", report_languages())  # fmt: skip
    sites = None
    site_id, site_name = settings.id, settings.name
    if region is not None:
        from servicecycle.core.fleet import Chain

        chain = Chain(runtime.config)
        if region not in chain.regions:
            refuse("--region", region, "names no region", "regions", sorted(chain.regions))
        sites = frozenset(chain.regions[region])
        named = next((r.name for r in runtime.config.hub.regions if r.id == region), None)
        site_id, site_name = region, named or region
    elif runtime.config.hub.regions:  # a hub's file: the chain, or one of its sites
        from servicecycle.core.fleet import Chain

        known = Chain(runtime.config).sites
        if site is None:
            site_id = site_name = runtime.config.hub.chain
        elif site in known:
            site_id, site_name = site, known[site].name or site
    cycles = frozenset(c.id for c in cycles_option(runtime, cycle)) if cycle else None
    try:
        period = period_from(since, until, settings.zone)
    except ServiceCycleError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from None
    request = ReportRequest(
        period=period,
        scope=Scope(
            cycles=cycles,
            site=site,
            kiosk=kiosk,
            language=lang,
            include_suspect=include_suspect,
            sites=sites,
        ),
        low_threshold=runtime.config.kiosk.low_threshold,
        language=report_lang,
        every=every,
        use_cache=not no_cache,
        jobs=jobs,
    )
    with FileBar("reading ratings", err) as bar:
        result = build_report(
            runtime.site_store,
            runtime.catalogue,
            request,
            site_id=site_id,
            site_name=site_name,
            progress=bar,
        )
    if not result.unknown and not any(c.figures.count for c in result.cycles):
        with FileBar("looking up the known sites, kiosks and languages", err) as bar:
            refuse_unknown(
                runtime,
                {
                    "--site": ("site", site),
                    "--kiosk": ("kiosk", kiosk),
                    "--lang": ("language", lang),
                },
                use_cache=not no_cache,
                progress=bar,
            )
        if fmt != "terminal" or output is not None:
            err.print("no ratings in this period")
    if fmt == "html":
        _write(output, lambda out: out.write(render_document(result, report_lang)))
    elif fmt == "json":
        _write(output, lambda out: write_json(result, out))
    elif fmt == "csv":
        _write(output, lambda out: write_csv(result, out))
    elif output is None:
        render_terminal(result, render.console())
    else:
        _write(
            output,
            lambda out: render_terminal(
                result, render.console(file=out, width=140, color_system=None)
            ),
        )
