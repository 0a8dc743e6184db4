"""Shared fixtures: real plugins, a real data folder on disk, the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from servicecycle.core import LOAD_PLUGINS_ENV, Catalogue, PluginHost, Runtime

BUILTIN = {"hotel", "health", "banking"}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config or writes to their data folder, and no test
    sees a plugin installed beside servicecycle: every process a test starts (``run_cli``
    included) loads the built-in plugins only, unless the test names others
    (:func:`with_plugins`)."""
    monkeypatch.delenv("SERVICECYCLE_CONFIG", raising=False)
    monkeypatch.setenv(LOAD_PLUGINS_ENV, ",".join(sorted(BUILTIN)))
    monkeypatch.setenv("SERVICECYCLE_DATA_DIR", str(tmp_path / "data"))


def with_plugins(site: Path | str, *names: str) -> dict[str, str]:
    """The environment of a process that sees the plugins installed in ``site`` (a folder
    put on ``PYTHONPATH``): the built-in plugins and ``names``, and nothing else."""
    return {"PYTHONPATH": str(site), LOAD_PLUGINS_ENV: ",".join(sorted(BUILTIN | set(names)))}


@pytest.fixture
def host() -> PluginHost:
    """The built-in plugins, found through their entry points."""
    return PluginHost.discover(only=BUILTIN)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The built-in cycles, loaded once (read-only)."""
    return Catalogue.from_plugins(PluginHost.discover(only=BUILTIN))


@pytest.fixture
def runtime(host: PluginHost, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.open(data_dir=tmp_path / "data", plugins=host)
    yield rt
    rt.close()


def run_cli(
    *args: str, env: dict[str, str | None] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `servicecycle` command as a user would (``env``: a value of
    ``None`` removes that variable)."""
    merged = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", **(env or {})}
    full_env = {name: value for name, value in merged.items() if value is not None}
    return subprocess.run(
        [sys.executable, "-m", "servicecycle.cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
    )


def pip_install_command(project: Path | str, site: Path) -> list[str]:
    """A real pip build of ``project`` into ``site`` (put on PYTHONPATH): the test
    environment itself is never changed."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--target",
        str(site),
        str(project),
    ]


def pip_install(project: Path | str, site: Path) -> None:
    subprocess.run(
        pip_install_command(project, site),
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        timeout=180,
    )


#: The browser the end-to-end tests drive: Debian's chromium (`.ci/install-browser`).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sync_playwright_or_fail():
    """Playwright's ``sync_playwright``, or a clear failure naming what to install."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. "
            "Run `bash .ci/install-browser` (apt-get install chromium) and try again.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'", pytrace=False)
    return sync_playwright


# -- a real SMTP server on loopback (aiosmtpd) ---------------------------------------------


@pytest.fixture
def smtp_server():
    controller_module = pytest.importorskip("aiosmtpd.controller")

    class Inbox:
        def __init__(self) -> None:
            self.messages: list = []
            self.refuse = 0

        async def handle_DATA(self, server, session, envelope):
            if self.refuse:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            self.messages.append(envelope)
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a known port to check it started
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = controller_module.Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()
