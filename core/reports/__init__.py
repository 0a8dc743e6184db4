"""Reports for managers: the service map, the report card, trend, lifecycle and survey.

Managers do not read raw ratings. A report reads the store once (through
per-partition summaries, see :mod:`.summary_cache`) and gives, per cycle:
the service map (every stage in order with its score), the report card
(critical moments first), the gap between the promised level and the
perceived one, the trend against the previous period, and the phase of the
service's lifecycle. docs/reports.md defines every figure.

Rendering is not core's job: the CLI draws a report in the terminal, the
``servicecycle.reportcard`` package draws it as HTML (the offline file and the
console's page, from the same templates); :mod:`.export` writes JSON and CSV.
"""

from .build import ReportRequest, build_report
from .collect import Scope
from .figures import MIN_ANSWERS, Figures, Tally, figures
from .model import CycleReport, MomentLine, Report, StageLine
from .period import Period, default_period, period_from

__all__ = [
    "MIN_ANSWERS",
    "CycleReport",
    "Figures",
    "MomentLine",
    "Period",
    "Report",
    "ReportRequest",
    "Scope",
    "StageLine",
    "Tally",
    "build_report",
    "default_period",
    "figures",
    "period_from",
]
