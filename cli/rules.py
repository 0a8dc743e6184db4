"""`servicecycle rules ...` and `servicecycle alerts ...`: write, test and tune alert rules."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from servicecycle.core import (
    Alert,
    AlertState,
    RatingFilter,
    RuleFault,
    ServiceCycleError,
    printable,
)
from servicecycle.core.alerting import Dispatcher
from servicecycle.core.alerting.silences import Silence
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

from .options import SINCE, UNTIL, WHEN_HELP, refuse
from .render import Column, console, fitted_table, site_time

out = console(soft_wrap=True)
err = console(stderr=True)

#: The --json flag of every command here: machine-readable output, shapes in docs/rules.md.
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (see docs/rules.md)."
)

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _severity(severity: str) -> Text:
    return Text(printable(severity), SEVERITY_STYLE.get(severity, ""))


def _key(key: tuple[tuple[str, str], ...]) -> str:
    """An alert's key as ``site=a, moment=b``, shown as plain text."""
    return printable(", ".join(f"{k}={v}" for k, v in key))


def _zone(state: object) -> ZoneInfo:
    """The site's time zone: every time shown here is on the site's clock."""
    return state.runtime.config.site.zone  # type: ignore[attr-defined]


def _silence_json(item: Silence, now: datetime) -> dict[str, Any]:
    """One silence as the `alerts silence ... --json` commands give it."""
    return {
        "id": item.id,
        "matchers": [str(m) for m in item.matchers],
        "starts_at": item.starts_at.isoformat(),
        "ends_at": item.ends_at.isoformat(),
        "created_by": item.created_by,
        "comment": item.comment,
        "active": item.is_active(now),
    }


def _problem_json(problem: object) -> dict[str, Any]:
    """A rule that could not be loaded: where, which rule, what is wrong (and the line as shown)."""
    return {
        "source": getattr(problem, "source", None),
        "line": getattr(problem, "line", None),
        "rule": getattr(problem, "rule", None),
        "message": getattr(problem, "message", str(problem)),
        "text": str(problem),
    }


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


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
    failing = {f.rule: f for f in AlertBook(runtime.site_store).faults() if f.stage == "run"}
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
    columns = [
        Column("id"),
        Column("status"),
        Column("kind", keep=3),
        Column("severity", keep=1),
        Column("fires on"),
        Column("key", keep=4),
        Column("from", keep=5),
        Column("site changes", keep=2),
    ]
    table = []
    for loaded, status in sorted(rows, key=lambda r: r[0].rule.id):
        rule = loaded.rule
        style = "dim" if status == "disabled" else ""
        table.append(
            [
                Text(printable(rule.id), style),
                Text(status, "bold red" if status == "failing" else style),
                Text(printable(rule.kind), style),
                _severity(rule.severity),
                Text(printable(rule.describe_threshold()), style),
                Text(printable(", ".join(rule.key_by)), style),
                Text(printable(loaded.origin), style),
                Text(printable("; ".join(loaded.changed_by_site) or "-"), style),
            ]
        )
    out.print(fitted_table(columns, table, out.width, title="Alert rules"))
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
@json_option
@click.pass_obj
def check(state: object, files: tuple[Path, ...], as_json: bool) -> None:
    """Validate rule FILES: file, line, rule id, the bad key or value and what is allowed."""
    ruleset = ruleset_from_files(files, state.runtime.catalogue)  # type: ignore[attr-defined]
    if as_json:
        _echo_json(
            {
                "files": [str(f) for f in files],
                "ok": not ruleset.problems,
                "rules": sorted(ruleset.rules),
                "problems": [_problem_json(p) for p in ruleset.problems],
            }
        )
        if ruleset.problems:
            raise SystemExit(1)
        return
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
@json_option
@click.pass_obj
def test_rules(state: object, files: tuple[Path, ...], as_json: bool) -> None:
    """Run rule unit tests: timed ratings in, expected alerts out (exit 1 on failure)."""
    runtime = state.runtime  # type: ignore[attr-defined]
    site_rules = None
    failed = total = 0
    found: list[dict[str, Any]] = []
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
            failed += not result.passed
            if as_json:
                found.append(
                    {
                        "file": str(path),
                        "name": result.name,
                        "passed": result.passed,
                        "failures": list(result.failures),
                    }
                )
                continue
            mark = ("PASS", "green") if result.passed else ("FAIL", "red")
            out.print(Text.assemble(mark, f" {printable(path)}: {printable(result.name)}"))
            for failure in result.failures:
                out.print(f"       {printable(failure)}")
    if as_json:
        _echo_json({"passed": total - failed, "failed": failed, "tests": found})
    else:
        out.print(f"{total - failed:,} passed, {failed:,} failed")
    if failed:
        raise SystemExit(1)


