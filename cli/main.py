"""The `servicecycle` command: thin wrappers around core, one per job."""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from servicecycle.core import (
    FLAGS,
    FORMATS,
    PluginHost,
    RatingFilter,
    Runtime,
    ServiceCycleError,
    export,
    printable,
)
from servicecycle.core.alerting import collect_notifiers
from servicecycle.core.rules import site_ruleset

from . import render
from .answers import answers
from .config import config
from .console import console
from .hub import hub, join_command, ship
from .importing import import_command
from .kiosk import kiosk
from .options import SINCE, UNTIL, WHEN_HELP, blamed, cycles_option, kiosk_moment, refuse_unknown
from .output import write_output
from .plugin import plugin
from .report import report
from .rules import alerts, rules
from .store import store
from .survey import survey

out = render.console()
err = render.console(stderr=True)


class Group(click.Group):
    """Turns user mistakes (ServiceCycleError) into a message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServiceCycleError as exc:
            raise click.ClickException(printable(str(exc), newlines=True)) from exc


class PrintableFormatter(logging.Formatter):
    """Log lines quote names, paths and plugin errors: on a terminal they are made
    printable like every other outside text."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), newlines=True)


def log_to_terminal(level: int) -> None:
    """Log to stderr through :class:`PrintableFormatter` — unless logging was set up
    already (tests, a program embedding the CLI), as :func:`logging.basicConfig` does."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    if any(isinstance(h.formatter, PrintableFormatter) for h in root.handlers):
        root.setLevel(level)


class State:
    """What every command shares: options from the group, plugins, a lazy runtime."""

    def __init__(
        self,
        config: Path | None,
        data_dir: Path | None,
        host: PluginHost,
        store_url: str | None = None,
    ) -> None:
        self.config_path = config
        self.data_dir = data_dir
        self.store_url = store_url
        self.host = host
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.open(
                self.config_path,
                data_dir=self.data_dir,
                plugins=self.host,
                store_url=self.store_url,
            )
            if self.host.problems:
                err.print(render.problems_text(self.host), end="")
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SERVICECYCLE_CONFIG",
    help="Site configuration (TOML). Default: embedded defaults. Env: SERVICECYCLE_CONFIG.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SERVICECYCLE_DATA_DIR",
    help="Data folder for ratings. Default: from the config, else the user data folder.",
)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    envvar="SERVICECYCLE_STORE",
    help="Keep records in this store instead of the data folder: postgresql://USER@HOST/DB "
    "(see docs/store.md). Default: [store] url in the config, else the data folder. "
    "Env: SERVICECYCLE_STORE.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="servicecycle")
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    data_dir: Path | None,
    store_url: str | None,
    verbose: int,
) -> None:
    """servicecycle: see your service moment by moment, the way customers live it.

    Plugins supply service-cycle templates for each industry; ratings of each
    moment of truth are recorded on site and bad moments raise alerts.
    """
    log_to_terminal({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))
    if verbose == 0:
        logging.getLogger("servicecycle.core.plugins").setLevel(logging.ERROR)
    # main() hands in the plugins it already loaded (they may have added commands).
    host = ctx.obj if isinstance(ctx.obj, PluginHost) else PluginHost.discover()
    state = State(config, data_dir, host, store_url)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def plugins(state: State, as_json: bool) -> None:
    """List installed plugins, what each registers, and any that failed."""
    # Collecting every kind of registration fills in what each plugin registers.
    site_ruleset(state.runtime)
    collect_notifiers(state.host)
    host = state.host
    if as_json:
        data = {
            "plugins": [asdict(i) for i in sorted(host.infos.values(), key=lambda i: i.name)],
            "problems": [asdict(p) for p in host.problems],
        }
        click.echo(json.dumps(data, indent=2))
        return
    if host.infos:
        out.print(render.plugin_table(host, out.width))
    else:
        out.print("No plugins loaded.")
    if host.problems:
        out.print()
        out.print(Text("Plugins with problems", render.CRITICAL))
        out.print(render.problems_text(host), end="")


@cli.command()
@click.argument("industry", required=False)
@click.option("--lang", default="en", show_default=True, help="Language of the texts shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the cycle templates as JSON.")
@click.pass_obj
def cycles(state: State, industry: str | None, lang: str, as_json: bool) -> None:
    """Draw the service cycles as maps: stages in order, moments, critical ones marked.

    INDUSTRY (e.g. hotel, health, banking) or a cycle id limits the output.
    """
    catalogue = state.runtime.catalogue
    selected = cycles_option(state.runtime, industry, "INDUSTRY")
    if as_json:
        click.echo(
            json.dumps([c.model_dump(mode="json") for c in selected], indent=2, ensure_ascii=False)
        )
        return
    if not selected:
        out.print("No cycles loaded. Install a plugin, or check SERVICECYCLE_LOAD_PLUGINS.")
    for cycle in selected:
        out.print(render.cycle_map(cycle, catalogue.origin[cycle.id], lang))


class WholeNumber(click.ParamType):
    """An integer written in ASCII digits: click's ``int`` also takes "٣" or "３"."""

    name = "integer"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            self.fail(f"{text[:40]!r} is not a whole number written in digits 0-9", param, ctx)
        if len(digits) > 6:
            self.fail(f"{text[:40]!r} is far too large", param, ctx)
        return int(text)


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-11-22T14:05:00+03:00)", param_hint=option
        ) from None
    if at.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no time zone; add one (e.g. Z or +03:00)", param_hint=option
        )
    return at


