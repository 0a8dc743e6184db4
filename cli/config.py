"""`servicecycle config init|check|show`: write, check and show a site configuration.

``init`` renders a commented file for one industry from a template shipped in
the package (``templates/site.toml.j2``), so a site starts from a file that
passes ``check``; ``--systemd DIR`` copies the units shipped in
``servicecycle.deploy``. ``check`` lists every problem (exit 1) and the
readiness warnings of core (exit 0, or 1 with ``--strict``). ``show`` prints
what a running kiosk would use: the kiosk's own resolution of what the file
leaves to defaults, never ``null`` for a value a default fills in.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol, TextIO

import click
import jinja2
from pydantic import ValidationError

from servicecycle.core import (
    Config,
    ConfigError,
    KioskSession,
    KioskSettings,
    PluginHost,
    Runtime,
    SiteWarning,
    load_config,
    pick,
    printable,
    readiness_warnings,
)
from servicecycle.core.alerting import BUILTIN_SETTINGS, ReceiverConfig
from servicecycle.core.alerting.log_notifier import log_factory
from servicecycle.core.config import DEFAULT_HOURS, WEEKDAYS
from servicecycle.core.rules import site_ruleset

from .options import refuse
from .output import write_output

#: The template ``config init`` renders (package data of servicecycle.cli).
TEMPLATE = "templates/site.toml.j2"
#: Where the systemd units live (package data of servicecycle.deploy).
UNITS_PACKAGE, UNITS_FOLDER = "servicecycle.deploy", "systemd"


def _hours(*spans: tuple[tuple[str, ...], str]) -> dict[str, list[str]]:
    """Opening hours from (weekdays, range) pairs, in weekday order."""
    given = {day: [span] for days, span in spans for day in days}
    return {day: given[day] for day in WEEKDAYS if day in given}


@dataclass(frozen=True)
class Example:
    """What a new file says about a site of one industry until the site says otherwise."""

    noun: str  # "a hotel": for the file's comments
    site_id: str
    site_name: str
    hours: dict[str, list[str]]


ALWAYS_OPEN = _hours((WEEKDAYS, "00:00-24:00"))
#: The built-in industries; another plugin's industry gets :func:`_example`'s generic one.
EXAMPLES = {
    # a lobby is open all night, but its kiosk is used in the guests' day: these are
    # the hours a silent kiosk is news (core's default)
    "hotel": Example("a hotel", "our-hotel", "Our hotel", _hours((WEEKDAYS, DEFAULT_HOURS))),
    "health": Example("an emergency department", "our-hospital", "Our hospital", ALWAYS_OPEN),
    "banking": Example(
        "a bank branch",
        "our-branch",
        "Our branch",
        _hours((WEEKDAYS[:5], "09:00-16:30"), (("sat",), "09:00-13:00")),
    ),
}


def _example(industry: str) -> Example:
    return EXAMPLES.get(industry) or Example(
        f"a site of the {industry} industry",
        f"our-{industry}",
        "Our site",
        _hours((WEEKDAYS[:6], "09:00-18:00")),
    )


class State(Protocol):
    """What the root command hands every command (``servicecycle.cli.main.State``)."""

    host: PluginHost

    @property
    def runtime(self) -> Runtime: ...


@click.group()
def config() -> None:
    """Write, check and show site configuration files (see docs/configuration.md)."""


# -- init ------------------------------------------------------------------------------------


@config.command(name="init")
@click.option(
    "--industry",
    metavar="INDUSTRY",
    help="The industry of the site, from the installed plugins' cycles (hotel, health, "
    "banking built in): sets the kiosk's cycle, question and typical opening hours.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: stdout). An existing file is kept unless --force.",
)
@click.option(
    "--data-dir",
    "data_dir",
    metavar="DIR",
    help="Write data_dir = DIR into the file (default: left as a comment, so the user "
    "data folder is used).",
)
@click.option(
    "--systemd",
    "systemd_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also write the systemd units (kiosk, survey page, alerts) into DIR, "
    "e.g. /etc/systemd/system.",
)
@click.option("--force", is_flag=True, help="Replace files that exist.")
@click.pass_obj
def init(
    state: State,
    industry: str | None,
    output: Path | None,
    data_dir: str | None,
    systemd_dir: Path | None,
    force: bool,
) -> None:
    """Write a commented site configuration for one industry (and the systemd units).

    The file passes `servicecycle config check` as written; the check then warns
    about what is left to do (the survey address guests' phones can reach, a
    receiver for alerts).
    """
    if industry is None and (output is not None or data_dir is not None):
        raise click.UsageError("-o/--output and --data-dir are for the site file: add --industry")
    if industry is None and systemd_dir is None:
        raise click.UsageError("give --industry (the site file) or --systemd DIR (the units)")
    text = None if industry is None else site_file(state.host, industry, data_dir)
    units = (
        [] if systemd_dir is None else [(systemd_dir / name, body) for name, body in unit_files()]
    )
    targets = ([output] if text is not None and output is not None else []) + [p for p, _ in units]
    if not force:
        _refuse_existing(targets)
    if text is not None:
        write_output(output, lambda handle: handle.write(text))
        if output is not None:
            click.echo(f"wrote {printable(output)}; check it with:", err=True)
            click.echo(f"  servicecycle config check {printable(output)}", err=True)
    for path, body in units:
        write_output(path, _writer(body))
        click.echo(f"wrote {printable(path)}", err=True)


def _writer(body: str) -> Callable[[TextIO], int]:
    return lambda handle: handle.write(body)


def _refuse_existing(paths: Iterable[Path]) -> None:
    """Refuse before anything is written when a target is a file already (devices and
    FIFOs are written through, as ``-o`` always does)."""
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue  # nothing there (or a dangling link): written; other failures say so then
        if stat.S_ISREG(mode):
            raise click.ClickException(
                f"{printable(path)} already exists; nothing was written (--force replaces it)"
            )


def site_file(host: PluginHost, industry: str, data_dir: str | None = None) -> str:
    """The text of a new site configuration for ``industry``, checked before it is handed out."""
    runtime = Runtime.open(Config(), plugins=host)  # the embedded defaults: only the catalogue
    known = runtime.catalogue.industries
    if industry not in known:
        refuse(
            "--industry",
            industry,
            "is not an industry of the installed plugins",
            "industries",
            known,
        )
    cycles = sorted(
        (c for c in runtime.catalogue.cycles.values() if c.industry == industry), key=lambda c: c.id
    )
    cycle, _, moment = runtime.kiosk_moment(cycles[0].id)  # the kiosk's own default question
    first = cycle.languages[0]
    offered = KioskSettings().languages
    languages = [code for code in offered if code in cycle.languages] or list(offered)
    example = _example(industry)
    text = _template().render(
        industry=industry,
        noun=example.noun,
        site_id=example.site_id,
        site_name=example.site_name,
        hours=example.hours,
        data_dir=data_dir,
        cycle=cycle.id,
        cycle_name=pick(cycle.name, first, first),
        plugin=runtime.catalogue.origin[cycle.id],
        other_cycles=[c.id for c in cycles[1:]],
        moment=moment.id,
        moments=[
            (s.id, m.id, m.critical, pick(m.question, first, first)) for s, m in cycle.moments()
        ],
        languages=languages,
        scale=cycle.scale,
    )
    try:
        Config.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:  # a bug here, not the user's
        raise click.ClickException(
            f"the new file for {industry!r} does not check: {printable(exc)}"
        ) from None
    return text


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        autoescape=False,  # TOML, not HTML: values are quoted by the `toml` filter
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["toml"] = toml_value
    environment.filters["comment"] = printable
    environment.filters["note"] = _note
    environment.filters["column"] = lambda text, width: printable(text).ljust(width)
    source = files("servicecycle.cli").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return environment.from_string(source)


def _note(line: str, note: str) -> str:
    """``key = value`` with a comment lined up at column 39 (or two spaces after)."""
    return f"{line.ljust(37)} # {printable(note)}"


def toml_value(value: object) -> str:
    """A string (or a list of them) as a TOML literal: a basic string in which every
    character :func:`printable` would escape is written as a ``\\u`` escape."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    quoted = []
    for char in str(value):
        if char in '"\\':
            quoted.append("\\" + char)
        elif printable(char) != char:
            code = ord(char)
            quoted.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            quoted.append(char)
    return '"' + "".join(quoted) + '"'