@rules.command()
@click.option("--since", type=SINCE, required=True, help=f"Start of the history: {WHEN_HELP}.")
@click.option(
    "--until", type=UNTIL, help="End of the history (a date: that whole day). Default: now."
)
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
    state: object,
    since: datetime,
    until: datetime | None,
    rule_files: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Run stored history through rules and list the alerts that would have fired."""
    runtime = state.runtime  # type: ignore[attr-defined]
    start = since
    end = until or datetime.now(UTC)
    if end <= start:
        zone = _zone(state)
        raise click.BadParameter(
            f"the history is empty: --until ({site_time(end, zone, seconds=True)}) must be "
            f"after --since ({site_time(start, zone, seconds=True)})",
            param_hint=["--until"],
        )
    if rule_files:
        ruleset = ruleset_from_files(rule_files, runtime.catalogue)
    else:
        ruleset = site_ruleset(runtime)
    _print_problems(ruleset)
    engine = RuleEngine(ruleset.active(), runtime.catalogue, runtime.config.site)
    # The rules' memory before --since (a drift rule's baseline weeks) is read first,
    # so each rule stands at --since where a running engine would; what fired then is not listed.
    learn = start - engine.horizon
    where = RatingFilter(since=learn, until=end)
    days = max(1, (min(end, datetime.now(UTC)) - learn).days + 1)
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
        first: datetime | None = None

        def ratings():  # noqa: ANN202 - local generator feeding the progress bar
            nonlocal day, count, first
            for rating in runtime.site_store.ratings.query(where):
                current = rating.at.date()
                if current != day:
                    if day is not None:
                        progress.advance(task)
                    day = current
                if first is None:
                    first = rating.at
                count += rating.at >= start
                yield rating

        for alert, previous in engine.replay(ratings(), until=end):
            if (
                alert.state is AlertState.FIRING
                and previous is not AlertState.FIRING
                and alert.since >= start
            ):
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
    zone = _zone(state)
    if not fired:
        out.print(f"No alert would have fired ({count:,} ratings replayed).")
    drifts = [r for r in ruleset.active() if r.kind == "drift"]
    if drifts:
        _drift_summary(drifts, fired, zone, learn, first)
    if not fired:
        return
    columns = [
        Column("fired at"),
        Column("rule"),
        Column("severity", keep=2),
        Column("key", keep=1),
        Column("summary"),
    ]
    rows = [
        [
            site_time(alert.since, zone, named=False),
            printable(alert.rule),
            _severity(alert.severity),
            _key(alert.key),
            printable(alert.summary),
        ]
        for alert in fired
    ]
    title = f"Alerts that would have fired ({count:,} ratings replayed) · times in {printable(zone.key)}"
    out.print(fitted_table(columns, rows, out.width, title=title))


def _drift_summary(
    drifts: list[Any],
    fired: list[Alert],
    zone: ZoneInfo,
    learn: datetime,
    first: datetime | None,
) -> None:
    """Per drift rule: how often it would have fired, and when (its tuning at a glance)."""
    rows = []
    for rule in sorted(drifts, key=lambda r: r.id):
        times = sorted(a.since for a in fired if a.rule == rule.id)
        shown = ", ".join(site_time(t, zone, named=False) for t in times[:5])
        if len(times) > 5:
            shown += f" and {len(times) - 5:,} more"
        rows.append([printable(rule.id), f"{len(times):,}", printable(shown or "-")])
    columns = [Column("drift rule"), Column("fired"), Column("when", keep=1)]
    title = f"Drift rules · times in {printable(zone.key)}"
    out.print(fitted_table(columns, rows, out.width, title=title))
    if first is not None and first > learn + timedelta(days=7):
        weeks = max(r.drift_setting("baseline_weeks") for r in drifts)
        began = site_time(first, zone, named=False)
        judged = site_time(first + timedelta(weeks=weeks + 1), zone)
        err.print(
            printable(
                f"note: the history starts {began}; drift rules learn each moment's normal "
                f"from {weeks} complete weeks before they judge, so they judged only from "
                f"about {judged}"
            )
        )


@click.group(invoke_without_command=True)
@click.pass_context
def alerts(ctx: click.Context) -> None:
    """List current alerts, acknowledge them, or run the alerting loop."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_alerts)


