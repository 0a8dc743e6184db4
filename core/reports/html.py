"""The report as one self-contained HTML page: open it offline, print it, mail it.

Everything is inside the file — CSS in a ``<style>`` element, charts as
inline SVG (:mod:`.svg`), no script, no web font, no image, no link to any
other address — so it opens the same on a manager's laptop without network,
and prints as the report card. Plain string building with :func:`html.escape`;
no web framework.
"""

from __future__ import annotations

from html import escape

from .figures import MIN_ANSWERS, Figures
from .format import (
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
from .lifecycle import MIN_MONTHS, THRESHOLD, WINDOW
from .model import CycleReport, MomentLine, Report, Slice
from .stats import CONFIDENCE
from .svg import COLOURS, gap_chart, month_columns, reason_bars, service_map, trend_chart
from .trend import Comparison

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121;
  margin: 0; padding: 24px 32px; background: #fafafa; line-height: 1.4; }
header { border-bottom: 3px solid #37474f; margin-bottom: 16px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 0; font-size: 22px; }
h3 { margin: 22px 0 8px; font-size: 16px; color: #37474f; }
.meta { color: #546e7a; margin: 4px 0 12px; }
section.cycle, section.survey, section.rules { background: #fff; border: 1px solid #cfd8dc;
  border-radius: 8px; padding: 18px 22px; margin: 18px 0; page-break-inside: avoid; }
.phase { display: inline-block; margin-left: 10px; padding: 2px 10px; border-radius: 12px;
  background: #eceff1; font-size: 14px; vertical-align: middle; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.kpi { border: 1px solid #cfd8dc; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.kpi b { display: block; font-size: 20px; }
.kpi small { color: #607d8b; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #eceff1; padding: 4px 6px; text-align: right;
  white-space: nowrap; }
td.name { white-space: normal; }
th { background: #eceff1; position: sticky; top: 0; }
td.name, th.name { text-align: left; }
tr.critical td.name { font-weight: 600; }
td.standing { width: 10px; padding: 0; }
.muted { color: #78909c; }
.good { color: #2e7d32; } .bad { color: #c62828; }
svg.chart { width: 100%; height: auto; max-width: 1000px; display: block; margin: 6px 0; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 6px;
  margin-right: 4px; vertical-align: -1px; }
.cols { display: flex; flex-wrap: wrap; gap: 18px; } .cols > div { flex: 1 1 280px; }
footer { color: #607d8b; font-size: 12px; margin-top: 24px; }
@media print { body { background: #fff; padding: 0; } th { position: static; }
  section.cycle, section.survey { border: none; padding: 0; } }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _kpi(label: str, value: str, note: str = "") -> str:
    return f'<div class="kpi"><small>{_e(label)}</small><b>{_e(value)}</b><small>{_e(note)}</small></div>'


def _kpis(f: Figures, c: Comparison) -> str:
    prev = f"prev. {c.previous.count:,}" if c.previous.count else "no previous answers"
    return (
        '<div class="kpis">'
        + _kpi("answers", count_text(f), f"{delta_text(c.count, 'volume')} · {prev}")
        + _kpi("mean (95 %)", mean_text(f), f"Δ {delta_text(c.mean, 'mean')}")
        + _kpi("target · gap", f"{number(f.target)} · {gap_text(f)}", "promised − perceived")
        + _kpi("CSAT", share_text(f.csat, f.csat_ci), f"Δ {delta_text(c.csat, 'share')}")
        + _kpi("index 0–100", index_text(f), f"Δ {delta_text(c.index, 'index')}")
        + _kpi(
            "negative",
            share_text(f.negative_share, f.negative_ci),
            f"Δ {delta_text(c.negative_share, 'share')}",
        )
        + "</div>"
    )


def _dot(f: Figures) -> str:
    colour = COLOURS[standing(f)]
    return f'<td class="standing" style="background:{colour}" title="{standing(f)}"></td>'


def _card(lines: list[MomentLine]) -> str:
    head = (
        "<tr><th></th><th class=name>moment of truth</th><th class=name>stage</th><th>answers</th>"
        "<th>mean ± 95 %</th><th>target</th><th>gap</th><th>CSAT</th><th>index</th>"
        "<th>negative</th><th>Δ mean</th><th class=name>top reasons</th></tr>"
    )
    rows = []
    for line in lines:
        f = line.figures
        reasons = ", ".join(f"{r} ({n})" for r, n in f.top_reasons(3)) or "–"
        rows.append(
            f'<tr class="{"critical" if line.critical else ""}">{_dot(f)}'
            f'<td class="name" title="{_e(line.question)}">{"★ " if line.critical else ""}'
            f"{_e(line.moment)}</td><td class=name>{_e(line.stage)}</td>"
            f"<td>{_e(count_text(f))}</td><td>{_e(mean_text(f))}</td>"
            f"<td>{line.target:.2f}</td><td>{_e(gap_text(f))}</td>"
            f"<td>{_e(share_text(f.csat, f.csat_ci))}</td><td>{_e(index_text(f))}</td>"
            f"<td>{_e(percent(f.negative_share))}</td>"
            f"<td>{_e(delta_text(line.comparison.mean, 'mean'))}</td>"
            f"<td class=name>{_e(reasons)}</td></tr>"
        )
    return f'<table class="card">{head}{"".join(rows)}</table>'


def _slices(title: str, slices: list[Slice]) -> str:
    if not slices:
        return ""
    rows = "".join(
        f"<tr>{_dot(s.figures)}<td class=name>{_e(s.key)}</td><td>{_e(count_text(s.figures))}</td>"
        f"<td>{_e(mean_text(s.figures))}</td><td>{_e(gap_text(s.figures))}</td>"
        f"<td>{_e(percent(s.figures.csat))}</td><td>{_e(percent(s.figures.negative_share))}</td></tr>"
        for s in slices
    )
    return (
        f"<div><h3>By {_e(title)}</h3><table><tr><th></th><th class=name>{_e(title)}</th>"
        f"<th>answers</th><th>mean</th><th>gap</th><th>CSAT</th><th>negative</th></tr>"
        f"{rows}</table></div>"
    )


def _gaps_list(cycle: CycleReport) -> str:
    if not cycle.widest_gaps:
        return (
            "<p>No moment with enough answers falls short of its promise in this period.</p>"
            if cycle.figures.count
            else "<p class=muted>No answers in this period.</p>"
        )
    items = "".join(
        f"<li>{'★ ' if m.critical else ''}<b>{_e(m.moment)}</b> ({_e(m.stage)}): perceived "
        f"{_e(mean_text(m.figures))} against a promised {m.target:.2f} — gap "
        f"{_e(gap_text(m.figures))}</li>"
        for m in cycle.widest_gaps
    )
    return f"<ol>{items}</ol>"


def _cycle(cycle: CycleReport) -> str:
    phase = cycle.lifecycle.phase or "no data"
    legend = "".join(
        f'<span><i style="background:{COLOURS[key]}"></i>{label}</span>'
        for key, label in (
            ("meets", "meets its promise"),
            ("near", "near"),
            ("short", "short of it"),
            ("too-few", f"fewer than {MIN_ANSWERS} answers"),
            ("none", "no answers"),
        )
    )
    return (
        f'<section class="cycle" id="cycle-{_e(cycle.cycle)}">'
        f"<h2>{_e(cycle.name)} <span class=muted>· {_e(cycle.cycle)}</span>"
        f'<span class="phase" title="{_e(cycle.lifecycle.explanation)}">lifecycle: '
        f"{_e(phase)}</span></h2>"
        f"{_kpis(cycle.figures, cycle.comparison)}"
        f"<h3>Service map</h3><p class=legend>{legend}</p>{service_map(cycle)}"
        f"<h3>Report card — critical moments first</h3>{_card(cycle.card)}"
        f"<h3>Where promise and perception differ most</h3>{_gaps_list(cycle)}"
        f"{gap_chart(cycle.card)}"
        f"<h3>Trend per {_e(cycle.every)}</h3>"
        f"{trend_chart(cycle.series, cycle.moment_series, cycle.every)}"
        f"<h3>Reasons customers gave</h3>"
        f"{reason_bars(cycle.figures.reasons, cycle.figures.count)}"
        f"<h3>Lifecycle of the service: {_e(phase)}</h3>"
        f"<p>{_e(cycle.lifecycle.explanation)}</p>"
        f"{month_columns(cycle.lifecycle.months, WINDOW, cycle.lifecycle.phase)}"
        f'<div class="cols">{_slices("site", cycle.by_site)}{_slices("kiosk", cycle.by_kiosk)}'
        f"{_slices('language', cycle.by_language)}</div>"
        "</section>"
    )


def _survey(report: Report) -> str:
    survey = report.survey
    if survey is None:
        return ""
    parts = [
        '<section class="survey" id="survey"><h2>Follow-up survey</h2>'
        f"<p>{survey.answers:,} answers, {survey.comments:,} with a comment"
        f"{f'; {survey.skipped} unreadable answer(s) skipped' if survey.skipped else ''}.</p>"
    ]
    for cycle in survey.cycles:
        rows = "".join(
            f'<tr class="{"critical" if s.critical else ""}">{_dot(s.figures)}'
            f"<td class=name>{'★ ' if s.critical else ''}{_e(s.stage)}</td>"
            f"<td>{_e(count_text(s.figures))}</td><td>{_e(mean_text(s.figures))}</td>"
            f"<td>{s.target:.2f}</td><td>{_e(gap_text(s.figures))}</td>"
            f"<td>{_e(share_text(s.figures.csat, s.figures.csat_ci))}</td></tr>"
            for s in cycle.stages
        )
        parts.append(
            f"<h3>{_e(cycle.cycle)}: {cycle.answers:,} answers</h3><table><tr><th></th>"
            "<th class=name>stage</th><th>answers</th><th>mean ± 95 %</th><th>target</th>"
            f"<th>gap</th><th>CSAT</th></tr>{rows}</table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _rules(report: Report) -> str:
    return (
        '<section class="rules"><h2>How to read this report</h2><ul>'
        "<li><b>Mean</b>: answers moved linearly onto the cycle's scale, averaged; "
        f"± is the {CONFIDENCE:.0%} Student t interval.</li>"
        "<li><b>CSAT</b>: share of satisfied answers — the top two boxes of the answer's own "
        "scale (4–5 of 5, 3–4 of 4); the range is the Wilson interval.</li>"
        "<li><b>Index</b>: answers mapped so the worst face is 0 and the best 100, averaged.</li>"
        f"<li><b>Negative</b>: share of answers at or below {report.low_threshold} "
        "on their own scale.</li>"
        "<li><b>Gap</b>: promised minus perceived — the target minus the mean; positive means "
        "the service falls short. A stage's or cycle's target is the answer-weighted mean of "
        "its moments' targets.</li>"
        f"<li><b>Too few</b>: fewer than {MIN_ANSWERS} answers — shown, never ranked, drawn "
        "grey.</li>"
        "<li><b>Δ</b>: change against the previous period of the same length; * marks a change "
        "beyond its 95 % margin.</li>"
        f"<li><b>Lifecycle</b>: on complete months — introduction under {MIN_MONTHS} months; "
        f"growth when the {WINDOW}-month volume slope ≥ +{THRESHOLD:.0%}/month and the last 3 "
        f"months rise; decline when ≤ −{THRESHOLD:.0%}/month and the last 3 fall; maturity "
        "otherwise.</li></ul></section>"
    )


def render_html(report: Report) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    scope = report.scope
    site = report.site_name or report.site_id or "all sites"
    filters = " · ".join(
        [
            f"cycles: {', '.join(sorted(scope.cycles))}" if scope.cycles else "all cycles",
            f"site: {scope.site}"
            if scope.site
            else (f"sites: {', '.join(sorted(scope.sites))}" if scope.sites else "all sites"),
            f"kiosk: {scope.kiosk}" if scope.kiosk else "all kiosks",
            f"language: {scope.language}" if scope.language else "all languages",
            "suspect presses included" if scope.include_suspect else "suspect presses left out",
        ]
    )
    nav = " · ".join(f'<a href="#cycle-{_e(c.cycle)}">{_e(c.name)}</a>' for c in report.cycles)
    body = (
        "".join(_cycle(c) for c in report.cycles)
        if report.cycles
        else '<section class="cycle"><p>No ratings in this period.</p></section>'
    )
    unknown = (
        f"<p class=muted>{report.unknown:,} rating(s) of cycles or moments no installed plugin "
        "provides were left out.</p>"
        if report.unknown
        else ""
    )
    src = report.sources
    title = f"Report card · {site} · {report.period.label()}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Report card — {_e(site)}</h1>"
        f'<p class="meta">{_e(report.period.label())} ({_e(report.period.zone.key)}) · compared '
        f"with {_e(report.previous.label())} · {_e(filters)}</p>"
        f'<p class="meta">{nav}</p></header>{unknown}{body}{_survey(report)}{_rules(report)}'
        f"<footer>Generated {_e(report.generated.isoformat(timespec='seconds'))} by servicecycle "
        f"from {src.records:,} stored ratings in {src.partitions} partition file(s) "
        f"({src.cached} from the summary cache, {src.scanned + src.rescanned} read).</footer>"
        "</body></html>\n"
    )