def unit_files() -> list[tuple[str, str]]:
    """(file name, text) of every systemd unit shipped with servicecycle."""
    folder = files(UNITS_PACKAGE).joinpath(UNITS_FOLDER)
    found = [(item.name, item.read_text(encoding="utf-8")) for item in folder.iterdir()]
    return sorted((name, text) for name, text in found if name.endswith(".service"))


# -- check -----------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """What ``config check`` found; :meth:`as_json` is the documented ``--json`` shape."""

    file: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[SiteWarning] = field(default_factory=list)
    strict: bool = False

    @property
    def ok(self) -> bool:
        """Exactly when ``config check`` exits 0."""
        return not self.problems and not (self.strict and self.warnings)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "ok": self.ok,
            "problems": self.problems,
            "warnings": [{"key": w.key, "message": w.message} for w in self.warnings],
        }


def check_file(file: Path, host: PluginHost, *, strict: bool = False) -> CheckResult:
    """Check ``file`` as the kiosk would read it, with the plugins installed here."""
    result = CheckResult(file, strict=strict)
    try:
        loaded = load_config(file)
        runtime = Runtime.open(loaded, plugins=host)
        runtime.kiosk_moment()  # the cycle and moment exist
    except ConfigError as exc:
        result.problems = exc.problems
        return result
    # The site's own rules ([rules] files, add, override) are this file's problems; a
    # plugin's broken rule is a warning: the kiosk runs without it, so it must start.
    for problem in site_ruleset(runtime).problems:
        text = printable(str(problem))
        if problem.source.startswith("plugin "):
            warning = SiteWarning("rules", text)
            result.warnings.append(warning)
        else:
            result.problems.append(text)
    result.warnings[:0] = readiness_warnings(loaded, host)
    return result


