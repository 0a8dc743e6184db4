"""`servicecycle plugin new|check`: from nothing to a tested plugin, and keeping it right."""

from __future__ import annotations

import keyword
import re
from importlib.metadata import entry_points
from pathlib import Path

import click
from rich.text import Text

from servicecycle.core import ENTRY_POINT_GROUP, printable
from servicecycle.core.plugin_check import check_plugins

from .output import write_output
from .render import console
from .scaffold import render

out = console(soft_wrap=True)

NAME = re.compile(r"^[a-z][a-z0-9_]{0,38}$")


@click.group()
def plugin() -> None:
    """Create a new industry plugin, or check an installed one."""


@plugin.command()
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the plugin's project in.",
)
def new(name: str, parent: Path) -> None:
    """Create a complete plugin package NAME: cycle, rules, rule tests, tests, README."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise click.BadParameter(
            f"{name!r}: use a Python identifier in lowercase (letters, digits, '_', "
            "starting with a letter, up to 39 characters), e.g. 'restaurant'",
            param_hint="NAME",
        )
    installed = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name in installed:
        raise click.BadParameter(
            f"{name!r} is already the name of an installed plugin ({printable(installed[name])}); "
            "choose another name",
            param_hint="NAME",
        )
    target = parent / f"servicecycle-{name.replace('_', '-')}"
    if target.exists():
        raise click.ClickException(f"{printable(target)} already exists; nothing was written")
    for relative, text in render(name).items():
        write_output(target / relative, lambda handle, text=text: handle.write(text))
    out.print(
        Text.assemble("Created plugin ", (printable(name), "bold"), f" in {printable(target)}")
    )
    out.print("Next:")
    out.print(f"  pip install -e {printable(target)}")
    out.print(f"  servicecycle plugin check {printable(name)}")
    out.print(f"  pytest {printable(target)}")


@plugin.command()
@click.argument("names", nargs=-1)
@click.option("--strict", is_flag=True, help="Treat warnings (missing translations...) as errors.")
@click.pass_obj
def check(state: object, names: tuple[str, ...], strict: bool) -> None:
    """Validate what plugins register: cycles, translations, reasons, rules and rule tests."""
    reports = check_plugins(state.host, list(names) or None)  # type: ignore[attr-defined]
    failed = False
    for report in reports:
        bad = report.problems or (strict and report.warnings)
        failed |= bool(bad)
        out.print(
            Text.assemble(
                ("✗", "red") if bad else ("✓", "green"),
                " ",
                (printable(report.plugin), "bold"),
                f": {len(report.cycles):,} cycle(s), {len(report.rules):,} rule(s), "
                f"{report.rule_tests:,} rule test(s)",
            )
        )
        for problem in report.problems:
            out.print(Text.assemble("    ", ("error", "red"), f" {printable(problem)}"))
        for warning in report.warnings:
            out.print(Text.assemble("    ", ("warning", "yellow"), f" {printable(warning)}"))
    if failed:
        raise SystemExit(1)