@alerts.command(name="list")
@click.option("--site", "sites", multiple=True, help="Only this site's alerts (repeatable).")
@click.option("--region", "regions", multiple=True, help="Only this region's sites (a hub's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_alerts(
    state: object, sites: tuple[str, ...] = (), regions: tuple[str, ...] = (), as_json: bool = False
) -> None:
    """Alerts pending or firing now, with their response path (all sites unless told)."""
    from servicecycle.core.fleet import Chain

    book = AlertBook(state.runtime.site_store)  # type: ignore[attr-defined]
    current = book.current()
    if sites or regions:
        chain = Chain(state.runtime.config)  # type: ignore[attr-defined]

        def site_of(alert: Alert) -> str | None:
            return dict(alert.key).get("site", alert.labels.get("site"))

        known = set(chain.sites) | {s for a in current if (s := site_of(a))}
        for site in sites:
            if site not in known:
                refuse("--site", site, "names no site", "sites", sorted(known))
        for region in regions:
            if region not in chain.regions:
                refuse("--region", region, "names no region", "regions", sorted(chain.regions))
        chosen = set(sites) | {s for r in regions for s in chain.regions[r]}
        current = [a for a in current if site_of(a) in chosen]
    faults = book.faults()
    if as_json:
        for fault in faults:  # on stderr, so the output stays one JSON list
            err.print(_fault_line(fault))
        _echo_json([a.to_json() for a in current])
        return
    for fault in faults:
        out.print(_fault_line(fault))
    if not current:
        out.print("No alert is pending or firing.")
        return
    zone = _zone(state)
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
                site_time(alert.since, zone),
                f" · acknowledged by {printable(by)}" if by else "",
            )
        )
        out.print(f"    {printable(alert.summary)}")
        out.print(Text(f"    → {printable(alert.response)}", "italic"))


@alerts.command()
@click.argument("alert_id")
@click.option("--by", required=True, help="Who acknowledges (name or staff id).")
@click.option("--note", default="", help="What is being done.")
@json_option
@click.pass_obj
def ack(state: object, alert_id: str, by: str, note: str, as_json: bool) -> None:
    """Acknowledge ALERT_ID (the short id from `servicecycle alerts`): repeats stop."""
    alert = AlertBook(state.runtime.site_store).acknowledge(alert_id, by, note)  # type: ignore[attr-defined]
    if as_json:
        _echo_json({**alert.to_json(), "note": note})
        return
    out.print(
        f"acknowledged {printable(alert.short_id)} {printable(alert.rule)} by {printable(by)}"
    )


