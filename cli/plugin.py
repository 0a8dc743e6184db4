"""`servicecycle plugin new|check`: from nothing to a tested plugin, and keeping it right."""

from __future__ import annotations

import json
import keyword
from dataclasses import asdict
from importlib.metadata import entry_points
from pathlib import Path

import click
from rich.text import Text

from servicecycle.core import ENTRY_POINT_GROUP, Catalogue, PluginHost, printable
from servicecycle.core.plugin_check import check_plugins

from .output import write_output
from .render import console
from .scaffold import MAX_NAME, NAME, ids, render

out = console(soft_wrap=True)


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
@click.pass_obj
def new(state: object, name: str, parent: Path) -> None:
    """Create a complete plugin package NAME: cycle, rules, rule tests, tests, README.

    Its cycle, moment and rule ids are made from NAME, so two plugins made
    here never clash with each other, nor with an installed plugin's ids.
    """
    if not NAME.match(name) or keyword.iskeyword(name):
        raise click.BadParameter(
            f"{name!r}: use a Python identifier in lowercase (letters, digits, '_', "
            f"starting with a letter, up to {MAX_NAME:d} characters), e.g. 'restaurant'",
            param_hint="NAME",
        )
    installed = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name in installed:
        raise click.BadParameter(
            f"{name!r} is already the name of an installed plugin ({printable(installed[name])}); "
            "choose another name",
            param_hint="NAME",
        )
    _refuse_clashes(name, state.host)  # type: ignore[attr-defined]
    target = parent / f"servicecycle-{name.replace('_', '-')}"
    if target.exists():
        raise click.ClickException(f"{printable(target)} already exists; nothing was written")
    for relative, text in render(name).items():
        write_output(target / relative, lambda handle, text=text: handle.write(text))
    out.print(
        Text.assemble("Created plugin ", (printable(name), "bold"), f" in {printable(target)}")
    )
    out.print("Next:")
    out.print(
        f"  pip install -e '{printable(target)}[test]'   # the plugin, and pytest for its tests"
    )
    out.print(f"  servicecycle plugin check {printable(name)}")
    out.print(f"  pytest {printable(target)}")


def _refuse_clashes(name: str, host: PluginHost) -> None:
    """Refuse NAME when an id it would register is already an installed plugin's."""
    catalogue = Catalogue.from_plugins(host)
    taken: dict[str, str] = {}
    for cycle_id, cycle in catalogue.cycles.items():
        owner = f"{cycle_id!r} of plugin {catalogue.origin[cycle_id]!r}"
        taken.setdefault(cycle_id, f"cycle {owner}")
        for _, moment in cycle.moments():
            taken.setdefault(moment.id, f"a moment of cycle {owner}")
    clashes = [f"{i!r} is already {taken[i]}" for i in ids(name) if i in taken]
    if clashes:
        raise click.BadParameter(
            f"{name!r} would register ids that are taken: {printable('; '.join(clashes))}; "
            "choose another name",
            param_hint="NAME",
        )


@plugin.command()
@click.argument("names", nargs=-1)
@click.option("--strict", is_flag=True, help="Treat warnings (missing translations...) as errors.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def check(state: object, names: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Validate what plugins register: cycles, translations, reasons, rules and rule tests."""
    reports = check_plugins(state.host, list(names) or None)  # type: ignore[attr-defined]
    if as_json:
        found = [{**asdict(r), "ok": not (r.problems or (strict and r.warnings))} for r in reports]
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        if not all(r["ok"] for r in found):
            raise SystemExit(1)
        return
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
