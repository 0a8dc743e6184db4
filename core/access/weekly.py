"""The weekly report card by e-mail: each manager gets their sites' card, in their language.

Prometheus-style semantics, kept small: a send is *due* once per (user, site,
week) at the site's own weekday and time (``[hub] weekly_report``, a site may
override it); it is recorded only after the SMTP server took it, so a hub
stopped mid-send sends it again when it starts (the Message-ID is derived from
(user, site, week), so a repeat is recognisably the same mail), and a send more
than a day late is dropped instead of arriving on the wrong day. Delivery is
the ``email`` notifier's (:meth:`EmailNotifier.deliver`): the receiver named by
``[hub] report_receiver`` gives the server, login and From; the address is the
user's own. Core builds the report; the HTML body comes from the caller's
renderer (the report card package), as core renders no HTML.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING

from ..alerting.email_notifier import EmailNotifier
from ..alerting.notification import DeliveryError
from ..alerting.notifiers import build_notifier, builtin_notifiers
from ..config import WEEKDAYS
from ..errors import ServiceCycleError
from ..reports.format import mean_text, percent
from ..reports.period import Period, local_midnight
from .reports import ReportDesk
from .users import UserBook, open_db

if TYPE_CHECKING:
    from ..fleet.chain import Chain
    from ..reports import Report
    from ..runtime import Runtime
    from .roles import User

log = logging.getLogger(__name__)

#: (report, language, site names) -> the self-contained HTML report card.
Renderer = Callable[["Report", str, Mapping[str, str]], str]
#: A send later than this after its time is dropped: it would arrive on the wrong day.
LATE = timedelta(days=1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS weekly_sent (
    name TEXT NOT NULL COLLATE NOCASE, site TEXT NOT NULL, week TEXT NOT NULL,
    sent REAL NOT NULL, address TEXT NOT NULL, PRIMARY KEY (name, site, week)
);
"""


@dataclass(frozen=True)
class Due:
    """One weekly report card to send: to ``user``, of ``site``, scheduled at ``at``."""

    user: User
    site: str
    at: datetime  # the scheduled time, aware (site time)

    @property
    def week(self) -> str:
        return self.at.date().isoformat()


class WeeklyMail:
    """Which weekly cards are due, and sending them."""

    def __init__(self, runtime: Runtime, chain: Chain, state_dir: Path, render: Renderer) -> None:
        hub = runtime.config.hub
        if hub.report_receiver is None:
            raise ServiceCycleError(
                "no weekly report card: set [hub] report_receiver to an email receiver of "
                "[notify.receivers] (see docs/console.md)"
            )
        self.runtime, self.chain, self.render = runtime, chain, render
        self.users = UserBook(state_dir)
        self.desk = ReportDesk(runtime, chain)
        self.db = open_db(state_dir)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        receiver = runtime.config.notify.all_receivers[hub.report_receiver]
        notifier = build_notifier(
            hub.report_receiver,
            "email",
            builtin_notifiers()["email"],
            receiver.settings,
            timezone=runtime.config.site.zone,
            source=runtime.config.source,
        )
        assert isinstance(notifier, EmailNotifier)
        self.notifier = notifier

    def close(self) -> None:
        self.users.close()
        self.db.close()

    def schedule(self, site: str) -> tuple[int, time]:
        """The weekday (0 = Monday) and local time of ``site``'s weekly card."""
        chosen = self.chain.sites[site].weekly_report or self.runtime.config.hub.weekly_report
        hour, minute = map(int, chosen.time.split(":"))
        return WEEKDAYS.index(chosen.day), time(hour, minute)

    def last_time(self, site: str, now: datetime) -> datetime:
        """The latest scheduled time of ``site``'s card at or before ``now``."""
        weekday, at = self.schedule(site)
        zone = self.chain.sites[site].zone
        local = now.astimezone(zone)
        day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
        when = datetime.combine(day, at, tzinfo=zone)
        return when if when <= local else datetime.combine(day - timedelta(days=7), at, zone)

    def due(self, now: datetime | None = None) -> list[Due]:
        """Every card whose time has come in the last day and that was not sent yet."""
        now = now or datetime.now(UTC)
        found = []
        for user in self.users.users():
            if not user.email or not user.can("reports"):
                continue
            for site in user.sites(self.chain):
                at = self.last_time(site, now)
                if now - at <= LATE and not self.sent(user.name, site, at.date().isoformat()):
                    found.append(Due(user, site, at))
        return found

    def sent(self, name: str, site: str, week: str) -> bool:
        with self.lock:
            row = self.db.execute(
                "SELECT 1 FROM weekly_sent WHERE name = ? AND site = ? AND week = ?",
                (name, site, week),
            ).fetchone()
        return row is not None

    def message(self, due: Due) -> EmailMessage:
        """The card of the 7 local days before its time, in the user's language."""
        zone = self.chain.sites[due.site].zone
        end = due.at.date()
        period = Period(
            local_midnight(end - timedelta(days=7), zone), local_midnight(end, zone), zone
        )
        scope = self.desk.scope(due.user, f"site:{due.site}")
        report = self.desk.build(due.user, scope, period, due.user.language)
        html = self.render(report, due.user.language, self.desk.site_names())
        settings = self.notifier.settings
        mail = EmailMessage()
        mail["Subject"] = f"{scope.title} · {period.label()}"
        mail["From"] = settings.from_
        mail["To"] = due.user.email
        mail["Date"] = format_datetime(datetime.now(UTC))
        key = sha256(f"{due.user.name}\n{due.site}\n{due.week}".encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<weekly-{key}@servicecycle>"
        mail.set_content(_summary(report, scope.title))
        mail.add_alternative(html, subtype="html")
        name = f"report-{due.site}-{period.label().replace(' – ', '_')}.html"
        mail.add_attachment(html.encode("utf-8"), maintype="text", subtype="html", filename=name)
        return mail

    def send(self, due: Due) -> None:
        """Send one card and record it; :class:`DeliveryError` leaves it due."""
        mail = self.message(due)
        self.notifier.deliver(mail)
        with self.lock, self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO weekly_sent (name, site, week, sent, address) "
                "VALUES (?, ?, ?, ?, ?)",
                (due.user.name, due.site, due.week, datetime.now(UTC).timestamp(), due.user.email),
            )
        log.info("weekly report card of %s sent to %s", due.site, due.user.name)

    def run_once(self, now: datetime | None = None) -> tuple[int, list[str]]:
        """Send every due card; returns (sent, problems). A failed one stays due."""
        sent, problems = 0, []
        for item in self.due(now):
            try:
                self.send(item)
                sent += 1
            except (DeliveryError, ServiceCycleError) as exc:
                problems.append(f"{item.user.name} ({item.site}): {exc}")
                log.warning("weekly report card of %s to %s: %s", item.site, item.user.name, exc)
        return sent, problems


def _summary(report: Report, title: str) -> str:
    """The plain-text part: the headline figures, for mail readers without HTML."""
    lines = [f"{title} · {report.period.label()}", ""]
    for cycle in report.cycles:
        f = cycle.figures
        lines.append(
            f"{cycle.name}: {f.count:,} · {mean_text(f)} · CSAT {percent(f.csat)} · "
            f"gap {'' if f.gap is None else f'{f.gap:+.2f}'}"
        )
        for line in cycle.widest_gaps[:3]:
            lines.append(f"  ★ {line.name}: {mean_text(line.figures)} / {line.target:.2f}")
    if not report.cycles:
        lines.append("—")
    return "\n".join(lines) + "\n"
