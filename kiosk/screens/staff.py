"""The staff menu: today's figures, alerts with their response path, the moment, exit.

Everything shown comes from core (``KioskSession.today()``,
``AlertingWorker.alerts()``, ``readiness_warnings()``); the screen only lays it
out. Loading runs off the UI thread, because the alert book waits while the
rule engine evaluates.

A staff member acknowledging an alert may give their name in the *Alerts*
tab; with the field left empty (or only spaces) the acknowledgement is recorded
as "staff at kiosk *id*". The name is outside text like any other: the field
takes no control character or bidi override (typed or pasted), and the name
reaches the alert cards only through ``plain()``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    DataTable,
    Input,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option

from servicecycle.core import Alert, MomentFigures, RuleFault, ServiceCycleError, SiteWarning

from ..plain import plain, plain_cell
from ..strings import Texts
from .base import KioskScreen

log = logging.getLogger(__name__)

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
#: The longest name a staff member may give when acknowledging an alert, and what it may
#: hold: anything but control characters and bidi overrides (a paste cannot bring them in).
MAX_NAME = 60
NAME_CHARACTERS = r"[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*"
#: Readiness warnings the kiosk words in the screen's language (by configuration key);
#: any other is shown as core words it.
WARNING_TEXTS = {"survey.url": "staff.warn_survey_url", "notify.receivers": "staff.warn_receivers"}


def _number(value: float | None, pattern: str = "{:.2f}") -> str:
    return "–" if value is None else pattern.format(value)


class StaffScreen(KioskScreen):
    RESET_AFTER = "idle"
    TEXT_KEYS = (
        "staff.title",
        "staff.demo_pin",
        "staff.tab_today",
        "staff.tab_alerts",
        "staff.tab_moment",
        "staff.col_moment",
        "staff.col_count",
        "staff.col_mean",
        "staff.col_gap",
        "staff.col_negative",
        "staff.col_reasons",
        "staff.no_ratings",
        "staff.no_alerts",
        "staff.rule_failing",
        "staff.rule_not_loaded",
        "staff.alerting_off",
        "staff.store_error",
        "staff.loading",
        "staff.ack",
        "staff.acked",
        "staff.response",
        "staff.firing",
        "staff.pending",
        "staff.severity_critical",
        "staff.severity_warning",
        "staff.severity_info",
        "staff.now_asking",
        "staff.switch_hint",
        "staff.back",
        "staff.exit",
        "staff.exit_confirm",
        "staff.ack_name",
        "staff.warn_survey_url",
        "staff.warn_receivers",
        "staff.hub_starting",
        "staff.hub_connected",
        "staff.hub_offline",
        "staff.hub_refused",
    )

    def __init__(self) -> None:
        super().__init__()
        self.exit_armed = False

    def extra_texts(self) -> Texts:
        session = self.session
        texts: Texts = dict(session.reason_texts(list(session.cycle.available_reasons)))
        for stage, moment in session.moments():
            texts[f"stage:{stage.id}"] = stage.name
            texts[f"moment:{moment.id}"] = moment.question
        return texts

    def compose(self) -> ComposeResult:
        texts = self.localise()
        with Horizontal(classes="header"):
            yield Static(plain(texts["staff.title"]), id="staff-title")
            yield Button(plain(texts["staff.back"]), id="back", variant="primary")
            yield Button(plain(texts["staff.exit"]), id="exit", variant="error")
        if self.session.default_pin_in_use:
            yield Static(plain(texts["staff.demo_pin"]), id="demo-pin")
        if self.session.membership is not None:
            yield Static(plain(self._hub_text()), id="hub-status")
        if self.kiosk.site_warnings:
            with Vertical(id="site-warnings"):
                for warning in self.kiosk.site_warnings:
                    yield Static(plain(self._warning_text(warning)), classes="site-warning")
        with TabbedContent(id="staff-tabs"):
            with TabPane(plain(texts["staff.tab_today"]), id="tab-today"):
                yield Static(plain(texts["staff.loading"]), id="today-note")
                yield DataTable(id="today", cursor_type="row", zebra_stripes=True)
            with TabPane(plain(texts["staff.tab_alerts"]), id="tab-alerts"):
                with Horizontal(id="ack-by"):
                    yield Static(plain(texts["staff.ack_name"]), id="ack-name-label")
                    yield Input(id="ack-name", max_length=MAX_NAME, restrict=NAME_CHARACTERS)
                yield VerticalScroll(id="alerts")
            with TabPane(plain(texts["staff.tab_moment"]), id="tab-moment"):
                yield Static(plain(self._now_asking()), id="now-asking")
                yield Static(plain(texts["staff.switch_hint"]))
                yield OptionList(*self._moment_options(), id="moments")

    def on_mount(self) -> None:
        table = self.query_one("#today", DataTable)
        for key in ("col_moment", "col_count", "col_mean", "col_gap", "col_negative"):
            table.add_column(plain_cell(self.texts[f"staff.{key}"]), key=key)
        table.add_column(plain_cell(self.texts["staff.col_reasons"]), key="col_reasons")
        self.load_today()
        self.load_alerts()
        if self.session.membership is not None:
            self.set_interval(2.0, self._show_hub)

    # -- the hub -------------------------------------------------------------------

    def _hub_text(self) -> str:
        status = self.session.hub_status()
        if status is None or status.connected is None:
            return self.texts.fill("staff.hub_starting", waiting=status.waiting if status else 0)
        if status.refused:
            return self.texts.fill("staff.hub_refused", waiting=status.waiting)
        if status.connected:
            return self.texts.fill(
                "staff.hub_connected", waiting=status.waiting, set_aside=status.set_aside
            )
        since = datetime.fromtimestamp(status.offline_since or 0).astimezone(
            self.session.config.site.zone
        )
        return self.texts.fill("staff.hub_offline", since=f"{since:%H:%M}", waiting=status.waiting)

    def _show_hub(self) -> None:
        self.query_one("#hub-status", Static).update(plain(self._hub_text()))

    def _warning_text(self, warning: SiteWarning) -> str:
        key = WARNING_TEXTS.get(warning.key)
        if key is None:
            return str(warning)
        return self.texts.fill(key, url=self.session.config.survey.url)

    # -- today's figures -----------------------------------------------------------

    @work(group="staff-today", exclusive=True)
    async def load_today(self) -> None:
        note = self.query_one("#today-note", Static)
        try:
            figures = await self.kiosk.store.run(self.session.today)
        except ServiceCycleError as exc:
            log.error("staff screen: today's figures unavailable: %s", exc)
            figures = None
        if not self.is_active:
            return  # the menu was left while core worked: nothing here to fill in
        if figures is None:
            note.update(plain(self.texts["staff.store_error"]))
            return
        table = self.query_one("#today", DataTable)
        table.clear()
        for entry in figures:
            key = f"{entry.cycle}/{entry.moment}"
            table.add_row(*(plain_cell(cell) for cell in self._figure_row(entry)), key=key)
        note.update(plain("" if figures else self.texts["staff.no_ratings"]))
        note.display = not figures

    def _figure_row(self, entry: MomentFigures) -> tuple[str, ...]:
        mark = "★ " if entry.critical else "  "
        if entry.cycle == self.session.cycle.id:
            moment = self.texts.get(f"moment:{entry.moment}", entry.moment)
        else:
            moment = f"{entry.cycle}/{entry.moment}"
        reasons = ", ".join(
            f"{self.texts.get(f'reason:{reason}', reason)} ({count})"
            for reason, count in entry.top_reasons()
        )
        share = entry.negative_share
        return (
            mark + moment,
            str(entry.count),
            _number(entry.mean),
            _number(entry.gap, "{:+.2f}"),
            _number(None if share is None else share * 100, "{:.0f}%"),
            reasons or "–",
        )

    # -- alerts --------------------------------------------------------------------

    @work(group="staff-alerts", exclusive=True)
    async def load_alerts(self) -> None:
        box = self.query_one("#alerts", VerticalScroll)
        worker = self.kiosk.alerting
        if worker is None:
            await box.remove_children()
            await box.mount(Static(plain(self.texts["staff.alerting_off"]), classes="note"))
            return
        try:
            alerts = await asyncio.to_thread(worker.alerts)
            faults = await asyncio.to_thread(worker.faults)
        except ServiceCycleError as exc:
            log.error("staff screen: alerts unavailable: %s", exc)
            alerts, faults = None, []
        if not self.is_active:
            return  # the menu was left while the alert book was read
        await box.remove_children()
        for fault in faults:  # a rule that cannot alert is itself something to act on
            await box.mount(self._fault_card(fault))
        if alerts is None:
            await box.mount(Static(plain(self.texts["staff.store_error"]), classes="note"))
            return
        if not alerts:
            await box.mount(Static(plain(self.texts["staff.no_alerts"]), classes="note"))
            return
        alerts.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.since))
        for alert in alerts:
            await box.mount(self._alert_card(alert))

    def _fault_card(self, fault: RuleFault) -> Static:
        key = "staff.rule_not_loaded" if fault.stage == "load" else "staff.rule_failing"
        text = self.texts.fill(key, rule=fault.rule or "–", message=fault.message)
        return Static(plain(text), classes="rule-fault")

    def _alert_card(self, alert: Alert) -> Vertical:
        texts = self.texts
        severity = texts.get(f"staff.severity_{alert.severity}", alert.severity)
        state = texts.get(f"staff.{alert.state.value}", alert.state.value)
        parts = [
            Static(plain(f"{severity} · {state} · {alert.short_id}"), classes="alert-head"),
            Static(plain(alert.summary), classes="alert-summary"),
        ]
        if alert.response:
            parts.append(
                Static(
                    plain(f"{texts['staff.response']}: {alert.response}"),
                    classes="alert-response",
                )
            )
        if alert.acknowledged_by:
            acked = texts.fill("staff.acked", by=alert.acknowledged_by)
            parts.append(Static(plain(acked), classes="alert-acked"))
        else:
            parts.append(
                Button(plain(texts["staff.ack"]), id=f"ack-{alert.short_id}", classes="ack")
            )
        return Vertical(*parts, classes=f"alert severity-{alert.severity}")

    @on(Button.Pressed, ".ack")
    async def _acknowledge(self, event: Button.Pressed) -> None:
        event.stop()
        worker = self.kiosk.alerting
        if worker is None or event.button.id is None:
            return
        short_id = event.button.id.removeprefix("ack-")
        event.button.disabled = True
        by = self.acknowledger()
        try:
            await asyncio.to_thread(worker.acknowledge, short_id, by)
        except ServiceCycleError as exc:
            log.error("could not acknowledge alert %s: %s", short_id, exc)
        if self.is_active:
            self.load_alerts()

    def acknowledger(self) -> str:
        """The name typed in the *Alerts* tab, or the kiosk's "staff at kiosk *id*"."""
        return self.query_one("#ack-name", Input).value.strip() or self.kiosk.staff_name

    # -- the moment asked about ----------------------------------------------------

    def _now_asking(self) -> str:
        moment = self.session.moment
        return f"{self.texts['staff.now_asking']}: {self.texts[f'moment:{moment.id}']}"

    def _moment_options(self) -> list[Option]:
        options = []
        for stage, moment in self.session.moments():
            mark = "★" if moment.critical else " "
            current = "▶" if moment.id == self.session.moment.id else " "
            prompt = (
                f"{current}{mark} {self.texts[f'stage:{stage.id}']}: "
                f"{self.texts[f'moment:{moment.id}']}"
            )
            options.append(Option(plain(prompt), id=moment.id))
        return options

    @on(OptionList.OptionSelected, "#moments")
    def _switch_moment(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.kiosk.switch_moment(event.option.id)

    # -- leaving -------------------------------------------------------------------

    @on(Button.Pressed, "#back")
    def _back(self, event: Button.Pressed) -> None:
        event.stop()
        self.kiosk.leave_staff()

    @on(Button.Pressed, "#exit")
    def _exit(self, event: Button.Pressed) -> None:
        """Two presses: a stray tap on the way past must not take the kiosk down."""
        event.stop()
        if self.exit_armed:
            self.kiosk.staff_exit()
            return
        self.exit_armed = True
        event.button.label = plain(self.texts["staff.exit_confirm"])

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            self.kiosk.leave_staff()
