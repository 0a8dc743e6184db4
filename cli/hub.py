"""`servicecycle hub ...`: serve the fleet's hub, enrol and revoke kiosks, see their health.

And on a kiosk machine: `servicecycle join HUB_URL CODE` and `servicecycle ship`.
See docs/fleet.md.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from pathlib import Path
from typing import Any

import click

from servicecycle.core import printable
from servicecycle.core.duration import format_duration, parse_duration
from servicecycle.core.fleet import Hub, Shipper, ShipperBusy, join, load_membership
from servicecycle.core.fleet.registry import KioskEntry
from servicecycle.core.fleet.settings import SettingsError, parse_languages

from . import render
from .options import forwarded_option, host_option, port_option, refuse
from .users import user
from .weekly import weekly_report


def _hub(state: Any, public_url: str | None = None) -> Hub:
    return Hub(state.runtime, public_url=public_url)


@click.group()
def hub() -> None:
    """The fleet's hub: kiosks ship to it, it runs every site's rules and serves the survey pages."""


hub.add_command(user)
hub.add_command(weekly_report)


@hub.command()
@host_option
@port_option(8780)
@click.option(
    "--public-url",
    metavar="URL",
    help="Address guests' phones and kiosks reach the hub at. Default: [hub] public_url.",
)
@click.option(
    "--certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM)."
)
@click.option(
    "--keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM)."
)
@forwarded_option
@click.option(
    "--no-notify", is_flag=True, help="Run the rules but deliver no notification (a trial run)."
)
@click.pass_obj
def serve(
    state: Any,
    host: str,
    port: int,
    public_url: str | None,
    certfile: str | None,
    keyfile: str | None,
    forwarded_allow_ips: str,
    no_notify: bool,
) -> None:
    """Take kiosks' ratings, run every site's rules, and serve the survey pages, until Ctrl+C."""
    from servicecycle.core.alerting import Dispatcher
    from servicecycle.hub import serve as run_hub

    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together")
    # A kiosk hears 503 and backs off, rather than wait on a request held through a restart.
    os.environ.setdefault("SERVICECYCLE_STORE_RETRY", "3")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        refuse("--public-url", public_url, "is not an address", "use", ["https://HOST[:PORT]"])
    runtime = state.runtime
    the_hub = _hub(state, public_url)
    if not the_hub.public_url:
        scheme = "https" if certfile else "http"
        the_hub.public_url = f"{scheme}://{host}:{port}"
        click.echo(
            f"warning: [hub] public_url is not set; QR codes will point at {printable(the_hub.public_url)}, "
            "which guests' phones may not reach",
            err=True,
        )

    def dispatcher() -> object | None:
        if no_notify:
            return None
        return Dispatcher.from_config(
            runtime.config, runtime.site_store, runtime.plugins, data_dir=runtime.data_dir
        )

    sites = ", ".join(the_hub.chain.sites)
    click.echo(
        f"hub for {printable(the_hub.chain.id)} ({len(the_hub.chain.sites):d} site(s): "
        f"{printable(sites)}) on {printable('https' if certfile else 'http')}://{printable(host)}:{port:d}, "
        f"store {printable(runtime.store_url_shown)}",
        err=True,
    )
    run_hub(
        the_hub,
        host=host,
        port=port,
        certfile=certfile,
        keyfile=keyfile,
        forwarded_allow_ips=forwarded_allow_ips,
        make_dispatcher=dispatcher,
    )


@hub.command()
@click.option("--site", required=True, help="The site the kiosk serves (one of [hub]'s sites).")
@click.option("--kiosk", required=True, help="The kiosk's name, e.g. lobby (its [kiosk] id).")
@click.option(
    "--expires",
    metavar="DURATION",
    help="How long the code stays valid, e.g. 30m, 24h. Default: [hub] code_ttl (24h).",
)
@click.pass_obj
def enroll(state: Any, site: str, kiosk: str, expires: str | None) -> None:
    """Print a one-time code that enrols KIOSK of SITE (`servicecycle join` spends it)."""
    ttl = None
    if expires is not None:
        try:
            ttl = parse_duration(expires).total_seconds()
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires") from None
    the_hub = _hub(state)
    try:
        code = the_hub.enroll(site, kiosk, ttl)
    finally:
        the_hub.registry.close()
    shown = format_duration(the_hub.settings.code_ttl) if expires is None else expires
    click.echo(code)
    click.echo(
        f"enrols kiosk {printable(kiosk)} of site {printable(site)}; single use, valid {printable(shown)}."
        f" On the kiosk machine: servicecycle join HUB_URL {printable(code)}",
        err=True,
    )


@hub.command()
@click.argument("kiosk")
@click.option("--site", help="The kiosk's site, when two sites have a kiosk of this name.")
@click.pass_obj
def revoke(state: Any, kiosk: str, site: str | None) -> None:
    """Refuse KIOSK's credential from now on (a replacement enrols under the same name)."""
    the_hub = _hub(state)
    try:
        revoked = the_hub.registry.revoke(site, kiosk)
    finally:
        the_hub.registry.close()
    for entry in revoked:
        click.echo(f"revoked {printable(entry.name)} (epoch {entry.epoch:d})")


