"""Charts as inline SVG, drawn in Python: the report needs no script, font or network.

Each function returns one ``<svg>`` element sized by its ``viewBox`` (it
scales to the page), with a ``<title>`` on every mark so hovering a bar or a
point shows its numbers. Colours follow the report's standing rule (meets,
near, short of the promise). Geometry is computed here rather than in the
templates: labels are measured, thinned or clipped so that none overlaps
another, on screen or on an A4 or Letter page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

from markupsafe import Markup

from servicecycle.core.reports.figures import MIN_ANSWERS, Figures
from servicecycle.core.reports.format import Standing, number, percent, standing
from servicecycle.core.reports.model import CycleReport, MomentLine
from servicecycle.core.reports.trend import Point

from .words import Words

COLOURS: dict[Standing, str] = {
    "meets": "#2e7d32",
    "near": "#e0a000",
    "short": "#c62828",
    "too-few": "#9e9e9e",
    "none": "#cfd8dc",
}
#: Face colours, worst to best, for a 4- and a 5-point scale.
FACE_COLOURS: dict[int, tuple[str, ...]] = {
    4: ("#c62828", "#ef6c00", "#7cb342", "#2e7d32"),
    5: ("#c62828", "#ef6c00", "#fbc02d", "#7cb342", "#2e7d32"),
}
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
#: Average width of a character at font size 12, in viewBox units (for fitting labels).
CHAR = 7.2


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: float, height: float, label: str, body: list[str], kind: str = "") -> Markup:
    return Markup(
        f'<svg class="chart{" " + kind if kind else ""}" role="img" aria-label="{_t(label)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg" {FONT} '
        f'font-size="12"><title>{_t(label)}</title>{"".join(body)}</svg>'
    )


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


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


def _every(labels: int, room: float, chars: int) -> int:
    """Label every n-th slot so labels of ``chars`` characters never touch."""
    width = chars * CHAR + 8
    return max(1, -(-int(width) // max(int(room), 1)))


def _note(f: Figures, t: Words) -> str:
    if f.count == 0:
        return t("legend_none")
    note = f"n={f.count:,} · {t('mean')} {number(f.mean)} · {t('csat')} {percent(f.csat)}"
    if f.gap is not None:
        note += f" · {t('gap')} {f.gap:+.2f}"
    return note


def empty(label: str) -> Markup:
    return _svg(600, 36, label, [f'<text x="8" y="24">{_t(label)}</text>'], "empty")


# -- the service map -----------------------------------------------------------------


def service_map(cycle: CycleReport, t: Words, per_row: int = 5) -> Markup:
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
                f'<g class="stage"><title>{_t(stage.name)}: {_t(_note(stage.figures, t))}</title>'
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
                f"{' · ★' if stage.critical else ''}</text></g>"
            )
            room = int((box_w - 22 - 40) / CHAR)  # between the dot and the mean
            for m, line in enumerate(stage.moments):
                my = y + head_h + m * row_h + 15
                dot = COLOURS[standing(line.figures)]
                star = "★ " if line.critical else ""
                weight = ' font-weight="600"' if line.critical else ""
                out.append(
                    f'<g class="moment"><title>{_t(line.name)}: {_t(line.question)} — '
                    f"{_t(_note(line.figures, t))}</title>"
                    f'<circle cx="{x + 12}" cy="{my - 4}" r="5" fill="{dot}"/>'
                    f'<text x="{x + 22}" y="{my}"{weight}>'
                    f"{_t(_clip(star + line.name, room - 2 if line.critical else room))}</text>"
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
                f'fill="#607d8b">{_t(t("continues"))}</text>'
            )
    return _svg(width, height, f"{t('service_map')}: {cycle.name}", out, "service-map")


# -- gaps between promise and perception ---------------------------------------------


def gap_chart(lines: Sequence[MomentLine], t: Words) -> Markup:
    """One bar per moment: target minus perceived mean, with its 95 % interval."""
    shown = [line for line in lines if line.figures.gap is not None]
    label_w, width, row_h = 230, 900, 22
    if not shown:
        return empty(t("no_answers"))
    ends = [abs(v) for line in shown for v in _gap_ends(line.figures)]
    span = max(0.5, max(ends))
    plot_w = width - label_w - 70
    zero = label_w + plot_w / 2

    def x_of(value: float) -> float:
        return zero + value / span * plot_w / 2

    height = len(shown) * row_h + 44
    half = int((plot_w / 2 - 12) / CHAR)
    out = [
        f'<line x1="{zero:.1f}" y1="18" x2="{zero:.1f}" y2="{height - 20}" stroke="#455a64"/>',
        f'<text x="{zero - 6:.1f}" y="12" text-anchor="end" fill="#2e7d32">'
        f"◀ {_t(_clip(t('beyond_promise'), half))}</text>",
        f'<text x="{zero + 6:.1f}" y="12" fill="#c62828">'
        f"{_t(_clip(t('short_of_promise'), half))} ▶</text>",
    ]
    chars = int((label_w - 12) / CHAR)
    for i, line in enumerate(shown):
        f = line.figures
        y = 22 + i * row_h
        colour = COLOURS[standing(f)]
        gap = f.gap or 0.0
        x0, x1 = sorted((zero, x_of(gap)))
        star = "★ " if line.critical else ""
        out.append(
            f'<g class="gap"><title>{_t(line.name)}: {_t(t("target"))} {line.target:.2f}, '
            f"{_t(_note(f, t))}</title>"
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">'
            f"{_t(_clip(star + line.name, chars))}</text>"
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
        f'<text x="{label_w}" y="{height - 4}" fill="#546e7a">'
        f"{_t(_clip(t('gap_note'), int((width - label_w) / CHAR)))}</text>"
    )
    return _svg(width, height, t("gap_chart"), out, "gaps")


def _gap_ends(f: Figures) -> list[float]:
    values = [f.gap or 0.0]
    if f.gap_ci is not None:
        values += [f.gap_ci.low, f.gap_ci.high]
    return values


# -- faces -----------------------------------------------------------------------------


def faces_bar(f: Figures, t: Words) -> Markup:
    """The answers' spread over the faces, worst (left) to best, as one stacked bar."""
    width, height = 120, 14
    if not f.faces:
        return Markup("")
    scale = f.scale if f.scale in f.faces else max(f.faces, key=lambda s: sum(f.faces[s]))
    counts = f.faces[scale]
    total = sum(counts)
    out, x = [], 0.0
    shares = []
    for score, (n, colour) in enumerate(zip(counts, FACE_COLOURS[scale], strict=True), 1):
        share = n / total
        shares.append(f"{score}: {share:.0%}")
        w = share * width
        if w > 0:
            out.append(
                f'<rect x="{x:.1f}" y="1" width="{w:.1f}" height="{height - 2}" fill="{colour}">'
                f"<title>{score}/{scale}: {n:,} ({share:.0%})</title></rect>"
            )
        x += w
    label = f"{t('faces')} (1–{scale}): " + ", ".join(shares)
    return _svg(width, height, label, out, "faces")


