"""Running the survey app with uvicorn: one place for the server settings that matter.

Defaults suit a single machine: listen on 127.0.0.1 only, trust ``X-Forwarded-*``
headers from 127.0.0.1 only (a reverse proxy on the same host), no ``Server``
header, and no uvicorn access log (it would log every token in full; the app
logs requests with tokens cut short instead).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import uvicorn

from servicecycle.core import Runtime, complete_answers

from .app import DEFAULT_RATE_LIMIT, create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def make_server(
    runtime: Runtime,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    root_path: str = "",
    proxy_headers: bool = True,
    forwarded_allow_ips: str = "127.0.0.1",
    rate_limit: int | None = DEFAULT_RATE_LIMIT,
    log_level: str = "info",
) -> uvicorn.Server:
    """A configured (not yet running) uvicorn server for this site's survey app."""
    config = uvicorn.Config(
        create_app(runtime, rate_limit=rate_limit),
        host=host,
        port=port,
        root_path=root_path.rstrip("/"),
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        date_header=True,
        access_log=False,
        log_level=log_level,
        lifespan="off",
    )
    return uvicorn.Server(config)


#: How far back a starting server looks for answers a crash left half recorded.
RECOVERY_WINDOW = timedelta(days=7)


def serve(runtime: Runtime, **options: object) -> None:
    """Run the survey server until interrupted (Ctrl+C or SIGTERM).

    First it records the stage ratings of any answer a crash of the previous
    run stored without them (see :func:`servicecycle.core.complete_answers`).
    """
    complete_answers(runtime, since=datetime.now(UTC) - RECOVERY_WINDOW)
    make_server(runtime, **options).run()  # type: ignore[arg-type]
