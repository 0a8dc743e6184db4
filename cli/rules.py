"""`servicecycle rules ...` and `servicecycle alerts ...`: write, test and tune alert rules."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from servicecycle.core import AlertState, RatingFilter, RuleFault, ServiceCycleError, printable
from servicecycle.core.alerting import Dispatcher
from servicecycle.core.rules import (
    AlertBook,
    Alerting,
    RuleEngine,
    RuleSet,
    format_duration,
    parse_duration,
    site_ruleset,
)
from servicecycle.core.rules.checks import run_rule_tests
from servicecycle.core.rules.loader import ruleset_from_files

from .render import console

out = console(soft_wrap=True)
err = console(stderr=True)

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _severity(severity: str) -> Text:
    return Text(printable(severity), SEVERITY_STYLE.get(severity, ""))


def _key(key: tuple[tuple[str, str], ...]) -> str:
    """An alert's key as ``site=a, moment=b``, shown as plain text."""
    return printable(", ".join(f"{k}={v}" for k, v in key))


def _parse_time(value: str | None, option: str) -> datetime | None:
    from .main import _parse_time as parse

    return parse(value, option)


@click.group()
def rules() -> None:
    """List, check, test and replay alert rules."""


@rules.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_rules(state: object, as_json: bool) -> None:
    """Every rule, where it came from, and whether this site changed it."""
    runtime = state.runtime  # type: ignore[attr-defined]
    ruleset = site_ruleset(runtime)
    failing = {f.rule: f for f in AlertBook(runtime.store).faults() if f.stage == "run"}
    rows = [
        (loaded, "failing" if loaded.rule.id in failing else "active")
        for loaded in ruleset.rules.values()
    ]
    rows += [(loaded, "disabled") for loaded in ruleset.disabled.values()]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": loaded.rule.id,
                        "kind": loaded.rule.kind,
                        "severity": loaded.rule.severity,
                        "status": status,
                        "origin": loaded.origin,
                        "changed_by_site": loaded.changed_by_site,
                        "threshold": loaded.rule.describe_threshold(),
                        "fault": failing[loaded.rule.id].message
                        if loaded.rule.id in failing
                        else None,
                    }
                    for loaded, status in rows
                ],
                indent=2,
            )
        )
        return
    table = Table(title="Alert rules", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for column in ("kind", "severity", "fires on", "key", "from", "site changes"):
        table.add_column(column, overflow="fold")
    for loaded, status in sorted(rows, key=lambda r: r[0].rule.id):
        rule = loaded.rule
        style = "dim" if status == "disabled" else ""
        table.add_row(
            printable(rule.id),
            Text(status, "bold red" if status == "failing" else ""),
            printable(rule.kind),
            _severity(rule.severity),
            printable(rule.describe_threshold()),
            printable(", ".join(rule.key_by)),
            printable(loaded.origin),
            printable("; ".join(loaded.changed_by_site) or "-"),
            style=style,
        )
    out.print(table)
    _print_problems(ruleset)
    for fault in failing.values():
        err.print(_fault_line(fault))


def _print_problems(ruleset: RuleSet) -> None:
    for problem in ruleset.problems:
        err.print(Text.assemble(("✗", "red"), f" {printable(problem)}"))


def _fault_line(fault: RuleFault) -> Text:
    """A broken rule, as staff read it wherever alerts are listed."""
    return Text.assemble(("✗ ", "bold red"), printable(str(fault)))


@rules.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def check(state: object, files: tuple[Path, ...]) -> None:
    """Validate rule FILES: file, line, rule id, the bad key or value and what is allowed."""
    ruleset = ruleset_from_files(files, state.runtime.catalogue)  # type: ignore[attr-defined]
    for problem in ruleset.problems:
        out.print(Text.assemble(("✗", "red"), f" {printable(problem)}"))
    if ruleset.problems:
        raise SystemExit(1)
    names = ", ".join(map(str, files))
    out.print(
        Text.assemble(("✓", "green"), f" {len(ruleset.rules):,} rules ok in {printable(names)}")
    )


@rules.command(name="test")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def test_rules(state: object, files: tuple[Path, ...]) -> None:
    """Run rule unit tests: timed ratings in, expected alerts out (exit 1 on failure)."""
    runtime = state.runtime  # type: ignore[attr-defined]
    site_rules = None
    failed = total = 0
    for path in files:
        try:
            results = run_rule_tests(path, runtime.catalogue, site_rules, runtime.config.site)
        except ServiceCycleError as exc:
            if "give rule_files" not in str(exc):
                raise
            site_rules = site_ruleset(runtime).active()
            results = run_rule_tests(path, runtime.catalogue, site_rules, runtime.config.site)
        for result in results:
            total += 1
            mark = ("PASS", "green") if result.passed else ("FAIL", "red")
            out.print(Text.assemble(mark, f" {printable(path)}: {printable(result.name)}"))
            if not result.passed:
                failed += 1
                for failure in result.failures:
                    out.print(f"       {printable(failure)}")
    out.print(f"{total - failed:,} passed, {failed:,} failed")
    if failed:
        raise SystemExit(1)


@rules.command()
@click.option("--since", metavar="TIME", required=True, help="Start of the history (ISO 8601).")
@click.option("--until", metavar="TIME", help="End of the history (default: now).")
@click.option(
    "--rules",
    "rule_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replay these rule files instead of the site's rules (repeat).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
@click.pass_obj
def replay(
    state: object, since: str, until: str | None, rule_files: tuple[Path, ...], as_json: bool
) -> None:
    """Run stored history through rules and list the alerts that would have fired."""
    runtime = state.runtime  # type: ignore[attr-defined]
    start = _parse_time(since, "--since")
    end = _parse_time(until, "--until") or datetime.now(UTC)
    if rule_files:
        ruleset = ruleset_from_files(rule_files, runtime.catalogue)
    else:
        ruleset = site_ruleset(runtime)
    _print_problems(ruleset)
    engine = RuleEngine(ruleset.active(), runtime.catalogue, runtime.config.site)
    where = RatingFilter(since=start, until=end)
    days = len(runtime.store.ratings.table.partitions(*where.time_range()))
    fired = []
    progress = Progress(
        TextColumn("replaying", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=days < 3,
    )
    with progress:
        task = progress.add_task("replay", total=days)
        day = None
        count = 0

        def ratings():  # noqa: ANN202 - local generator feeding the progress bar
            nonlocal day, count
            for rating in runtime.store.ratings.query(where):
                current = rating.at.date()
                if current != day:
                    if day is not None:
                        progress.advance(task)
                    day = current
                count += 1
                yield rating

        for alert, _previous in engine.replay(ratings(), until=end):
            if alert.state is AlertState.FIRING:
                fired.append(alert)
    if as_json:
        for alert in fired:
            click.echo(
                json.dumps(
                    {
                        "at": alert.since.isoformat(),
                        "rule": alert.rule,
                        "key": dict(alert.key),
                        "severity": alert.severity,
                        "summary": alert.summary,
                    },
                    ensure_ascii=False,
                )
            )
        return
    if not count:
        out.print("No ratings in this period: nothing to replay.")
        return
    table = Table(
        title=f"Alerts that would have fired ({count:,} ratings replayed)", title_justify="left"
    )
    for column in ("fired at (UTC)", "rule", "severity", "key", "summary"):
        table.add_column(column, overflow="fold")
    for alert in fired:
        table.add_row(
            f"{alert.since:%Y-%m-%d %H:%M}",
            printable(alert.rule),
            _severity(alert.severity),
            _key(alert.key),
            printable(alert.summary),
        )
    out.print(table if fired else f"No alert would have fired ({count:,} ratings replayed).")


@click.group(invoke_without_command=True)
@click.pass_context
def alerts(ctx: click.Context) -> None:
    """List current alerts, acknowledge them, or run the alerting loop."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_alerts)


@alerts.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_alerts(state: object, as_json: bool = False) -> None:
    """Alerts pending or firing now, with their response path."""
    book = AlertBook(state.runtime.store)  # type: ignore[attr-defined]
    current = book.current()
    faults = book.faults()
    if as_json:
        for fault in faults:  # on stderr, so the output stays one JSON list
            err.print(_fault_line(fault))
        click.echo(
            json.dumps(
                [
                    {
                        "id": a.short_id,
                        "fingerprint": a.fingerprint,
                        "state": str(a.state),
                        "rule": a.rule,
                        "severity": a.severity,
                        "key": dict(a.key),
                        "since": a.since.isoformat(),
                        "summary": a.summary,
                        "response": a.response,
                        "acknowledged_by": a.acknowledged_by,
                    }
                    for a in current
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    for fault in faults:
        out.print(_fault_line(fault))
    if not current:
        out.print("No alert is pending or firing.")
        return
    for alert in sorted(current, key=lambda a: (a.severity != "critical", a.since)):
        by = alert.acknowledged_by
        out.print(
            Text.assemble(
                (
                    printable(f"{alert.state.upper()} {alert.severity}"),
                    SEVERITY_STYLE.get(alert.severity, ""),
                ),
                " ",
                (printable(alert.short_id), "bold"),
                f" {printable(alert.rule)} ({_key(alert.key)}) since ",
                f"{alert.since:%Y-%m-%d %H:%M} UTC",
                f" · acknowledged by {printable(by)}" if by else "",
            )
        )
        out.print(f"    {printable(alert.summary)}")
        out.print(Text(f"    → {printable(alert.response)}", "italic"))


@alerts.command()
@click.argument("alert_id")
@click.option("--by", required=True, help="Who acknowledges (name or staff id).")
@click.option("--note", default="", help="What is being done.")
@click.pass_obj
def ack(state: object, alert_id: str, by: str, note: str) -> None:
    """Acknowledge ALERT_ID (the short id from `servicecycle alerts`): repeats stop."""
    alert = AlertBook(state.runtime.store).acknowledge(alert_id, by, note)  # type: ignore[attr-defined]
    out.print(
        f"acknowledged {printable(alert.short_id)} {printable(alert.rule)} by {printable(by)}"
    )


@alerts.command()
@click.option("--interval", default=2.0, show_default=True, help="Seconds between evaluations.")
@click.option("--once", is_flag=True, help="Evaluate once and exit (for cron and tests).")
@click.pass_obj
def run(state: object, interval: float, once: bool) -> None:
    """Follow the store and evaluate the site's rules until interrupted."""
    runtime = state.runtime  # type: ignore[attr-defined]
    dispatcher = Dispatcher.from_config(runtime.config, runtime.store, runtime.plugins)
    alerting = Alerting(runtime, dispatcher=dispatcher)
    _print_problems(alerting.ruleset)
    err.print(
        f"evaluating {len(alerting.ruleset.active()):,} rules on {printable(runtime.data_dir)} "
        f"(history window {printable(format_duration(alerting.engine.horizon))})"
    )
    reported: set[tuple[str | None, str]] = set()
    try:
        while True:
            transitions = alerting.poll()
            for fault in alerting.faults():  # each broken rule once, not every tick
                if fault.stage == "run" and (key := (fault.rule, fault.message)) not in reported:
                    reported.add(key)
                    err.print(_fault_line(fault))
            for alert, previous in transitions:
                out.print(
                    f"{datetime.now(UTC):%H:%M:%S} {printable(previous or 'new')} → "
                    f"{printable(alert.state)} {printable(alert.rule)} ({_key(alert.key)}): "
                    f"{printable(alert.summary)}"
                )
            if once:
                dispatcher.flush(timeout=30)
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        alerting.close()


@alerts.group(invoke_without_command=True)
@click.pass_context
def silence(ctx: click.Context) -> None:
    """List, add and expire silences (notifications muted for matching alerts)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_silences)


def _dispatcher(state: object) -> Dispatcher:
    runtime = state.runtime  # type: ignore[attr-defined]
    return Dispatcher.from_config(runtime.config, runtime.store, runtime.plugins, start=False)


@silence.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@click.pass_obj
def list_silences(state: object, show_all: bool = False) -> None:
    """Silences in force (or all of them)."""
    dispatcher = _dispatcher(state)
    found = dispatcher.silences() if show_all else dispatcher.active_silences()
    if not found:
        out.print("No silence is in force." if not show_all else "No silences.")
        return
    for item in found:
        matchers = ", ".join(str(m) for m in item.matchers)
        out.print(
            Text.assemble(
                (printable(item.id), "bold"),
                f" {printable(matchers)} from {item.starts_at:%Y-%m-%d %H:%M} to "
                f"{item.ends_at:%Y-%m-%d %H:%M} UTC by {printable(item.created_by)}: "
                f"{printable(item.comment)}",
            )
        )


@silence.command(name="add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--by", "created_by", required=True, help="Who sets the silence.")
@click.option("--comment", required=True, help="Why (shown to everyone who looks).")
@click.option("--for", "duration", default="2h", show_default=True, help="How long, e.g. 30m, 8h.")
@click.pass_obj
def add_silence(
    state: object, matchers: tuple[str, ...], created_by: str, comment: str, duration: str
) -> None:
    """Mute notifications for alerts whose labels match all MATCHERS (label=value or label=~regex)."""
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(printable(exc), param_hint="--for") from None
    item = _dispatcher(state).add_silence(
        list(matchers), created_by=created_by, comment=comment, duration=length
    )
    out.print(f"silence {printable(item.id)} until {item.ends_at:%Y-%m-%d %H:%M} UTC")


@silence.command(name="expire")
@click.argument("silence_id")
@click.pass_obj
def expire_silence(state: object, silence_id: str) -> None:
    """End a silence now."""
    item = _dispatcher(state).expire_silence(silence_id)
    out.print(f"silence {printable(item.id)} expired")
