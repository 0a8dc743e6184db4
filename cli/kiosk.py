"""`servicecycle kiosk`: run the rating kiosk; `servicecycle kiosk hash-pin`: make a PIN hash.

With no arguments the kiosk runs on the embedded defaults (the hotel cycle's
first critical moment, English first, the demo PIN 0000), so a fresh install
shows something real at once.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import platformdirs

from servicecycle.core import KioskSession, hash_pin, printable

from .options import kiosk_moment, refuse

log = logging.getLogger(__name__)

#: Signals a customer could raise from the keyboard before Textual takes the
#: terminal (it turns them off once running): ignored for the kiosk's whole life.
KEYBOARD_SIGNALS = (signal.SIGINT, signal.SIGTSTP, signal.SIGQUIT)


@click.group(name="kiosk", invoke_without_command=True)
@click.option("--cycle", help="Cycle to ask about. Default: kiosk.cycle, else the hotel cycle.")
@click.option(
    "--moment", help="Moment to ask about. Default: kiosk.moment, else the first critical one."
)
@click.option("--lang", help="Language to start in. Default: the first of kiosk.languages.")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the kiosk logs while it owns the screen. Default: the user log folder.",
)
@click.pass_context
def kiosk(
    ctx: click.Context,
    cycle: str | None,
    moment: str | None,
    lang: str | None,
    log_file: Path | None,
) -> None:
    """Run the rating kiosk full-screen (locked down; staff leave through the PIN menu)."""
    if ctx.invoked_subcommand is not None:
        return
    runtime = ctx.obj.runtime
    the_cycle, _, the_moment = kiosk_moment(runtime, cycle, moment)
    languages = runtime.config.kiosk.languages
    if lang is not None and lang not in languages:
        refuse("--lang", lang, "is not offered by this kiosk", "kiosk.languages", languages)
    session = KioskSession(runtime, cycle=the_cycle.id, moment=the_moment.id, language=lang)
    target = (
        log_file or Path(platformdirs.user_log_dir("servicecycle", appauthor=False)) / "kiosk.log"
    )
    run_kiosk(session, target)


def run_kiosk(session: KioskSession, log_file: Path) -> None:
    """Run the app until staff exit it, with the terminal and the logs made kiosk-safe."""
    from servicecycle.kiosk import KioskApp  # Textual is imported only when a kiosk runs

    if os.environ.pop("TEXTUAL_ALLOW_SIGNALS", None) is not None:
        click.echo("warning: TEXTUAL_ALLOW_SIGNALS is ignored on a kiosk", err=True)
    app = KioskApp(session, handle_sigterm=True)
    with logs_to_file(log_file), ignored_signals(KEYBOARD_SIGNALS):
        log.info(
            "kiosk %s starting on %s/%s, data in %s",
            session.config.kiosk.id,
            session.cycle.id,
            session.moment.id,
            session.runtime.data_dir,
        )
        app.run()
    if app.return_code:
        raise click.exceptions.Exit(app.return_code)


@contextlib.contextmanager
def logs_to_file(path: Path) -> Iterator[None]:
    """Send logging to a rotating file while the kiosk owns the terminal.

    A log line written to the terminal would print over the screen a customer
    sees, so terminal handlers are set aside until the kiosk exits.
    """
    root = logging.getLogger()
    terminal = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError as exc:
        click.echo(
            f"warning: cannot write the kiosk log {printable(path)}: {printable(exc.strerror)}",
            err=True,
        )
        handler = logging.NullHandler()
    level = root.level
    for h in terminal:
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(level)
        for h in terminal:
            root.addHandler(h)


@contextlib.contextmanager
def ignored_signals(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    previous: dict[signal.Signals, Any] = {}
    for number in signals:
        previous[number] = signal.signal(number, signal.SIG_IGN)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@kiosk.command(name="hash-pin")
def hash_pin_command() -> None:
    """Ask for a new staff PIN twice (hidden) and print the config line that holds its hash."""
    pin = click.prompt(
        "New staff PIN (4 to 12 digits)",
        hide_input=True,
        confirmation_prompt="Repeat the PIN",
    )
    encoded = hash_pin(pin.strip())
    click.echo("# under [kiosk] in the site configuration:", err=True)
    click.echo(f'pin_hash = "{printable(encoded)}"')


def _main(argv: list[str]) -> None:
    """``python -m servicecycle.cli.kiosk [GLOBAL OPTIONS] kiosk ...``: the root CLI, with
    this command attached even where ``servicecycle.cli.main`` does not attach it yet."""
    from servicecycle.core import PluginHost

    from .main import cli, log_to_terminal

    if "kiosk" not in cli.commands:
        cli.add_command(kiosk)
    log_to_terminal(logging.WARNING)
    host = PluginHost.discover()
    host.call_each("register_commands", cli=cli)
    cli.main(args=argv, prog_name="servicecycle", obj=host)


if __name__ == "__main__":
    _main(sys.argv[1:])
