"""`servicecycle console serve`: the manager's console over this machine's data folder.

On a hub, `servicecycle hub serve` serves it at /console already. See docs/console.md.
"""

from __future__ import annotations

from typing import Any

import click

from servicecycle.core import printable
from servicecycle.core.fleet.hub import state_dir

from .options import forwarded_option, host_option, port_option


@click.group()
def console() -> None:
    """The manager's console in a browser: alerts of the sites each user may see."""


@console.command()
@host_option
@port_option(8790)
@forwarded_option
@click.pass_obj
def serve(state: Any, host: str, port: int, forwarded_allow_ips: str) -> None:
    """Serve the console at http://HOST:PORT/console/ until Ctrl+C (users: `hub user add`)."""
    from servicecycle.console.server import serve as run_console
    from servicecycle.core import UserBook

    runtime = state.runtime
    folder = state_dir(runtime)
    with UserBook(folder) as book:
        if not book.users():
            click.echo(
                "No console user yet: add one with `servicecycle hub user add NAME --role admin`.",
                err=True,
            )
    click.echo(f"console on http://{printable(host)}:{port:d}/console/", err=True)
    run_console(runtime, folder, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips)
