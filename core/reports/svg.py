"""Charts as inline SVG, drawn in Python: the report page needs no script, font or network.

Each function returns one ``<svg>`` element sized by its ``viewBox`` (it
scales to the page), with a ``<title>`` on every mark so hovering a bar or a
point shows its numbers. Colours follow :func:`.format.standing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from .figures import Figures
from .format import Standing, number, percent, standing
from .model import CycleReport, MomentLine
from .trend import Point

COLOURS: dict[Standing, str] = {
    "meets": "#2e7d32",
    "near": "#e0a000",
    "short": "#c62828",
    "too-few": "#9e9e9e",
    "none": "#cfd8dc",
}
LINE_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#ad1457", "#558b2f")
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{_t(label)}" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" xmlns="http://www.w3.org/2000/svg" {FONT} font-size="12">'
        f"<title>{_t(label)}</title>{''.join(body)}</svg>"
    )


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _wrap(text: str, chars: int, lines: int) -> list[str]:
    """Words on up to ``lines`` lines of ``chars`` characters; the last one clipped."""
    out: list[str] = []
    for word in text.split():
        if out and len(out[-1]) + 1 + len(word) <= chars:
            out[-1] += " " + word
        else:
            out.append(word)
    if len(out) > lines:
        out = [*out[: lines - 1], " ".join(out[lines - 1 :])]
    return [_clip(line, chars) for line in out]


def _figure_note(f: Figures) -> str:
    if f.count == 0:
        return "no answers"
    note = f"n={f.count:,} · mean {number(f.mean)} · CSAT {percent(f.csat)}"
    if f.gap is not None:
        note += f" · gap {f.gap:+.2f}"
    return note + (" · too few to rank" if f.too_few else "")


# -- the service map -----------------------------------------------------------------


def service_map(cycle: CycleReport, per_row: int = 5) -> str:
    """Stages left to right in cycle order (wrapping), moments inside, critical first (★)."""
    box_w, gap_x, head_h, row_h, pad = 176, 26, 60, 20, 8
    stages = cycle.stages
    rows = [stages[i : i + per_row] for i in range(0, len(stages), per_row)] or [[]]
    body_h = max((len(s.moments) for s in stages), default=0) * row_h + pad
    block_h = head_h + body_h + 34
    width = per_row * box_w + (per_row - 1) * gap_x + 2
    height = len(rows) * block_h + 4
    out: list[str] = []
    number_of = 0
    for r, row in enumerate(rows):
        y = 2 + r * block_h
        for c, stage in enumerate(row):
            number_of += 1
            x = 1 + c * (box_w + gap_x)
            colour = COLOURS[standing(stage.figures)]
            h = head_h + len(stage.moments) * row_h + pad
            out.append(
                f'<g class="stage"><title>{_t(stage.name)} ({_t(stage.stage)}): '
                f"{_t(_figure_note(stage.figures))}</title>"
                f'<rect x="{x}" y="{y}" width="{box_w}" height="{h}" rx="6" fill="#fff" '
                f'stroke="{colour}" stroke-width="{3 if stage.critical else 1.5}"/>'
                f'<rect x="{x}" y="{y}" width="{box_w}" height="{head_h}" rx="6" '
                f'fill="{colour}" fill-opacity="0.16"/>'
                + "".join(
                    f'<text x="{x + 8}" y="{y + 17 + k * 15}" font-weight="600">{_t(text)}</text>'
                    for k, text in enumerate(_wrap(f"{number_of}. {stage.name}", 23, 2))
                )
                + f'<text x="{x + 8}" y="{y + 50}" fill="#333">'
                f"{_t(number(stage.figures.mean))} · n={stage.figures.count:,}"
                f"{' · ★ critical' if stage.critical else ''}</text></g>"
            )
            for m, line in enumerate(stage.moments):
                my = y + head_h + m * row_h + 15
                dot = COLOURS[standing(line.figures)]
                star = "★ " if line.critical else ""
                weight = ' font-weight="600"' if line.critical else ""
                out.append(
                    f'<g class="moment"><title>{_t(line.question)} — '
                    f"{_t(_figure_note(line.figures))}</title>"
                    f'<circle cx="{x + 12}" cy="{my - 4}" r="5" fill="{dot}"/>'
                    f'<text x="{x + 22}" y="{my}"{weight}>{star}'
                    f"{_t(_clip(line.moment, 15 if line.critical else 18))}</text>"
                    f'<text x="{x + box_w - 8}" y="{my}" text-anchor="end">'
                    f"{_t(number(line.figures.mean))}</text></g>"
                )
            if c < len(row) - 1:
                ax = x + box_w + 4
                out.append(
                    f'<path d="M{ax} {y + head_h / 2} h{gap_x - 10} m-6 -5 l6 5 l-6 5" '
                    f'fill="none" stroke="#607d8b" stroke-width="2"/>'
                )
        if r < len(rows) - 1:
            out.append(
                f'<text x="{width - 4}" y="{y + block_h - 10}" text-anchor="end" '
                f'fill="#607d8b">continues ↓</text>'
            )
    return _svg(width, height, f"Service map of {cycle.name}", out)


# -- gaps between promise and perception ---------------------------------------------


def gap_chart(lines: Sequence[MomentLine]) -> str:
    """One bar per moment: target minus perceived mean, with its 95 % interval."""
    shown = [line for line in lines if line.figures.gap is not None]
    label_w, width, row_h = 190, 900, 22
    if not shown:
        return _svg(width, 40, "No gaps to show", ['<text x="8" y="24">No answers.</text>'])
    ends = [abs(v) for line in shown for v in _gap_ends(line.figures)]
    span = max(0.5, max(ends))
    plot_w = width - label_w - 70
    zero = label_w + plot_w / 2

    def x_of(value: float) -> float:
        return zero + value / span * plot_w / 2

    height = len(shown) * row_h + 44
    out = [
        f'<line x1="{zero:.1f}" y1="18" x2="{zero:.1f}" y2="{height - 20}" stroke="#455a64"/>',
        f'<text x="{zero - 6:.1f}" y="12" text-anchor="end" fill="#2e7d32">◀ beyond the promise</text>',
        f'<text x="{zero + 6:.1f}" y="12" fill="#c62828">short of the promise ▶</text>',
    ]
    for i, line in enumerate(shown):
        f = line.figures
        y = 22 + i * row_h
        colour = COLOURS[standing(f)]
        gap = f.gap or 0.0
        x0, x1 = sorted((zero, x_of(gap)))
        star = "★ " if line.critical else ""
        out.append(
            f'<g class="gap"><title>{_t(line.moment)}: target {line.target:.2f}, '
            f"{_t(_figure_note(f))}</title>"
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{star}'
            f"{_t(_clip(line.moment, 24))}</text>"
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" height="{row_h - 8}" '
            f'fill="{colour}" fill-opacity="{0.45 if f.too_few else 0.85}"/>'
        )
        if f.gap_ci is not None:
            lo, hi = x_of(f.gap_ci.low), x_of(f.gap_ci.high)
            mid = y + row_h / 2
            out.append(
                f'<path d="M{lo:.1f} {mid - 4} v8 M{lo:.1f} {mid} H{hi:.1f} M{hi:.1f} {mid - 4} v8" '
                f'stroke="#263238" fill="none"/>'
            )
        out.append(f'<text x="{width - 4}" y="{y + 14}" text-anchor="end">{gap:+.2f}</text></g>')
    out.append(
        f'<text x="{label_w}" y="{height - 4}" fill="#546e7a">gap = target − mean, with its '
        f"95 % interval; grey: too few answers to rank</text>"
    )
    return _svg(width, height, "Gap between promised and perceived service per moment", out)


def _gap_ends(f: Figures) -> list[float]:
    values = [f.gap or 0.0]
    if f.gap_ci is not None:
        values += [f.gap_ci.low, f.gap_ci.high]
    return values


# -- trend -----------------------------------------------------------------------------


def trend_chart(points: Sequence[Point], lines: dict[str, Sequence[Point]], every: str) -> str:
    """Index (0–100) of the cycle per day or week (bold), of each critical moment (thin),
    CSAT (dashed), and the number of answers as columns underneath."""
    width, height = 900, 300
    left, right, top, plot_h, bars_h = 44, 150, 14, 180, 50
    plot_w = width - left - right
    n = len(points)
    if n == 0:
        return _svg(width, 40, "No trend", ['<text x="8" y="24">No period.</text>'])
    step = plot_w / max(n - 1, 1)

    def x_of(i: int) -> float:
        return left + (i * step if n > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return top + plot_h - value / 100 * plot_h

    out = []
    for level in (0, 25, 50, 75, 100):
        y = y_of(level)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eceff1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#607d8b">{level}</text>'
        )
    peak = max((p.figures.count for p in points), default=0) or 1
    base = top + plot_h + 12 + bars_h
    bar_w = max(1.0, min(step * 0.7, 18))
    for i, p in enumerate(points):
        h = p.figures.count / peak * bars_h
        out.append(
            f'<rect class="volume" x="{x_of(i) - bar_w / 2:.1f}" y="{base - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}" fill="#b0bec5">'
            f"<title>{p.start.isoformat()}: {p.figures.count:,} answers</title></rect>"
        )
    out.append(f'<text x="{left - 6}" y="{base:.1f}" text-anchor="end" fill="#607d8b">n</text>')
    series: list[tuple[str, Sequence[Point], str, str]] = [("cycle index", points, "#263238", "3")]
    for k, (moment, moment_points) in enumerate(lines.items()):
        series.append((f"★ {moment}", moment_points, LINE_COLOURS[k % len(LINE_COLOURS)], "1.5"))
    for name, pts, colour, stroke in series:
        out.append(_polyline(pts, x_of, y_of, colour, stroke, name, _index))
    out.append(_polyline(points, x_of, y_of, "#263238", "1.5", "cycle CSAT", _csat, dash=True))
    legend = [*((name, colour, stroke) for name, _, colour, stroke in series)]
    legend.append(("cycle CSAT %", "#263238", "dash"))
    for k, (name, colour, stroke) in enumerate(legend):
        y = top + 10 + k * 18
        dash = ' stroke-dasharray="5 3"' if stroke == "dash" else ""
        out.append(
            f'<line x1="{width - right + 12}" y1="{y}" x2="{width - right + 32}" y2="{y}" '
            f'stroke="{colour}" stroke-width="{2 if stroke == "dash" else stroke}"{dash}/>'
            f'<text x="{width - right + 36}" y="{y + 4}">{_t(_clip(name, 18))}</text>'
        )
    for i in sorted({0, n // 2, n - 1}):
        out.append(
            f'<text x="{x_of(i):.1f}" y="{height - 4}" text-anchor="middle" fill="#607d8b">'
            f"{points[i].start.isoformat()}</text>"
        )
    label = f"Trend per {every}: index, CSAT and answers"
    return _svg(width, height, label, out)


def _index(f: Figures) -> float | None:
    return f.index


def _csat(f: Figures) -> float | None:
    return None if f.csat is None else f.csat * 100


def _polyline(
    points: Sequence[Point],
    x_of: Callable[[int], float],
    y_of: Callable[[float], float],
    colour: str,
    stroke: str,
    name: str,
    value_of: Callable[[Figures], float | None],
    dash: bool = False,
) -> str:
    """A line through the points that have answers; a day without any breaks it."""
    runs: list[list[str]] = [[]]
    marks = []
    for i, p in enumerate(points):
        value = value_of(p.figures)
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        x, y = x_of(i), y_of(value)
        runs[-1].append(f"{x:.1f},{y:.1f}")
        marks.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{_t(name)} '
            f"{p.start.isoformat()}: {value:.0f} ({p.figures.count:,} answers)</title></circle>"
        )
    dashes = ' stroke-dasharray="5 3"' if dash else ""
    paths = "".join(
        f'<polyline class="line" points="{" ".join(run)}" fill="none" stroke="{colour}" '
        f'stroke-width="{stroke}"{dashes}/>'
        for run in runs
        if len(run) > 1
    )
    return f'<g class="series">{paths}{"" if dash else "".join(marks)}</g>'


# -- bars: reasons and months ------------------------------------------------------------


def reason_bars(reasons: Sequence[tuple[str, int]], answers: int, limit: int = 8) -> str:
    """The reasons customers picked most, as a share of the cycle's answers."""
    items = list(reasons[:limit])
    width, label_w, row_h = 900, 200, 24
    if not items:
        return _svg(
            width, 40, "No reasons picked", ['<text x="8" y="24">No reasons picked.</text>']
        )
    peak = max(n for _, n in items)
    plot_w = width - label_w - 150
    out = []
    for i, (reason, n) in enumerate(items):
        y = 6 + i * row_h
        w = n / peak * plot_w
        share = n / answers if answers else 0
        out.append(
            f'<g class="reason"><title>{_t(reason)}: picked {n:,} times '
            f"({share:.1%} of answers)</title>"
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_t(_clip(reason, 28))}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
            f'fill="#5c6bc0"/><text x="{label_w + w + 6:.1f}" y="{y + 15}">{n:,} '
            f"({share:.0%})</text></g>"
        )
    return _svg(width, len(items) * row_h + 12, "Reasons customers picked", out)


