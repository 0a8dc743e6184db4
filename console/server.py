"""`servicecycle console serve`: the console beside one kiosk, over its data folder.

The hub serves the same app at ``/console``; here it is served alone, at the
same path, so links and bookmarks are the same on a single machine and a hub.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from servicecycle.core import Runtime

from .app import create_console


def create_server_app(runtime: Runtime, state_dir: Path) -> Starlette:
    async def home(request: Request) -> Response:
        return RedirectResponse("/console/", status_code=307)

    return Starlette(
        routes=[Route("/", home), Mount("/console", app=create_console(runtime, state_dir))]
    )


def serve(
    runtime: Runtime,
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8790,
    forwarded_allow_ips: str = "127.0.0.1",
    log_level: str = "info",
) -> None:
    """Serve until interrupted (Ctrl+C or SIGTERM)."""
    config = uvicorn.Config(
        create_server_app(runtime, state_dir),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        access_log=False,
        log_level=log_level,
        lifespan="off",
    )
    uvicorn.Server(config).run()