def _ago(value: float | None) -> str:
    if value is None:
        return "never"
    seconds = max(0, int(time.time() - value))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@hub.command()
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable).")
@click.option("--region", "regions", multiple=True, help="Only this region's sites (repeatable).")
@click.option("--all", "all_epochs", is_flag=True, help="Also revoked and replaced kiosks.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def kiosks(
    state: Any, sites: tuple[str, ...], regions: tuple[str, ...], all_epochs: bool, as_json: bool
) -> None:
    """Every kiosk: last contact, backlog, clock offset, version and the moment it asks about."""
    the_hub = _hub(state)
    try:
        chosen = set(the_hub.chain.scope(sites, regions))
        entries = [
            e
            for e in the_hub.registry.kiosks()
            if e.site in chosen and (all_epochs or e.revoked is None)
        ]
    finally:
        the_hub.registry.close()
    tolerance = the_hub.tolerance
    if as_json:
        rows = [e.to_json(the_hub.chain.region_of.get(e.site), tolerance) for e in entries]
        click.echo(json.dumps({"kiosks": rows}, indent=2, ensure_ascii=False))
        return
    out = render.console()
    if not entries:
        out.print(
            "No kiosks enrolled. Enrol one with `servicecycle hub enroll --site S --kiosk K`."
        )
        return
    columns = [
        render.Column("kiosk", style="bold"),
        render.Column("last contact", wrap=False),
        render.Column("backlog", justify="right", keep=2),
        render.Column("clock", wrap=False, keep=1),
        render.Column("asks about", keep=4),
        render.Column("set at the hub", keep=4),
        render.Column("version", keep=5),
        render.Column("refused", justify="right", keep=3),
    ]
    rows = []
    for e in entries:
        if e.clock_offset is None:
            clock = "-"
        else:
            clock = f"{e.clock_offset:+.0f}s" + (" ⚠" if abs(e.clock_offset) > tolerance else "")
        contact = "revoked" if e.revoked else _ago(e.last_contact)
        if e.offline_since and not e.revoked:
            contact += f" (offline {_ago(e.offline_since).removesuffix(' ago')})"
        rows.append(
            [
                printable(f"{e.name} #{e.epoch}"),
                printable(contact),
                printable("-" if e.backlog is None else str(e.backlog)),
                printable(clock),
                printable(_asks(e.cycle, e.moment, e.languages)),
                printable(_desired(e)),
                printable(e.version or "-"),
                printable(f"{e.refused + e.set_aside}"),
            ]
        )
    out.print(render.fitted_table(columns, rows, out.width, title="Kiosks"))


def _asks(cycle: str | None, moment: str | None, languages: tuple[str, ...] | None) -> str:
    if not moment:
        return "-"
    return f"{cycle}/{moment}" + (f" ({', '.join(languages)})" if languages else "")


def _desired(entry: KioskEntry) -> str:
    """The hub's settings for a kiosk and whether it runs with them, in a few words."""
    desired = entry.desired
    if desired is None or entry.revoked:
        return "-"
    state = entry.settings_state
    if state == "applied":
        return f"v{desired.version:d} applied"
    if state == "refused":
        return f"v{desired.version:d} refused by the kiosk: {entry.settings_error or '?'}"
    return (
        f"v{desired.version:d} pending: {_asks(desired.cycle, desired.moment, desired.languages)}"
    )