def month_columns(months: Sequence[tuple[str, int]], window: int, phase: str | None) -> str:
    """Monthly volume of answers; the months the lifecycle rule judges are dark."""
    width, height, left, bottom = 900, 190, 50, 30
    if not months:
        return _svg(
            width, 40, "No monthly volume", ['<text x="8" y="24">No complete months.</text>']
        )
    plot_w, plot_h = width - left - 10, height - bottom - 16
    peak = max(n for _, n in months) or 1
    slot_w = plot_w / len(months)
    out = []
    for i, (month, n) in enumerate(months):
        judged = i >= len(months) - window
        h = n / peak * plot_h
        x = left + i * slot_w + slot_w * 0.15
        out.append(
            f'<rect class="month" x="{x:.1f}" y="{16 + plot_h - h:.1f}" width="{slot_w * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{"#37474f" if judged else "#b0bec5"}">'
            f"<title>{month}: {n:,} answers</title></rect>"
            f'<text x="{x + slot_w * 0.35:.1f}" y="{height - 12}" text-anchor="middle" '
            f'font-size="11" fill="#607d8b">{month}</text>'
        )
    out.append(
        f'<text x="{left}" y="11" fill="#37474f">answers per month · phase: '
        f"{_t(phase or 'no data')} (dark: the last {window} complete months)</text>"
    )
    return _svg(width, height, "Monthly volume and lifecycle phase", out)
