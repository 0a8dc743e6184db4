"""`servicecycle hub weekly-report`: the weekly report cards that are due, or one sent now.

A running hub sends them itself, once a minute (``[hub] report_receiver``);
this command shows what is due and sends by hand, e.g. a first test mail.
See docs/console.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from servicecycle.core import printable
from servicecycle.core.access.weekly import Due
from servicecycle.core.fleet.chain import Chain
from servicecycle.core.fleet.hub import state_dir
from servicecycle.reportcard import render_document

from .options import refuse


@click.command(name="weekly-report")
@click.option("--send", is_flag=True, help="Send the cards that are due now (else only list).")
@click.option("--user", "name", metavar="NAME", help="Send NAME's card now, due or not.")
@click.option("--site", help="With --user: only this site's card.")
@click.pass_obj
def weekly_report(state: Any, send: bool, name: str | None, site: str | None) -> None:
    """List the weekly report cards that are due, or send them (--send, --user)."""
    from servicecycle.core import ServiceCycleError, WeeklyMail

    runtime = state.runtime
    chain = Chain(runtime.config)
    try:
        mail = WeeklyMail(
            runtime,
            chain,
            state_dir(runtime),
            lambda report, lang, names: render_document(report, lang, site_names=names),
        )
    except ServiceCycleError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if name is not None:
            user = mail.users.get(name)
            if user is None:
                known = [u.name for u in mail.users.users()]
                refuse("--user", name, "is no console user", "the users", known)
            if not user.email:
                raise click.ClickException(
                    printable(
                        f"{name} has no e-mail address: `servicecycle hub user set {name} --email ...`"
                    )
                )
            sites = user.sites(chain)
            if site is not None and site not in sites:
                refuse("--site", site, f"is not one of {name}'s sites", "their sites", sites)
            items = [
                Due(user, s, mail.last_time(s, datetime.now(UTC)))
                for s in ([site] if site else sites)
            ]
            for item in items:
                mail.send(item)
                click.echo(f"sent {printable(item.site)}'s card to {printable(user.email)}")
            return
        due = mail.due()
        if not due:
            click.echo("no weekly report card is due")
        for item in due:
            line = f"{printable(item.user.name)} <{printable(item.user.email)}>  {item.site}"
            click.echo(printable(f"{line}  due since {item.at:%Y-%m-%d %H:%M %Z}"))
        if send and due:
            sent, problems = mail.run_once()
            click.echo(f"sent {sent:d} card(s)")
            for problem in problems:
                click.echo(f"not sent: {printable(problem)}", err=True)
            if problems:
                raise SystemExit(1)
    finally:
        mail.close()
