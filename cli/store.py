"""`servicecycle store ...`: look after the data folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from servicecycle.core import printable
from servicecycle.core.errors import StoreError
from servicecycle.core.rating import parse_time
from servicecycle.core.reports.upkeep import summarise_missing
from servicecycle.core.store import Store, maintenance
from servicecycle.core.store.copy import copy_store, total_of
from servicecycle.core.store.engines import open_store, shown_target

from .progress import FileBar
from .render import Column, console, fitted_table, site_time

out = console(soft_wrap=True)  # paths and offsets must stay on one line
err = console(stderr=True)

#: The --json flag of the store commands; the shapes are in docs/operations.md.
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (see docs/operations.md)."
)


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _damage_kind(damage: Any) -> str:
    """What a damaged place is, in the words of `store check --json`."""
    if damage.complete:
        return "missing-newline"
    return "unfinished-write" if damage.torn_tail else "damaged"


def _progress(label: str, total: int) -> Progress:
    progress = Progress(
        TextColumn(label, style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=total < 20,
    )
    return progress


def _run(label: str, store: Store, job):  # noqa: ANN001, ANN202 - small local helper
    total = maintenance.partition_files(store)
    with _progress(label, total) as bar:
        task = bar.add_task(label, total=total)
        return job(store, lambda n: bar.advance(task, n))


def _store(ctx: click.Context) -> Store:
    _folder(ctx)
    return ctx.obj.runtime.store


def _folder(ctx: click.Context) -> Path:
    """The data folder a maintenance command works on (a store URL is refused clearly)."""
    runtime = ctx.obj.runtime
    if runtime.store_url is not None:
        raise StoreError(
            f"`store {ctx.command.name}` looks after a data folder; {runtime.store_url_shown} "
            "is PostgreSQL, which has its own tools (pg_dump, pg_amcheck): see docs/operations.md"
        )
    return runtime.data_dir


@click.group()
def store() -> None:
    """Check, repair, compact and describe the data folder."""


@store.command()
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Read every file of the store and report damage (changes nothing; exit 1 if damaged)."""
    the_store = Store(_folder(ctx), read_only=True)
    reports = _run("checking", the_store, maintenance.check)
    strangers = maintenance.strangers(the_store)
    damaged = [r for r in reports if not r.ok]
    records = sum(r.records for r in reports)
    if as_json:
        _echo_json(
            {
                "data_dir": str(the_store.data_dir),
                "ok": not damaged,
                "files": len(reports),
                "records": records,
                "damaged_files": len(damaged),
                "damage": [
                    {
                        "path": str(d.path),
                        "offset": d.offset,
                        "line": d.line,
                        "length": d.length,
                        "kind": _damage_kind(d),
                        "reason": d.reason,
                    }
                    for report in damaged
                    for d in report.damage
                ],
                "strangers": [str(path) for path in strangers],
            }
        )
        if damaged:
            ctx.exit(1)
        return
    for path in strangers:
        out.print(
            Text.assemble(
                ("!", "yellow"), f" {printable(path)}: not a store file (ignored by servicecycle)"
            )
        )
    for report in damaged:
        for damage in report.damage:
            if damage.complete:
                kind = Text.assemble(
                    ("last record lacks its newline", "yellow"),
                    " (the record is kept; repair adds it)",
                )
            elif damage.torn_tail:
                kind = Text.assemble(
                    ("unfinished last write", "yellow"),
                    " (never acknowledged; repair sets it aside)",
                )
            else:
                kind = Text.assemble(("damaged", "red"), f" — {printable(damage.reason)}")
            out.print(
                Text.assemble(
                    ("✗", "red"),
                    f" {printable(damage.path)}: byte {damage.offset:d}, line {damage.line:d}, "
                    f"{damage.length:d} bytes: ",
                    kind,
                )
            )
    out.print(
        f"{_count(len(reports), 'file')}, {_count(records, 'record')}, "
        f"{len(damaged):d} damaged file(s) in {printable(the_store.data_dir)}"
    )
    if damaged:
        out.print(
            "Run `servicecycle store repair` to keep every intact record and set the rest aside."
        )
        ctx.exit(1)


@store.command()
@json_option
@click.pass_context
def repair(ctx: click.Context, as_json: bool) -> None:
    """Keep every intact record of damaged files; move damaged bytes to quarantine/."""
    result = _run("repairing", _store(ctx), maintenance.repair)
    if as_json:
        _echo_json(
            {
                "files": result.files,
                "kept": result.kept,
                "damaged_bytes": result.damaged_bytes,
                "set_aside": [str(path) for path in result.set_aside],
            }
        )
        return
    if not result.files:
        out.print("Nothing to repair: every file is intact.")
        return
    out.print(
        f"Repaired {result.files:d} file(s): kept {result.kept:d} records, set aside "
        f"{result.damaged_bytes:d} damaged bytes in:"
    )
    for path in result.set_aside:
        out.print(f"  {printable(path)}  (details in {printable(path.with_suffix('.txt').name)})")


@store.command()
@json_option
@click.pass_context
def compact(ctx: click.Context, as_json: bool) -> None:
    """Fold later changes into their records and merge closed months into one file each."""
    the_store = _store(ctx)
    result = _run("compacting", the_store, maintenance.compact)
    if not as_json:
        out.print(
            f"Compacted: {result.merged_months:d} month(s) merged, {result.rewritten:d} file(s) "
            f"rewritten; {result.files_before:d} → {result.files_after:d} files."
        )
    # the merged files are new: summarise them now, so the next report is not cold
    with FileBar("summarising for reports", err) as bar:
        written = summarise_missing(the_store, ctx.obj.runtime.config.site.zone, progress=bar)
    if as_json:
        _echo_json(
            {
                "merged_months": result.merged_months,
                "rewritten": result.rewritten,
                "files_before": result.files_before,
                "files_after": result.files_after,
                "summaries_written": written,
            }
        )
    elif written:
        out.print(f"Report summaries written for {written:d} file(s).")


