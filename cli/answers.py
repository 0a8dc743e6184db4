"""`servicecycle answers ...`: survey answers' personal data — find, erase, keep no longer.

The work is core's (``erase_answer``, ``prune_answers``: the same path the console
takes); this module reads the options, draws the result and says what is left to do
(the data folder keeps an erased text in its files until compaction rewrites them).
"""

from __future__ import annotations

import getpass
import json
from collections import deque
from datetime import datetime
from typing import Any

import click
from rich.text import Text

from servicecycle.core import (
    AlreadyErased,
    AnswerError,
    AnswerNotFound,
    ErasedAnswer,
    Erasure,
    SurveyAnswer,
    erase_answer,
    parse_answer_id,
    printable,
    prune_answers,
)
from servicecycle.core import answers as stored_answers
from servicecycle.core.answers import ERASE_REQUEST
from servicecycle.core.rating import format_time
from servicecycle.core.text import shown

from .options import SINCE, UNTIL, WHEN_HELP
from .progress import FileBar
from .render import Column, console, fitted_table, site_time

out = console(soft_wrap=True)
err = console(stderr=True)

#: Rows `answers list` draws unless told otherwise (the newest).
LIMIT = 200
#: Answers to erase before `answers prune` draws a bar.
BAR_FROM = 200

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (see docs/operations.md)."
)
compact_option = click.option(
    "--compact",
    is_flag=True,
    help="Data folder: then rewrite the answers' files at once, so the erased text leaves "
    "the disk now rather than at the next `store compact`.",
)


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class AnswerId(click.ParamType):
    """An answer's id as typed: 32 hex digits (capitals or a dashed UUID are read too)."""

    name = "id"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        try:
            return parse_answer_id(value)
        except AnswerError as exc:
            self.fail(f"{printable(shown(value))} is not an answer id; {exc.allowed}", param, ctx)


def _who(by: str | None) -> str:
    if by is not None:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise click.BadParameter(
            "could not tell who you are (no login name); say it with --by NAME",
            param_hint="--by",
        ) from None


def _blamed(exc: AnswerError) -> click.BadParameter:
    """A name or reason core refused, as the option it was typed in."""
    hint = {"by": "--by", "reason": "--reason"}.get(exc.field, exc.field)
    return click.BadParameter(
        f"{printable(shown(exc.value))} is not allowed; {printable(exc.allowed)}",
        param_hint=hint,
    )


def _erasure_json(erasure: Erasure) -> dict[str, Any]:
    return erasure.to_record()


def _compact_answers(ctx: click.Context) -> bool:
    """Rewrite the answers' files now (a data folder); False where there is nothing to do."""
    with FileBar("compacting answers", err, show_from=20) as bar:
        return ctx.obj.runtime.site_store.answers.compact(bar)


def _left_to_do(ctx: click.Context, compacted: bool) -> str:
    """What an erasure still needs to leave every byte of the store, in one line."""
    runtime = ctx.obj.runtime
    if runtime.store_url is not None:
        return (
            "PostgreSQL updated the row in place; VACUUM reclaims the old row version, and "
            "dumps or WAL archives made before still hold it (docs/survey.md)."
        )
    if compacted:
        return (
            "The answers' files were rewritten: the text is gone from the data folder "
            "(backups made before still hold it)."
        )
    return (
        "Readers no longer show the text; it leaves the data folder's files at the next "
        "`servicecycle store compact` (or run this with --compact)."
    )


@click.group()
def answers() -> None:
    """Survey answers: find them, erase a guest's comment and contact, apply retention.

    See docs/survey.md, "Personal data: retention and erasure".
    """