@config.command(name="check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"file", "ok", "problems": [...], "warnings": [{"key", "message"}]}.',
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.pass_obj
def check(state: State, file: Path, as_json: bool, strict: bool) -> None:
    """Check FILE: exit 1 listing every problem; warn (on stderr) about what is left to do.

    Besides the file's own keys and values, the kiosk's cycle and moment must be
    those of an installed plugin. Warnings (a survey address a guest's phone
    cannot reach, no receiver for alerts) do not fail the check unless --strict.
    """
    result = check_file(file, state.host, strict=strict)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
        if not result.ok:
            raise click.exceptions.Exit(1)
        return
    if result.problems:
        raise ConfigError(str(file), result.problems)
    for warning in result.warnings:
        click.echo(f"warning: {printable(warning.key)}: {printable(warning.message)}", err=True)
    if not result.ok:
        raise click.ClickException(
            f"{printable(file)}: {len(result.warnings)} warning(s), which --strict refuses"
        )
    click.echo(f"{printable(file)}: ok")


# -- show ------------------------------------------------------------------------------------


@config.command(name="show")
@click.pass_obj
def show(state: State) -> None:
    """Print the effective configuration as JSON: what a kiosk started now would use.

    Defaults are filled in the way the kiosk fills them (cycle, moment, scale,
    thresholds, data folder, receivers); durations are written as in the file
    (`2s`, `7d`). Where the configuration came from is said on stderr.
    """
    runtime = state.runtime
    click.echo(f"# from {printable(runtime.config.source)}", err=True)
    click.echo(json.dumps(effective(runtime), indent=2, ensure_ascii=False))


def effective(runtime: Runtime) -> dict[str, Any]:
    """The configuration with every value a default fills in, as JSON data."""
    data = runtime.config.model_dump(mode="json")
    data["data_dir"] = str(runtime.data_dir)
    session = KioskSession(runtime)  # the kiosk's own resolution, not a copy of it
    data["kiosk"].update(
        cycle=session.cycle.id,
        moment=session.moment.id,
        scale=session.scale,
        high_threshold=session.high_threshold,
    )
    receivers = runtime.config.notify.all_receivers
    data["notify"]["receivers"] = {
        name: _receiver(name, receiver, runtime.data_dir) for name, receiver in receivers.items()
    }
    return data


def _receiver(name: str, receiver: ReceiverConfig, data_dir: Path) -> dict[str, Any]:
    """A receiver with its built-in type's defaults filled in (secrets stay masked)."""
    data = receiver.model_dump(mode="json")
    model = BUILTIN_SETTINGS.get(receiver.type)
    if model is None:  # a plugin's type: its settings as written
        return data
    settings = model.model_validate(receiver.settings)
    data.update(settings.model_dump(mode="json", by_alias=True))
    if receiver.type == "log":
        data["path"] = str(log_factory(name, data_dir=data_dir, **receiver.settings).path)
    port = getattr(settings, "effective_port", None)
    if isinstance(port, int):
        data["port"] = port
    headers = data.get("headers")
    if isinstance(headers, dict):  # a bearer token is a password too
        data["headers"] = {
            k: "**********" if _SECRET_HEADER.search(k) else v for k, v in headers.items()
        }
    return data


_SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|password|signature", re.IGNORECASE)
