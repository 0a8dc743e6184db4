"""The report for other tools: JSON (the whole report) and CSV (one flat table).

The JSON form is :meth:`Report.to_json` — every figure with its interval, the
comparison with the previous period, series, lifecycle and survey — under
``"format": "servicecycle-report"`` and a version number.

The CSV form is one table a spreadsheet can filter: one row per figure
holder, with a ``section`` column saying what the row is (``cycle``,
``stage``, ``moment``, ``site``, ``kiosk``, ``language``, ``day``/``week``,
``month``, ``hour`` (the heat map's weekday and local hour), ``survey-stage``);
``name`` is the cycle's, stage's or moment's name in the report's language and
``faces`` the answers per face (``5:2/1/4/9/20``). Shares are fractions (0.78,
not 78 %), empty cells mean "no value".
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO

from .figures import Figures
from .model import Report
from .stats import Interval
from .trend import Comparison

FORMATS = ("terminal", "html", "json", "csv")

COLUMNS = (
    "section",
    "cycle",
    "stage",
    "moment",
    "key",
    "critical",
    "target",
    "count",
    "too_few",
    "mean",
    "mean_low",
    "mean_high",
    "index",
    "index_low",
    "index_high",
    "csat",
    "csat_low",
    "csat_high",
    "negative_share",
    "negative_low",
    "negative_high",
    "gap",
    "gap_low",
    "gap_high",
    "previous_count",
    "previous_mean",
    "change_mean",
    "change_mean_beyond_noise",
    "change_csat",
    "change_csat_beyond_noise",
    "change_negative_share",
    "change_negative_share_beyond_noise",
    "top_reasons",
    "name",
    "faces",
)

#: The heat map's rows are keyed ``"<weekday> <hour>"``, e.g. ``"Monday 09"``.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def write_json(report: Report, out: TextIO) -> None:
    # one write: json.dump would hand ``out`` a hundred thousand small pieces
    out.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")


def _ends(prefix: str, interval: Interval | None) -> dict[str, Any]:
    if interval is None:
        return {f"{prefix}_low": None, f"{prefix}_high": None}
    return {f"{prefix}_low": interval.low, f"{prefix}_high": interval.high}


def _figures(f: Figures) -> dict[str, Any]:
    return {
        "target": f.target,
        "count": f.count,
        "too_few": f.too_few,
        "mean": f.mean,
        **_ends("mean", f.mean_ci),
        "index": f.index,
        **_ends("index", f.index_ci),
        "csat": f.csat,
        **_ends("csat", f.csat_ci),
        "negative_share": f.negative_share,
        **_ends("negative", f.negative_ci),
        "gap": f.gap,
        **_ends("gap", f.gap_ci),
        "top_reasons": ";".join(f"{reason}:{n}" for reason, n in f.reasons[:5]),
        "faces": ";".join(
            f"{scale}:" + "/".join(map(str, counts)) for scale, counts in sorted(f.faces.items())
        ),
    }


def _compared(c: Comparison) -> dict[str, Any]:
    return {
        "previous_count": c.previous.count,
        "previous_mean": c.previous.mean,
        "change_mean": c.mean.change,
        "change_mean_beyond_noise": c.mean.beyond_noise,
        "change_csat": c.csat.change,
        "change_csat_beyond_noise": c.csat.beyond_noise,
        "change_negative_share": c.negative_share.change,
        "change_negative_share_beyond_noise": c.negative_share.beyond_noise,
    }


def rows(report: Report) -> Iterator[dict[str, Any]]:
    """Every row of the CSV form, as dicts keyed by :data:`COLUMNS`."""
    for cycle in report.cycles:
        base = {"cycle": cycle.cycle}
        yield {
            "section": "cycle",
            **base,
            "name": cycle.name,
            **_figures(cycle.figures),
            **_compared(cycle.comparison),
        }
        for stage in cycle.stages:
            yield {
                "section": "stage",
                **base,
                "stage": stage.stage,
                "name": stage.name,
                "critical": stage.critical,
                **_figures(stage.figures),
                **_compared(stage.comparison),
            }
        for line in cycle.card:
            yield {
                "section": "moment",
                **base,
                "stage": line.stage,
                "moment": line.moment,
                "name": line.name,
                "critical": line.critical,
                **_figures(line.figures),
                **_compared(line.comparison),
            }
        for section, slices in (
            ("site", cycle.by_site),
            ("kiosk", cycle.by_kiosk),
            ("language", cycle.by_language),
        ):
            for item in slices:
                yield {"section": section, **base, "key": item.key, **_figures(item.figures)}
        for point in cycle.series:
            yield {
                "section": cycle.every,
                **base,
                "key": point.start.isoformat(),
                **_figures(point.figures),
            }
        for month, count in cycle.lifecycle.months:
            yield {"section": "month", **base, "key": month, "count": count}
        for (weekday, hour), f in sorted(cycle.heat.items()):
            yield {
                "section": "hour",
                **base,
                "key": f"{WEEKDAYS[weekday]} {hour:02d}",
                **_figures(f),
            }
    if report.survey is not None:
        for survey_cycle in report.survey.cycles:
            for stage in survey_cycle.stages:
                yield {
                    "section": "survey-stage",
                    "cycle": survey_cycle.cycle,
                    "stage": stage.stage,
                    "critical": stage.critical,
                    **_figures(stage.figures),
                }


def write_csv(report: Report, out: TextIO) -> int:
    """Write the CSV form; returns the number of data rows."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    count = 0
    for row in rows(report):
        writer.writerow({key: _cell(row.get(key)) for key in COLUMNS})
        count += 1
    return count


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