@alerts.command()
@click.option("--interval", default=2.0, show_default=True, help="Seconds between evaluations.")
@click.option("--once", is_flag=True, help="Evaluate once and exit (for cron and tests).")
@click.option("--json", "as_json", is_flag=True, help="With --once: the changes as one JSON list.")
@click.pass_obj
def run(state: object, interval: float, once: bool, as_json: bool) -> None:
    """Follow the store and evaluate the site's rules until interrupted.

    Each change of an alert is printed as it happens; --once prints what one
    evaluation changed, or "no alert changed".
    """
    if as_json and not once:
        raise click.UsageError("--json needs --once: the list is printed when the evaluation ends")
    from servicecycle.core.fleet import load_membership

    runtime = state.runtime  # type: ignore[attr-defined]
    zone = runtime.config.site.zone
    member = load_membership(runtime.data_dir)
    dispatcher = (
        None
        if member is not None
        else Dispatcher.from_config(
            runtime.config, runtime.site_store, runtime.plugins, data_dir=runtime.data_dir
        )
    )
    if member is not None:
        err.print(
            f"this data folder ships to the hub {printable(member.hub)}, which notifies: "
            "evaluating the rules without notifications"
        )
    alerting = Alerting(runtime, dispatcher=dispatcher)
    _print_problems(alerting.ruleset)
    err.print(
        f"evaluating {len(alerting.ruleset.active()):,} rules on {printable(runtime.data_dir)} "
        f"(history window {printable(format_duration(alerting.engine.horizon))})"
    )
    reported = 0  # the engine keeps each failing rule's first failure, in order
    try:
        while True:
            transitions = alerting.poll()
            now = datetime.now(UTC)
            failing = list(alerting.engine.faults.items())
            for rule_id, message in failing[reported:]:  # each broken rule once, not every tick
                err.print(_fault_line(RuleFault(rule_id, message, now, "run")))
            reported = len(failing)
            for alert, previous in [] if as_json else transitions:
                out.print(
                    f"{site_time(now, zone, seconds=True)} {printable(previous or 'new')} → "
                    f"{printable(alert.state)} {printable(alert.rule)} ({_key(alert.key)}): "
                    f"{printable(alert.summary)}"
                )
            if once:
                if dispatcher is not None:
                    dispatcher.flush(timeout=30)
                if as_json:
                    _echo_json(
                        [
                            {
                                **alert.to_json(),
                                "previous": str(previous) if previous else None,
                                "at": now.isoformat(),
                            }
                            for alert, previous in transitions
                        ]
                    )
                elif not transitions:
                    out.print("no alert changed")
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
    return Dispatcher.from_config(
        runtime.config,
        runtime.site_store,
        runtime.plugins,
        start=False,
        data_dir=runtime.data_dir,
    )


@silence.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@json_option
@click.pass_obj
def list_silences(state: object, show_all: bool = False, as_json: bool = False) -> None:
    """Silences in force (or all of them)."""
    dispatcher = _dispatcher(state)
    found = dispatcher.silences() if show_all else dispatcher.active_silences()
    if as_json:
        now = datetime.now(UTC)
        _echo_json([_silence_json(item, now) for item in found])
        return
    if not found:
        out.print("No silence is in force." if not show_all else "No silences.")
        return
    zone = _zone(state)
    for item in found:
        matchers = ", ".join(str(m) for m in item.matchers)
        out.print(
            Text.assemble(
                (printable(item.id), "bold"),
                f" {printable(matchers)} from {site_time(item.starts_at, zone, named=False)} to "
                f"{site_time(item.ends_at, zone)} by {printable(item.created_by)}: "
                f"{printable(item.comment)}",
            )
        )


@silence.command(name="add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--by", "created_by", required=True, help="Who sets the silence.")
@click.option("--comment", required=True, help="Why (shown to everyone who looks).")
@click.option("--for", "duration", default="2h", show_default=True, help="How long, e.g. 30m, 8h.")
@json_option
@click.pass_obj
def add_silence(
    state: object,
    matchers: tuple[str, ...],
    created_by: str,
    comment: str,
    duration: str,
    as_json: bool,
) -> None:
    """Mute notifications for alerts whose labels match all MATCHERS (label=value or label=~regex)."""
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(printable(exc), param_hint="--for") from None
    item = _dispatcher(state).add_silence(
        list(matchers), created_by=created_by, comment=comment, duration=length
    )
    if as_json:
        _echo_json(_silence_json(item, datetime.now(UTC)))
        return
    out.print(f"silence {printable(item.id)} until {site_time(item.ends_at, _zone(state))}")


@silence.command(name="expire")
@click.argument("silence_id")
@json_option
@click.pass_obj
def expire_silence(state: object, silence_id: str, as_json: bool) -> None:
    """End a silence now."""
    item = _dispatcher(state).expire_silence(silence_id)
    if as_json:
        _echo_json(_silence_json(item, datetime.now(UTC)))
        return
    out.print(f"silence {printable(item.id)} expired")
