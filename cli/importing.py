"""`servicecycle import FILE`: many ratings at once, in the export's own columns.

Core reads and validates (``servicecycle.core.importing``, through the same
``Catalogue.new_rating`` as `record`); this module opens the file, draws the
progress bar and reports each refused line.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, BinaryIO

import click
from rich.text import Text

from servicecycle.core import printable
from servicecycle.core.importing import (
    ImportFileError,
    ImportResult,
    LineError,
    detect_format,
    import_ratings,
)

from .progress import FileBar
from .render import console

out = console(soft_wrap=True)
err = console(stderr=True, soft_wrap=True)  # an error line stays one line, for grep

#: Refused lines listed in the --json output (all of them are said on stderr).
LISTED = 1000


@click.command(name="import")
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="auto: from the extension (.csv; .jsonl, .ndjson or .json). '-' reads stdin.",
)
@click.option("--dry-run", is_flag=True, help="Validate every line; record nothing.")
@click.option(
    "--json", "as_json", is_flag=True, help="The outcome as JSON (see docs/operations.md)."
)
@click.pass_obj
def import_command(state: Any, file: Path, fmt: str, dry_run: bool, as_json: bool) -> None:
    """Record the ratings in FILE (CSV or JSON Lines, as `servicecycle export` writes them).

    Every line is validated as `record` validates a rating. A line with a
    mistake is reported (file, line, field, value, what is allowed) and not
    recorded; the others are; exit 1 if any line was refused. Ratings already
    in the store (the same id) are skipped, so importing a file twice records
    it once.
    """
    stdin = str(file) == "-"
    name = "<stdin>" if stdin else str(file)
    try:
        chosen = detect_format(name if not stdin else "", fmt)  # type: ignore[arg-type]
    except ImportFileError as exc:
        raise click.BadParameter(printable(str(exc)), param_hint=["--format"]) from None
    runtime = state.runtime
    listed: list[dict[str, Any]] = []

    def refused(error: LineError) -> None:
        err.print(Text.assemble(("✗ ", "red"), printable(str(error))))
        if as_json and len(listed) < LISTED:
            listed.append(
                {
                    "line": error.line,
                    "field": error.field,
                    "value": error.value,
                    "allowed": error.allowed,
                }
            )

    source = sys.stdin.buffer if stdin else _open(file)
    try:
        total = _size(source)
        with FileBar(f"importing {name}", err, show_from=1 << 20, unit="bytes") as bar:
            result = import_ratings(
                runtime.recorder,
                source,
                name,
                chosen,
                runtime.config.site.zone,
                dry_run=dry_run,
                on_error=refused,
                progress=(lambda done: bar(min(done, total), total)) if total else None,
            )
    finally:
        if not stdin:
            source.close()
    if as_json:
        click.echo(json.dumps(_as_json(result, listed), indent=2, ensure_ascii=False))
    else:
        out.print(_summary(result))
    if result.refused:
        raise SystemExit(1)


def _open(file: Path) -> BinaryIO:
    try:
        return open(file, "rb")
    except OSError as exc:
        raise click.ClickException(
            f"cannot read {printable(file)}: {printable(exc.strerror or exc)}"
        ) from None


def _size(source: BinaryIO) -> int:
    """The file's size, for the bar; 0 for a pipe (no bar)."""
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError):
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def _summary(result: ImportResult) -> str:
    verb = "would be recorded" if result.dry_run else "recorded"
    return (
        f"{printable(result.file)}: {result.lines:,} line(s): {result.recorded:,} {verb}, "
        f"{result.already_recorded:,} already recorded, {result.refused:,} refused"
        + (" (dry run: nothing was written)" if result.dry_run else "")
    )


def _as_json(result: ImportResult, listed: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "file": result.file,
        "format": result.format,
        "dry_run": result.dry_run,
        "lines": result.lines,
        "recorded": result.recorded,
        "already_recorded": result.already_recorded,
        "refused": result.refused,
        "errors": listed,
        "errors_not_listed": max(0, result.refused - len(listed)),
    }