# -- trend -----------------------------------------------------------------------------


def trend_chart(points: Sequence[Point], every: str, t: Words) -> Markup:
    """The cycle's index (0-100) per day or week, with the answers as columns underneath."""
    width, height = 900, 250
    left, right, top, plot_h, bars_h = 44, 16, 14, 150, 40
    plot_w = width - left - right
    n = len(points)
    if n == 0 or not any(p.figures.count for p in points):
        return empty(t("no_trend"))
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
    peak = max(p.figures.count for p in points) or 1
    base = top + plot_h + 12 + bars_h
    bar_w = max(1.0, min(step * 0.7, 18))
    for i, p in enumerate(points):
        h = p.figures.count / peak * bars_h
        out.append(
            f'<rect class="volume" x="{x_of(i) - bar_w / 2:.1f}" y="{base - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}" fill="#b0bec5">'
            f"<title>{p.start.isoformat()}: {p.figures.count:,} {_t(t('answers'))}</title></rect>"
        )
    out.append(f'<text x="{left - 6}" y="{base:.1f}" text-anchor="end" fill="#607d8b">n</text>')
    out.append(_polyline(points, x_of, y_of, "#263238", "2.5", t("index"), _index))
    shown = sorted({0, n // 2, n - 1}) if n > 2 else list(range(n))
    for i in shown:
        anchor = "start" if i == 0 and n > 1 else ("end" if i == n - 1 and n > 1 else "middle")
        out.append(
            f'<text x="{x_of(i):.1f}" y="{height - 4}" text-anchor="{anchor}" fill="#607d8b">'
            f"{points[i].start.isoformat()}</text>"
        )
    return _svg(width, height, t("trend_index", every=every), out, "trend")


def small_multiple(name: str, points: Sequence[Point], target: float, scale: int) -> Markup:
    """One critical moment's index per day or week, small, with its promise as a line."""
    width, height, left, top, plot_h = 280, 96, 30, 24, 56
    plot_w = width - left - 8
    n = len(points)
    step = plot_w / max(n - 1, 1)

    def x_of(i: int) -> float:
        return left + (i * step if n > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return top + plot_h - value / 100 * plot_h

    promise = (target - 1) / (scale - 1) * 100
    counted = [p.figures.index for p in points if p.figures.index is not None]
    last = f"{counted[-1]:.0f}" if counted else "–"
    out = [
        f'<text x="2" y="14" font-weight="600">{_t(_clip("★ " + name, 30))}</text>',
        f'<text x="{width - 2}" y="14" text-anchor="end" fill="#37474f">{last}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        f'stroke="#eceff1"/>',
        f'<line class="promise" x1="{left}" y1="{y_of(promise):.1f}" x2="{left + plot_w}" '
        f'y2="{y_of(promise):.1f}" stroke="#2e7d32" stroke-dasharray="4 3"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="10" '
        f'fill="#607d8b">100</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="10" '
        f'fill="#607d8b">0</text>',
    ]
    if n:
        out.append(_polyline(points, x_of, y_of, "#1565c0", "1.8", name, _index))
        out.append(
            f'<text x="{left}" y="{height - 2}" font-size="10" fill="#607d8b">'
            f"{points[0].start.isoformat()}</text>"
            f'<text x="{left + plot_w}" y="{height - 2}" text-anchor="end" font-size="10" '
            f'fill="#607d8b">{points[-1].start.isoformat()}</text>'
        )
    return _svg(width, height, name, out, "multiple")


def _index(f: Figures) -> float | None:
    return f.index


def _polyline(
    points: Sequence[Point],
    x_of: Callable[[int], float],
    y_of: Callable[[float], float],
    colour: str,
    stroke: str,
    name: str,
    value_of: Callable[[Figures], float | None],
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
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}"><title>{_t(name)} '
            f"{p.start.isoformat()}: {value:.0f} (n={p.figures.count:,})</title></circle>"
        )
    paths = "".join(
        f'<polyline class="line" points="{" ".join(run)}" fill="none" stroke="{colour}" '
        f'stroke-width="{stroke}"/>'
        for run in runs
        if len(run) > 1
    )
    return f'<g class="series">{paths}{"".join(marks)}</g>'


# -- the heat map ------------------------------------------------------------------------


def heat_map(heat: Mapping[tuple[int, int], Figures], t: Words) -> Markup:
    """Negative share per weekday (rows) and local hour (columns): when service goes wrong.

    Only the hours that have answers on some day are drawn, so a site open
    7-22 gets wide cells; an hour with fewer than MIN_ANSWERS answers is drawn
    pale with a dot, as its share is noise.
    """
    if not heat:
        return empty(t("no_answers"))
    hours = range(min(h for _, h in heat), max(h for _, h in heat) + 1)
    left, top, width = 44, 22, 900
    cell_w = (width - left - 4) / len(hours)
    cell_h = 24
    ranked = [f for f in heat.values() if not f.too_few] or list(heat.values())
    peak = max((f.negative_share or 0.0) for f in ranked)  # the darkest: the worst real hour
    peak = max(peak, 0.05)
    out = []
    every = _every(len(hours), cell_w, 2)
    for k, hour in enumerate(hours):
        if k % every == 0:
            out.append(
                f'<text x="{left + (k + 0.5) * cell_w:.1f}" y="14" text-anchor="middle" '
                f'fill="#607d8b">{hour:02d}</text>'
            )
    for day in range(7):
        y = top + day * cell_h
        out.append(
            f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{_t(t(f"weekday_{day}"))}</text>'
        )
        for k, hour in enumerate(hours):
            f = heat.get((day, hour))
            x = left + k * cell_w
            if f is None or not f.count:
                out.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                    f'fill="#fff" stroke="#eceff1"/>'
                )
                continue
            share = f.negative_share or 0.0
            level = min(share / peak, 1.0)
            opacity = 0.12 + 0.88 * level
            title = f"{t(f'weekday_{day}')} {hour:02d}: {t('negative')} {share:.0%}, n={f.count:,}"
            out.append(
                f'<rect class="hour" x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" '
                f'height="{cell_h - 1}" fill="#c62828" '
                f'fill-opacity="{opacity * (0.35 if f.too_few else 1):.2f}">'
                f"<title>{_t(title)}</title></rect>"
            )
            if f.too_few:
                out.append(
                    f'<circle cx="{x + cell_w / 2:.1f}" cy="{y + cell_h / 2:.1f}" r="1.6" '
                    f'fill="#546e7a"/>'
                )
    height = top + 7 * cell_h + 4
    return _svg(width, height, t("heat_map"), out, "heat")


# -- bars: reasons and months ------------------------------------------------------------


def reason_bars(
    reasons: Sequence[tuple[str, int]], answers: int, names: Mapping[str, str], t: Words
) -> Markup:
    """The reasons customers picked most, as a share of the cycle's answers."""
    items = list(reasons[:8])
    width, label_w, row_h = 900, 240, 24
    if not items:
        return empty(t("no_reasons"))
    peak = max(n for _, n in items)
    plot_w = width - label_w - 150
    chars = int((label_w - 12) / CHAR)
    out = []
    for i, (reason, n) in enumerate(items):
        y = 6 + i * row_h
        w = n / peak * plot_w
        share = n / answers if answers else 0
        name = names.get(reason, reason)
        out.append(
            f'<g class="reason"><title>{_t(name)}: '
            f"{_t(t('picked', n=f'{n:,}', share=f'{share:.1%}'))}</title>"
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_t(_clip(name, chars))}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
            f'fill="#5c6bc0"/><text x="{label_w + w + 6:.1f}" y="{y + 15}">{n:,} '
            f"({share:.0%})</text></g>"
        )
    return _svg(width, len(items) * row_h + 12, t("reasons"), out, "reasons")


