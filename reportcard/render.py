"""One rendering of the report card: the offline HTML file and the console's page.

Both come from the same Jinja2 templates (``templates/report_body.html``): the
file wraps the body in ``report.html`` with the stylesheet inlined, so it opens
offline, prints, and can be mailed; the console includes the same body in its
own page and links the same stylesheet. Names are the plugins' names in the
report's language (:class:`~.words.Words` picks one language for the words).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2
from markupsafe import Markup

from servicecycle.core.reports.figures import MIN_ANSWERS, Figures
from servicecycle.core.reports.format import (
    NO_VALUE,
    count_text,
    delta_text,
    index_text,
    mean_text,
    number,
    percent,
    share_text,
    standing,
)
from servicecycle.core.reports.lifecycle import WINDOW, Lifecycle
from servicecycle.core.reports.model import CycleReport, Report

from . import charts
from .words import Words

#: The stylesheet, inlined in the file and served by the console.
CSS = files(__package__).joinpath("report.css").read_text("utf-8")


@cache
def environment() -> jinja2.Environment:
    """The templates, for this package and for a page that includes the report's body."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install(env)
    return env


def install(env: jinja2.Environment) -> None:
    """Give ``env`` what ``report_body.html`` uses (the console's environment calls this)."""
    env.globals.update(
        charts=charts,
        standing=standing,
        MIN_ANSWERS=MIN_ANSWERS,
        WINDOW=WINDOW,
        NO_VALUE=NO_VALUE,
        gap_with_interval=gap_with_interval,
        phase_text=phase_text,
        why_text=why_text,
        stage_names_of=lambda cycle: {stage.stage: stage.name for stage in cycle.stages},
    )
    env.filters.update(
        mean=mean_text,
        share=lambda f: share_text(f.csat, f.csat_ci),
        negative=lambda f: share_text(f.negative_share, f.negative_ci),
        index=index_text,
        count=lambda f: f"{f.count:,}",
        percent=percent,
        number=number,
        delta=delta_text,
        plain_count=count_text,
    )


def gap_with_interval(f: Figures) -> str:
    """``+0.42 (+0.31 … +0.53)``: promised minus perceived, with its 95 % interval."""
    if f.gap is None:
        return NO_VALUE
    if f.gap_ci is None:
        return f"{f.gap:+.2f}"
    return f"{f.gap:+.2f} ({f.gap_ci.low:+.2f} … {f.gap_ci.high:+.2f})"


def phase_text(life: Lifecycle, t: Words) -> str:
    return t(f"phase_{life.phase}") if life.phase else t("phase_none")


def why_text(life: Lifecycle, t: Words) -> str:
    """Why the lifecycle is in its phase, in the report's words (as core explains it)."""
    if life.phase is None:
        return t("why_none")
    if life.phase == "introduction":
        return t("why_introduction", n=len(life.months))
    if life.r6 is None or life.r3 is None:
        return t("why_quiet")
    return t("why_trend", r6=f"{life.r6:+.1%}", r3=f"{life.r3:+.1%}")


def context(
    report: Report,
    language: str,
    *,
    site_names: Mapping[str, str] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """What ``report_body.html`` needs: the report, its words, and names for ids."""
    t = Words(language)
    scope = report.scope
    names = dict(site_names or {})
    site = title or report.site_name or report.site_id or t("all_sites")
    filters = [
        ", ".join(c.name for c in report.cycles) if scope.cycles else t("all_cycles"),
        names.get(scope.site, scope.site)
        if scope.site
        else (
            ", ".join(names.get(s, s) for s in sorted(scope.sites))
            if scope.sites
            else t("all_sites")
        ),
        scope.kiosk or t("all_kiosks"),
        scope.language or t("all_languages"),
        t("suspect_in") if scope.include_suspect else t("suspect_out"),
    ]
    return {
        "report": report,
        "t": t,
        "lang": t.language,
        "site": site,
        "filters": " · ".join(filters),
        "site_names": names,
        "cycles": report.cycles,
    }


def render_document(
    report: Report,
    language: str = "en",
    *,
    site_names: Mapping[str, str] | None = None,
    title: str | None = None,
) -> str:
    """The whole report as one self-contained HTML document: no script, no link."""
    page = context(report, language, site_names=site_names, title=title)
    return environment().get_template("report.html").render(css=Markup(CSS), **page)


def cycle_anchor(cycle: CycleReport) -> str:
    return f"cycle-{cycle.cycle}"