@cli.command()
@click.option(
    "--score", type=WholeNumber(), required=True, help="The rating, 1 (worst) to the scale's top."
)
@click.option("--moment", help="Moment id. Default: the kiosk's configured moment.")
@click.option("--cycle", help="Cycle id. Default: the kiosk's configured cycle.")
@click.option(
    "--reason", "reasons", multiple=True, help="A reason id offered by the moment (repeat)."
)
@click.option("--lang", help="Language the customer used. Default: the kiosk's first language.")
@click.option(
    "--scale", type=WholeNumber(), help="Scale of the score (4 or 5). Default: the cycle's."
)
@click.option("--site", help="Site id. Default: from the config.")
@click.option("--kiosk", help="Kiosk id. Default: from the config.")
@click.option("--at", "at_text", metavar="TIME", help="When (ISO 8601 with zone). Default: now.")
@click.option(
    "--flag", "flags", multiple=True, type=click.Choice(list(FLAGS)), help="Flag (repeat)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the stored rating as JSON.")
@click.pass_obj
def record(
    state: State,
    score: int,
    moment: str | None,
    cycle: str | None,
    reasons: tuple[str, ...],
    lang: str | None,
    scale: int | None,
    site: str | None,
    kiosk: str | None,
    at_text: str | None,
    flags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Record one rating (for scripts, tests and back-filling paper cards)."""
    runtime = state.runtime
    the_cycle, _, the_moment = kiosk_moment(runtime, cycle, moment)
    if lang is None:
        preferred = [code for code in runtime.config.kiosk.languages if code in the_cycle.languages]
        lang = preferred[0] if preferred else the_cycle.languages[0]
    typed = {
        "score": "--score",
        "scale": "--scale",
        "reasons": "--reason",
        "language": "--lang",
        "flags": "--flag",
        "at": "--at",
        "site": "--site",
        "kiosk": "--kiosk",
    }
    with blamed(typed):
        rating = runtime.recorder.record(
            site=site or runtime.config.site.id,
            kiosk=kiosk or runtime.config.kiosk.id,
            cycle=the_cycle.id,
            moment=the_moment.id,
            score=score,
            scale=scale,
            language=lang,
            reasons=reasons,
            flags=flags,
            at=_parse_time(at_text, "--at"),
        )
    if as_json:
        click.echo(json.dumps(rating.to_record(), ensure_ascii=False))
    else:
        click.echo(printable(rating.id))


@cli.command(name="export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File (default: stdout).",
)
@click.option("--since", type=SINCE, help=f"Only ratings from then on: {WHEN_HELP}.")
@click.option(
    "--until", type=UNTIL, help="Only ratings before then (a date: up to the end of that day)."
)
@click.option("--site", help="Only this site.")
@click.option("--kiosk", help="Only this kiosk.")
@click.option("--cycle", help="Only this cycle.")
@click.option("--moment", help="Only this moment.")
@click.option("--no-suspect", is_flag=True, help="Leave out ratings flagged suspect.")
@click.pass_obj
def export_command(
    state: State,
    fmt: str,
    output: Path | None,
    since: datetime | None,
    until: datetime | None,
    site: str | None,
    kiosk: str | None,
    cycle: str | None,
    moment: str | None,
    no_suspect: bool,
) -> None:
    """Export ratings as CSV or JSON Lines.

    A --site, --kiosk, --cycle or --moment that no rating, cycle or site setting
    has is refused, listing the known values; one without ratings in the period
    gives an empty export.
    """
    runtime = state.runtime
    where = RatingFilter(
        since=since,
        until=until,
        site=site,
        kiosk=kiosk,
        cycle=cycle,
        moment=moment,
        include_suspect=not no_suspect,
    )
    ratings = runtime.site_store.ratings.query(where)
    first = next(ratings, None)  # found before anything is written: a mistake writes nothing
    if first is None:
        refuse_unknown(
            runtime,
            {
                "--site": ("site", site),
                "--kiosk": ("kiosk", kiosk),
                "--cycle": ("cycle", cycle),
                "--moment": ("moment", moment),
            },
        )
    found = itertools.chain([first], ratings) if first is not None else iter(())
    count = write_output(output, lambda out: export(found, out, fmt))  # type: ignore[arg-type]
    if output is not None:
        err.print(f"exported {count:,} ratings to {printable(output)}")
    if not count:
        filtered = no_suspect or any(v is not None for v in (site, kiosk, cycle, moment))
        err.print("no ratings in this period" + (" match the filters" if filtered else ""))


cli.add_command(config)
cli.add_command(import_command)
cli.add_command(store)
cli.add_command(rules)
cli.add_command(alerts)
cli.add_command(plugin)
cli.add_command(survey)
cli.add_command(answers)
cli.add_command(console)
cli.add_command(report)
cli.add_command(kiosk)
cli.add_command(hub)
cli.add_command(join_command)
cli.add_command(ship)


def main(argv: list[str] | None = None) -> None:
    """Entry point: load plugins once (they may add commands), then run the CLI."""
    log_to_terminal(logging.WARNING)  # loading logs what a plugin got wrong: printable too
    host = PluginHost.discover()
    host.call_each("register_commands", cli=cli)
    cli.main(args=argv, prog_name="servicecycle", obj=host)


if __name__ == "__main__":
    main()