def month_columns(months: Sequence[tuple[str, int]], window: int, t: Words) -> Markup:
    """Monthly volume of answers; the months the lifecycle rule judges are dark."""
    width, height, left, bottom = 900, 190, 50, 30
    if not months:
        return empty(t("no_months"))
    plot_w, plot_h = width - left - 10, height - bottom - 16
    peak = max(n for _, n in months) or 1
    slot_w = plot_w / len(months)
    every = _every(len(months), slot_w, 7)
    out = []
    for i, (month, n) in enumerate(months):
        judged = i >= len(months) - window
        h = n / peak * plot_h
        x = left + i * slot_w + slot_w * 0.15
        out.append(
            f'<rect class="month" x="{x:.1f}" y="{16 + plot_h - h:.1f}" width="{slot_w * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{"#37474f" if judged else "#b0bec5"}">'
            f"<title>{month}: {n:,}</title></rect>"
        )
        if (len(months) - 1 - i) % every == 0:  # the latest month always labelled
            out.append(
                f'<text x="{x + slot_w * 0.35:.1f}" y="{height - 12}" text-anchor="middle" '
                f'font-size="11" fill="#607d8b">{month}</text>'
            )
    out.append(
        f'<text x="{left}" y="11" fill="#37474f">'
        f"{_t(_clip(t('months_note', window=window), int(plot_w / CHAR)))}</text>"
    )
    return _svg(width, height, t("lifecycle"), out, "months")


__all__ = [
    "COLOURS",
    "MIN_ANSWERS",
    "faces_bar",
    "gap_chart",
    "heat_map",
    "month_columns",
    "reason_bars",
    "service_map",
    "small_multiple",
    "trend_chart",
]