@answers.command(name="list")
@click.option("--since", type=SINCE, help=f"Only answers given from then on: {WHEN_HELP}.")
@click.option("--until", type=UNTIL, help="Only answers given before then.")
@click.option("--site", help="Only answers of this site.")
@click.option(
    "--contact",
    metavar="TEXT",
    help="Only answers whose contact details hold TEXT (case, spaces, dashes and brackets "
    "do not count): how to find the answers of a guest who asks for erasure.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=LIMIT,
    show_default=True,
    help="Show at most this many (the newest).",
)
@json_option
@click.pass_obj
def list_command(
    state: object,
    since: datetime | None,
    until: datetime | None,
    site: str | None,
    contact: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List survey answers with their ids: when, where, what they hold (never the text)."""
    wanted = _squeezed(contact) if contact is not None else None
    if wanted is not None and not wanted:
        raise click.BadParameter(
            f"{printable(shown(contact))} has nothing to look for; give part of a phone "
            "number or an e-mail address",
            param_hint="--contact",
        )
    runtime = state.runtime  # type: ignore[attr-defined]
    kept: deque[SurveyAnswer] = deque(maxlen=limit)
    found = 0
    for answer in stored_answers(runtime.site_store, since, until):
        if site is not None and answer.site != site:
            continue
        if wanted is not None and wanted not in _squeezed(answer.contact or ""):
            continue
        kept.append(answer)
        found += 1
    rows = list(kept)
    if as_json:
        _echo_json({"answers": [_answer_json(a) for a in rows], "not_shown": found - len(rows)})
        return
    if not rows:
        err.print("no survey answers" + (" match" if site or contact else " in this period"))
        return
    zone = runtime.config.site.zone
    columns = [
        Column("id", wrap=False),
        Column("given", wrap=False),
        Column("site", keep=2),
        Column("cycle", keep=3),
        Column("stages", keep=3, justify="right", wrap=False),
        Column("comment", wrap=False),
        Column("contact", wrap=False),
        Column("erased", keep=1),
    ]
    table = [
        [
            printable(a.id),
            site_time(a.at, zone, named=False),
            printable(a.site),
            printable(a.cycle),
            f"{len(a.stages):d}",
            _held_cell(a, "comment"),
            _held_cell(a, "contact"),
            _erased_cell(a.erased, zone) if a.erased else "",
        ]
        for a in rows
    ]
    out.print(Text(f"Survey answers (times in {printable(zone.key)})", style="bold"))
    out.print(fitted_table(columns, table, out.width))
    if found > len(rows):
        err.print(
            f"{found - len(rows):,} older answer(s) not shown: narrow with --since, --site "
            "or --contact, or raise --limit"
        )


def _squeezed(text: str) -> str:
    """Contact details as compared: case-folded, without blanks, dashes or brackets."""
    return "".join(c for c in text.casefold() if not c.isspace() and c not in "-()")


def _answer_json(answer: SurveyAnswer) -> dict[str, Any]:
    return {
        "id": answer.id,
        "at": format_time(answer.at),
        "site": answer.site,
        "kiosk": answer.kiosk,
        "cycle": answer.cycle,
        "stages": len(answer.stages),
        "comment": bool(answer.comment),
        "contact": bool(answer.contact),
        "erased": _erasure_json(answer.erased) if answer.erased else None,
    }


def _held_cell(answer: SurveyAnswer, name: str) -> str:
    """``yes``, ``-``, or ``erased`` (it held something, erased since)."""
    if answer.erased is not None:
        return "erased" if name in answer.erased.fields else "-"
    return "yes" if getattr(answer, name) else "-"


def _erased_cell(erasure: Erasure, zone: Any) -> str:
    return f"{site_time(erasure.at, zone, named=False)} by {printable(erasure.by)}"


@answers.command()
@click.argument("answer_id", metavar="ID", type=AnswerId())
@click.option(
    "--by",
    metavar="NAME",
    help="Who erases it, recorded with the time. Default: your login name.",
)
@click.option(
    "--reason",
    default=ERASE_REQUEST,
    show_default=True,
    metavar="TEXT",
    help="Why, recorded with it (e.g. a ticket number).",
)
@compact_option
@json_option
@click.pass_context
def erase(
    ctx: click.Context,
    answer_id: str,
    by: str | None,
    reason: str,
    compact: bool,
    as_json: bool,
) -> None:
    """Erase the comment and contact details of the answer ID; its scores stay.

    Exit 0 when erased, and when it was erased before (said with when and by
    whom); 1 when no answer has that id; 2 for an id that is not one.
    """
    runtime = ctx.obj.runtime
    who = _who(by)
    try:
        done: ErasedAnswer = erase_answer(runtime.site_store, answer_id, who, reason)
        now = True
    except AlreadyErased as exc:
        done, now = exc.erased, False
    except AnswerNotFound:
        raise AnswerNotFound(answer_id, runtime.store_url_shown) from None
    except AnswerError as exc:
        raise _blamed(exc) from None
    compacted = _compact_answers(ctx) if compact else False
    erasure = done.erasure
    if as_json:
        _echo_json(
            {
                "id": done.id,
                "erased_now": now,
                "erased": _erasure_json(erasure),
                "engine": runtime.site_store.engine,
                "compacted": compacted,
            }
        )
        return
    zone = runtime.config.site.zone
    when = site_time(erasure.at, zone)
    if not now:
        out.print(
            Text(
                f"Answer {printable(done.id)} was already erased at {printable(when)} by {printable(erasure.by)} "
                f"({printable(erasure.reason)}); nothing to do."
            )
        )
    else:
        what = " and ".join(
            {"comment": "comment", "contact": "contact details"}[f] for f in erasure.fields
        )
        given = site_time(done.answer.at, zone)
        if what:
            line = (
                f"Erased the {what} of answer {done.id} (given {given} at site "
                f"{printable(done.answer.site)}), by {printable(erasure.by)}: "
                f"{printable(erasure.reason)}. Its scores stay."
            )
        else:
            line = (
                f"Answer {done.id} held no comment or contact details; the erasure is "
                f"recorded (by {printable(erasure.by)}: {printable(erasure.reason)})."
            )
        out.print(Text(line))
    if now or compacted:
        out.print(Text(_left_to_do(ctx, compacted)))


@answers.command()
@compact_option
@json_option
@click.pass_context
def prune(ctx: click.Context, compact: bool, as_json: bool) -> None:
    """Erase the comment and contact of answers older than [survey] keep_contact_days.

    The scores stay. Safe to run at any time and as often as you like (a daily
    timer): what was erased before is left as it is. Without the setting, nothing
    is erased.
    """
    runtime = ctx.obj.runtime
    days = runtime.config.survey.keep_contact_days
    if days is None:
        if as_json:
            _echo_json(
                {
                    "keep_days": None,
                    "before": None,
                    "erased": 0,
                    "already": 0,
                    "without": 0,
                    "skipped": [],
                    "compacted": False,
                }
            )
            return
        err.print(
            Text(
                f"[survey] keep_contact_days is not set in {printable(runtime.config.source)}: "
                "answers keep their comment and contact details; nothing was erased "
                "(docs/configuration.md)."
            )
        )
        return
    with FileBar("erasing old contact details", err, show_from=BAR_FROM, unit="answers") as bar:
        result = prune_answers(runtime.site_store, days, progress=bar)
    compacted = _compact_answers(ctx) if compact else False
    if as_json:
        _echo_json(
            {
                "keep_days": result.keep_days,
                "before": format_time(result.before),
                "erased": result.erased,
                "already": result.already,
                "without": result.without,
                "skipped": result.skipped,
                "compacted": compacted,
            }
        )
        return
    zone = runtime.config.site.zone
    out.print(
        Text(
            f"Answers given before {site_time(result.before, zone)} (keep_contact_days = "
            f"{days:d}): erased the comment and contact of {result.erased:,}; "
            f"{result.already:,} erased before, {result.without:,} held none."
        )
    )
    for record_id in result.skipped:
        err.print(Text(f"! answer {printable(record_id)} is malformed and was left alone"))
    if result.erased or compacted:
        out.print(Text(_left_to_do(ctx, compacted)))
