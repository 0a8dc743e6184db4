"""`servicecycle hub user ...`: the console's users and the part of the chain each may see.

See docs/console.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from servicecycle.core import ROLES, UserBook, printable
from servicecycle.core.access.users import LANGUAGES, check_contact
from servicecycle.core.fleet.chain import Chain
from servicecycle.core.fleet.hub import state_dir

from .options import refuse


def _book(state: Any) -> UserBook:
    return UserBook(state_dir(state.runtime))


def _password(name: str, password_file: Path | None) -> str:
    """From the file's first line, or asked twice on the terminal (never an argument)."""
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(
                f"cannot read {printable(str(password_file))}: {printable(str(exc))}",
                param_hint="--password-file",
            ) from None
        if not lines or not lines[0]:
            raise click.BadParameter(
                f"{printable(str(password_file))} is empty: put the password on its first line",
                param_hint="--password-file",
            )
        return lines[0]
    return str(
        click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True, err=True)
    )


def _check_scope(state: Any, site: str | None, region: str | None) -> None:
    chain = Chain(state.runtime.config)
    if site is not None and site not in chain.sites:
        refuse("--site", site, "is not one of this hub's sites", "its sites", chain.sites)
    if region is not None and region not in chain.regions:
        refuse("--region", region, "is not one of this hub's regions", "its regions", chain.regions)


@click.group()
def user() -> None:
    """Add, list and remove the console's users; change a password."""


@user.command(name="add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option("--site", help="The site of a staff member, or of a site's manager.")
@click.option("--region", help="The region of a regional manager.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the password from this file's first line (default: asked twice).",
)
@click.option("--email", help="Where the weekly report card goes (managers and admins).")
@click.option(
    "--lang",
    "language",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="The language of their report card and its e-mail.",
)
@click.pass_obj
def add(
    state: Any,
    name: str,
    role: str,
    site: str | None,
    region: str | None,
    password_file: Path | None,
    email: str | None,
    language: str,
) -> None:
    """Add user NAME with ROLE over a site, a region, or (admin) the whole chain."""
    _check_scope(state, site, region)
    with _book(state) as book:
        UserBook.check(name, role, site, region)  # a wrong name or scope before the password
        check_contact(email, language)
        made = book.add(
            name,
            role,
            _password(name, password_file),
            site=site,
            region=region,
            email=email,
            language=language,
        )
    click.echo(f"added {printable(made.name)}: {printable(made.role)} of {printable(made.scope)}")


@user.command(name="set")
@click.argument("name")
@click.option("--email", help="Where the weekly report card goes; '' for nowhere.")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), help="Their report's language.")
@click.pass_obj
def set_contact(state: Any, name: str, email: str | None, language: str | None) -> None:
    """Change where NAME's weekly report card goes, or its language."""
    with _book(state) as book:
        found = book.get(name)
        if found is None:
            book.remove(name)  # raises: no such user, and lists the users
            return
        made = book.set_contact(
            name,
            email=found.email if email is None else email,
            language=language or found.language,
        )
    where = made.email or "no e-mail"
    click.echo(printable(f"{made.name}: weekly report card to {where}, in {made.language}"))


@user.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_users(state: Any, as_json: bool) -> None:
    """Every user, their role and where it holds."""
    with _book(state) as book:
        found = book.users()
    if as_json:
        rows = [
            {
                "name": u.name,
                "role": u.role.value,
                "site": u.site,
                "region": u.region,
                "email": u.email,
                "language": u.language,
            }
            for u in found
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("No users yet: `servicecycle hub user add NAME --role admin` makes the first.")
    for u in found:
        mail = f"  {printable(u.email)} ({u.language})" if u.email else ""
        click.echo(
            f"{printable(u.name)}  {printable(u.role)}  {printable(u.scope)}{printable(mail)}"
        )


@user.command(name="remove")
@click.argument("name")
@click.pass_obj
def remove(state: Any, name: str) -> None:
    """Remove user NAME; their sessions end at once."""
    with _book(state) as book:
        book.remove(name)
    click.echo(f"removed {printable(name)}")


@user.command(name="passwd")
@click.argument("name")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the new password from this file's first line (default: asked twice).",
)
@click.pass_obj
def passwd(state: Any, name: str, password_file: Path | None) -> None:
    """Set a new password for NAME; their sessions end (they sign in again)."""
    with _book(state) as book:
        if book.get(name) is None:
            book.remove(name)  # raises: no such user, and lists the users
        book.set_password(name, _password(name, password_file))
    click.echo(f"password of {printable(name)} changed; their sessions ended")