@store.command()
@json_option
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Records, files, sizes, oldest and newest record per table."""
    the_store = _store(ctx)
    found = _run("counting", the_store, maintenance.stats)
    schema = the_store.meta["schema"]
    if as_json:
        _echo_json(
            {
                "data_dir": str(the_store.data_dir),
                "schema": schema,
                "tables": [
                    {
                        "name": entry.name,
                        "records": entry.records,
                        "files": entry.files,
                        "bytes": entry.bytes,
                        "oldest": entry.oldest,
                        "newest": entry.newest,
                    }
                    for entry in found
                ],
            }
        )
        return
    if not found:
        out.print(f"Store {printable(the_store.data_dir)} is empty.")
        return
    zone = ctx.obj.runtime.config.site.zone
    out.print(
        Text.assemble(
            ("Store ", "bold"),
            printable(the_store.data_dir),
            f" (schema {printable(schema)}; times in {printable(zone.key)})",
        )
    )
    columns = [
        Column("table"),
        Column("records", justify="right", wrap=False),
        Column("files", keep=1, justify="right", wrap=False),
        Column("size", keep=2, justify="right", wrap=False),
        Column("oldest", wrap=False),
        Column("newest", wrap=False),
    ]
    rows = [
        [
            printable(entry.name),
            f"{entry.records:,}",
            f"{entry.files:d}",
            _size(entry.bytes),
            _stored_time(entry.oldest, zone),
            _stored_time(entry.newest, zone),
        ]
        for entry in found
    ]
    out.print(fitted_table(columns, rows, out.width))


def _stored_time(text: str | None, zone: ZoneInfo) -> str:
    """A stored time (UTC text) on the site's clock; what is not a time is shown as it is."""
    if text is None:
        return "-"
    try:
        return site_time(parse_time(text), zone, named=False)
    except (ValueError, OverflowError):
        return printable(text)


@store.command()
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@json_option
@click.pass_context
def backup(ctx: click.Context, target: Path, as_json: bool) -> None:
    """Copy the store into TARGET (a new folder) without stopping the kiosk."""
    try:
        result = _run("copying", _store(ctx), lambda s, p: maintenance.backup(s, target, p))
    except OSError as exc:  # no permission, no space, a file in the way: one line, no traceback
        raise click.ClickException(
            f"backup to {printable(target)} stopped: {printable(exc.filename or target)}: "
            f"{printable(exc.strerror or exc)}"
        ) from None
    if as_json:
        _echo_json({"files": result.files, "bytes": result.bytes, "target": str(result.target)})
        return
    out.print(
        f"Backed up {result.files:d} files ({_size(result.bytes)}) to {printable(result.target)}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@store.command()
@json_option
@click.pass_context
def migrate(ctx: click.Context, as_json: bool) -> None:
    """Create the store's schema, or bring it up to this version (safe to run again)."""
    runtime = ctx.obj.runtime
    site = runtime.site_store  # opening a writable store migrates it (the folder or PostgreSQL)
    shown = runtime.store_url_shown
    version, engine, zone = site.schema, site.engine, site.tally_zone
    if as_json:
        _echo_json({"store": shown, "engine": engine, "schema": version, "tally_zone": zone})
        return
    line = f"{printable(shown)} ({printable(engine)}) is at schema {version:d}: up to date"
    if zone is not None:
        line += f"; daily tallies count local days in {printable(zone)}"
    out.print(Text(line))


@store.command()
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@json_option
@click.pass_context
def copy(ctx: click.Context, source: str, target: str, as_json: bool) -> None:
    """Copy everything from the store SRC into the store DST (a data folder or a URL).

    Ratings with their reasons, alerts, survey answers, the notification journal,
    silences and kiosk events. Safe to interrupt and to run again: what DST holds
    already is left as it is, so a second copy changes nothing.
    """
    zone = ctx.obj.runtime.config.site.timezone
    if shown_target(source) == shown_target(target):
        raise click.UsageError("SRC and DST are the same store")
    src_store = open_store(source, read_only=True, zone=zone)
    try:
        dst_store = open_store(target, zone=zone)
        try:
            bar = FileBar("copying", err, show_from=1000, unit="records")
            try:
                result = copy_store(src_store, dst_store, progress=bar, total=total_of(src_store))
            finally:
                bar.close()
        finally:
            dst_store.close()
    finally:
        src_store.close()
    if as_json:
        _echo_json(
            {
                "source": shown_target(source),
                "target": shown_target(target),
                "copied": result.copied,
                "already_there": result.present,
                "patched": result.patched,
            }
        )
        return
    copied = ", ".join(f"{n:,} {kind}" for kind, n in result.copied.items() if n) or "nothing new"
    out.print(Text(f"Copied {printable(copied)} into {printable(shown_target(target))}"))
    there = sum(result.present.values())
    if there:
        out.print(Text(f"{there:,} were there already and were left as they are"))
    patched = sum(result.patched.values())
    if patched:
        out.print(Text(f"{patched:,} changed since an earlier copy and were brought up to date"))
