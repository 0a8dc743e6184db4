"""A throw-away PostgreSQL server for the tests: real, local, unprivileged, removed after.

`pg_server` (session) runs initdb into a temporary folder and starts `postgres` on a
free port on 127.0.0.1 only, its unix socket in that folder. Host connections need a
password (scram-sha-256), so a wrong-password test is a real one; the fixture's own
admin connection uses the socket. PostgreSQL refuses to run as root, so when the tests
run as root (CI does) the server runs as `nobody`. `pg_url` gives each test a fresh
database, dropped after it. Import both into a test module::

    from .pg import pg_server, pg_url  # noqa: F401

The tests are skipped only when no PostgreSQL is installed at all; `python3 dev.py
test` installs Debian's postgresql first (.ci/install-postgresql).
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

USER = "servicecycle_test"
ADMIN = "postgres"


def find_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: Debian's newest, else PATH."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_server_user() -> list[str]:
    """The prefix that runs a command as the unprivileged server user (root cannot run it)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


@dataclass
class PgServer:
    """One running throw-away cluster; `url` connects as the password-authenticated test role."""

    bin: Path
    root: Path
    port: int
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    user: str = USER
    #: fsync on (a benchmark's honest commit times); the tests run without it.
    durable: bool = False
    #: More ``-c name=value`` server settings (the benchmark's memory sizes).
    settings: tuple[str, ...] = ()

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{self.user}:{secret}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        """An autocommit superuser connection over the unix socket (trust)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=ADMIN,
            dbname=database,
            autocommit=True,
        )

    def pg_ctl(self, *args: str) -> None:
        command = [*as_server_user(), str(self.bin / "pg_ctl"), "-D", str(self.data), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = (self.root / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stderr}\n{log}")

    def start(self) -> None:
        safety = "" if self.durable else "-c fsync=off -c full_page_writes=off "
        extra = "".join(f"-c {setting} " for setting in self.settings)
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            f"{safety}-c max_connections=50 -c shared_buffers=32MB {extra}"
        ).strip()
        self.pg_ctl("-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop (``immediate`` is a crash) and start again on the same port and data."""
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


def start_server(
    bin_dir: Path,
    *,
    durable: bool = False,
    settings: tuple[str, ...] = (),
    where: str | None = None,
) -> PgServer:
    root = Path(tempfile.mkdtemp(prefix="sc-pg-", dir=where))
    server = PgServer(bin=bin_dir, root=root, port=free_port(), durable=durable, settings=settings)
    server.socket_dir.mkdir()
    pwfile = root / "pwfile"
    pwfile.write_text(secrets.token_hex(16) + "\n")  # the superuser's; never used over TCP
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in (root, server.socket_dir, pwfile):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    root.chmod(0o700)
    init = [
        *as_server_user(),
        str(bin_dir / "initdb"),
        "-D",
        str(server.data),
        "-U",
        ADMIN,
        "--pwfile",
        str(pwfile),
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]
    done = subprocess.run(init, capture_output=True, text=True, timeout=120)
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stdout}\n{done.stderr}")
    for attempt in range(3):
        try:
            server.start()
            break
        except RuntimeError:
            if attempt == 2:
                shutil.rmtree(root, ignore_errors=True)
                raise
            server.port = free_port()  # another process took the port between bind and start
    with server.admin() as conn:
        conn.execute(
            f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{server.password}'"  # hex: no quoting
        )
    return server


def remove_server(server: PgServer) -> None:
    try:
        if server.running():
            server.stop("immediate")
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throw-away PostgreSQL server for the whole session, removed at the end."""
    bin_dir = find_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb): run .ci/install-postgresql")
    server = start_server(bin_dir)
    atexit.register(remove_server, server)  # also if the session is interrupted hard
    try:
        yield server
    finally:
        remove_server(server)
        atexit.unregister(remove_server)


@contextmanager
def fresh_database(server: PgServer) -> Iterator[str]:
    """A fresh, empty database owned by the test role: its URL (with the password)."""
    name = "t_" + secrets.token_hex(6)
    if not server.running():  # a test stopped the server and failed before restarting
        server.start()
    with server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {USER}")
    try:
        yield server.url(name)
    finally:
        if not server.running():
            server.start()
        with server.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for one test, dropped after it."""
    with fresh_database(pg_server) as url:
        yield url