@hub.command(name="kiosk-set")
@click.argument("kiosk")
@click.option("--site", help="The kiosk's site, when two sites have a kiosk of this name.")
@click.option("--cycle", help="The cycle it asks about (`servicecycle cycles` lists them).")
@click.option("--moment", help="The moment it asks about: one of the cycle's.")
@click.option(
    "--languages",
    metavar="LANG,LANG",
    help="The languages it offers, in order: the first is its default (e.g. en,tr).",
)
@click.option("--by", metavar="NAME", help="Who makes the change. Default: your login name.")
@click.pass_obj
def kiosk_set(
    state: Any,
    kiosk: str,
    site: str | None,
    cycle: str | None,
    moment: str | None,
    languages: str | None,
    by: str | None,
) -> None:
    """Set what KIOSK asks: its cycle, moment and languages, picked up within a minute.

    What is left out stays as it is. The running kiosk takes the change at its next
    contact with the hub (kiosk.heartbeat, 15s by default), between two customers,
    and keeps it through restarts; `hub kiosks` shows whether it is still pending.
    """
    if cycle is None and moment is None and languages is None:
        raise click.UsageError("say what to set: --cycle, --moment and/or --languages")
    if by is None:
        try:
            by = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container's numeric user)
            by = "cli"
    the_hub = _hub(state)
    try:
        change = the_hub.set_kiosk_settings(
            kiosk,
            site=site,
            cycle=cycle,
            moment=moment,
            languages=None if languages is None else parse_languages(languages),
            by=by,
        )
    except SettingsError as exc:
        hint = "--languages" if exc.field.startswith("language") else f"--{exc.field}"
        raise click.BadParameter(printable(str(exc)), param_hint=[hint]) from None
    finally:
        the_hub.registry.close()
    after, name = change.after, printable(change.entry.name)
    if not change.stored:
        click.echo(
            f"nothing changed: kiosk {printable(name)} is set to {printable(after.describe())} already"
        )
        return

    def words(value: str | tuple[str, ...] | None) -> str:
        if isinstance(value, tuple):
            return ", ".join(value) or "(none)"
        return value or "(not known)"

    fields = ("cycle", "moment", "languages")
    now = (after.cycle, after.moment, after.languages)
    lines = [
        f"  {field}: {printable(words(change.before[n]))} → {printable(words(now[n]))}"
        for n, field in enumerate(fields)
        if field in change.changed
    ]
    if lines:
        click.echo(
            f"kiosk {printable(name)}: settings version {after.version:d}, by {printable(after.changed_by)}"
        )
        for line in lines:
            click.echo(line)
    else:
        click.echo(
            f"kiosk {printable(name)} now follows the hub: {printable(after.describe())}, "
            f"by {printable(after.changed_by)} (as it asks now)"
        )
    click.echo(
        "pending until the kiosk picks it up, at its next contact between two customers "
        "(`servicecycle hub kiosks` shows when)",
        err=True,
    )


# -- on the kiosk machine ----------------------------------------------------------------


@click.command(name="join")
@click.argument("hub_url")
@click.argument("code")
@click.pass_obj
def join_command(state: Any, hub_url: str, code: str) -> None:
    """Join this kiosk to the hub at HUB_URL with a code from `servicecycle hub enroll`.

    The credential is kept owner-only in the data folder; from then on the
    kiosk ships its ratings to the hub and the hub notifies.
    """
    runtime = state.runtime
    config = runtime.config
    member = join(runtime.data_dir, hub_url, code, site=config.site.id, kiosk=config.kiosk.id)
    click.echo(
        f"joined {printable(member.hub)} as site {printable(member.site)} kiosk "
        f"{printable(member.kiosk)} (epoch {member.epoch:d}); QR codes now point at "
        f"{printable(member.survey_url.replace('{token}', '<token>'))}"
    )


@click.command()
@click.option("--once", is_flag=True, help="Ship what waits now and exit (default: keep shipping).")
@click.option(
    "--from",
    "source",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Ship another data folder's records (a replaced kiosk's) under this kiosk's credential.",
)
@click.pass_obj
def ship(state: Any, once: bool, source: Path | None) -> None:
    """Ship this data folder's ratings to the hub it joined (the kiosk does this itself)."""
    from servicecycle.core.store.engines import open_store

    runtime = state.runtime
    member = load_membership(runtime.data_dir)
    if member is None:
        raise click.ClickException(
            f"{printable(runtime.data_dir)} has not joined a hub; run `servicecycle join HUB_URL CODE`"
        )
    store = open_store(str(source)) if source is not None else runtime.site_store
    shipper = Shipper(
        store.changes,
        runtime.data_dir,
        source=source,
        version=_version(),
        about=lambda: {},
        heartbeat=runtime.config.kiosk.heartbeat.total_seconds(),
    )
    try:
        shipper.take_lock()
    except ShipperBusy as exc:
        raise click.ClickException(printable(str(exc))) from None
    try:
        if once:
            result = shipper.drain()
            status = shipper.status
            message = f"shipped {result.sent:d}, set aside {result.set_aside:d}, waiting {status.waiting:d}"
            if result.failed:
                raise click.ClickException(f"{printable(message)}: {printable(status.last_error)}")
            click.echo(message)
            return
        click.echo(f"shipping to {printable(member.hub)} until Ctrl+C", err=True)
        try:
            while True:
                time.sleep(shipper.step_delay())
        except KeyboardInterrupt:
            pass
    finally:
        shipper.release_lock()
        if source is not None:
            store.close()


def _version() -> str:
    from importlib.metadata import version

    return version("servicecycle")
