"""`servicecycle store ...`: look after the data folder."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from servicecycle.core.reports.upkeep import summarise_missing
from servicecycle.core.store import Store, maintenance

from .progress import FileBar

out = Console(highlight=False, soft_wrap=True)  # paths and offsets must stay on one line
err = Console(stderr=True, highlight=False)


def _progress(label: str, total: int) -> Progress:
    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
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
    return ctx.obj.runtime.store


@click.group()
def store() -> None:
    """Check, repair, compact and describe the data folder."""


@store.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Read every file of the store and report damage (changes nothing; exit 1 if damaged)."""
    the_store = _store(ctx)
    reports = _run("checking", the_store, maintenance.check)
    strangers = maintenance.strangers(the_store)
    damaged = [r for r in reports if not r.ok]
    records = sum(r.records for r in reports)
    for path in strangers:
        out.print(f"[yellow]![/] {path}: not a store file (ignored by servicecycle)")
    for report in damaged:
        for damage in report.damage:
            kind = "[yellow]unfinished last write[/]" if damage.torn_tail else "[red]damaged[/]"
            out.print(
                f"[red]✗[/] {damage.path}: byte {damage.offset}, line {damage.line}, "
                f"{damage.length} bytes: {kind} — {damage.reason}"
            )
    out.print(
        f"{len(reports)} files, {records} records, {len(damaged)} damaged file(s) in "
        f"{the_store.data_dir}"
    )
    if damaged:
        out.print(
            "Run `servicecycle store repair` to keep every intact record and set the rest aside."
        )
        ctx.exit(1)


@store.command()
@click.pass_context
def repair(ctx: click.Context) -> None:
    """Keep every intact record of damaged files; move damaged bytes to quarantine/."""
    result = _run("repairing", _store(ctx), maintenance.repair)
    if not result.files:
        out.print("Nothing to repair: every file is intact.")
        return
    out.print(
        f"Repaired {result.files} file(s): kept {result.kept} records, set aside "
        f"{result.damaged_bytes} damaged bytes in:"
    )
    for path in result.set_aside:
        out.print(f"  {path}  (details in {path.with_suffix('.txt').name})")


@store.command()
@click.pass_context
def compact(ctx: click.Context) -> None:
    """Fold later changes into their records and merge closed months into one file each."""
    the_store = _store(ctx)
    result = _run("compacting", the_store, maintenance.compact)
    out.print(
        f"Compacted: {result.merged_months} month(s) merged, {result.rewritten} file(s) "
        f"rewritten; {result.files_before} → {result.files_after} files."
    )
    # the merged files are new: summarise them now, so the next report is not cold
    with FileBar("summarising for reports", err) as bar:
        written = summarise_missing(the_store, ctx.obj.runtime.config.site.zone, progress=bar)
    if written:
        out.print(f"Report summaries written for {written} file(s).")


@store.command()
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Records, files, sizes, oldest and newest record per table."""
    the_store = _store(ctx)
    found = _run("counting", the_store, maintenance.stats)
    table = Table(title=f"Store {the_store.data_dir} (schema {the_store.meta['schema']})")
    for column in ("table", "records", "files", "size", "oldest (UTC)", "newest (UTC)"):
        table.add_column(
            column, justify="right" if column in {"records", "files", "size"} else "left"
        )
    for entry in found:
        table.add_row(
            entry.name,
            f"{entry.records:,}",
            str(entry.files),
            _size(entry.bytes),
            (entry.oldest or "-")[:19],
            (entry.newest or "-")[:19],
        )
    out.print(table if found else f"Store {the_store.data_dir} is empty.")


@store.command()
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, target: Path) -> None:
    """Copy the store into TARGET (a new folder) without stopping the kiosk."""
    result = _run("copying", _store(ctx), lambda s, p: maintenance.backup(s, target, p))
    out.print(f"Backed up {result.files} files ({_size(result.bytes)}) to {result.target}")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
