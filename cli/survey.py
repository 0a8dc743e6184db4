"""`servicecycle survey ...`: serve the follow-up survey page, and make links for testing."""

from __future__ import annotations

import click

from servicecycle.core import ServiceCycleError, SurveyTokens, printable, survey_url

from .options import forwarded_option, host_option, port_option


@click.group()
def survey() -> None:
    """The follow-up survey page the kiosk's QR codes point to (see docs/survey.md)."""


@survey.command()
@host_option
@port_option(8765)
@click.option(
    "--root-path",
    default="",
    metavar="PATH",
    help="URL prefix the reverse proxy serves the app under, e.g. /survey.",
)
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=True,
    show_default=True,
    help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (client address, https).",
)
@forwarded_option
@click.option(
    "--rate-limit",
    default=30,
    show_default=True,
    type=click.IntRange(0, 100_000),
    metavar="N",
    help="Requests per minute per client address; 0 turns the limit off.",
)
@click.pass_obj
def serve(
    state: object,
    host: str,
    port: int,
    root_path: str,
    proxy_headers: bool,
    forwarded_allow_ips: str,
    rate_limit: int,
) -> None:
    """Serve the survey page (Starlette on uvicorn) until Ctrl+C or SIGTERM."""
    from servicecycle.survey import serve as run_server

    if root_path and not root_path.startswith("/"):
        raise click.BadParameter("must start with '/', e.g. /survey", param_hint="--root-path")
    runtime = state.runtime  # type: ignore[attr-defined]
    _ = runtime.site_store  # open (and if needed create) the store before listening
    address = f"http://{host}:{port}{root_path}/s/<token>"
    click.echo(
        f"survey page for site {printable(runtime.config.site.id)} on {printable(address)}"
        f" (data: {printable(runtime.data_dir)})",
        err=True,
    )
    run_server(
        runtime,
        host=host,
        port=port,
        root_path=root_path,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        rate_limit=rate_limit or None,
    )


@survey.command()
@click.argument("rating_id")
@click.pass_obj
def link(state: object, rating_id: str) -> None:
    """Print the survey URL for a recorded rating, as its QR code would carry it."""
    runtime = state.runtime  # type: ignore[attr-defined]
    rating = runtime.site_store.ratings.get(rating_id)
    if rating is None:
        raise ServiceCycleError(f"no rating {rating_id!r} in {runtime.data_dir}")
    tokens = SurveyTokens.for_data_dir(runtime.data_dir)
    token = tokens.issue(rating.id, ttl=int(runtime.config.survey.token_ttl.total_seconds()))
    click.echo(printable(survey_url(runtime.plugins, runtime.config.survey, rating, token)))
