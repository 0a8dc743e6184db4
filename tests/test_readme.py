"""Every command of the README's "Using it" block runs as written, in a fresh clone.

Whatever lines the block holds are run, in order, by bash in a copy of the
checkout's tracked files (a fresh clone: `plugins/*/rules_test.toml` resolves
and `plugin new` writes into the copy), with the data folder in a temporary
directory: a line added to the README is tested without touching this file.
Servers are the one kind of line that does not end by itself; see :data:`SERVERS`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .test_install import copy_checkout

ROOT = Path(__file__).resolve().parent.parent

#: Commands that serve until stopped, and the address that answers once they are up:
#: such a line is started, asked, and stopped with SIGTERM (as systemd stops it).
SERVERS = {
    "servicecycle survey serve": ("127.0.0.1", 8765, "/healthz"),
    "servicecycle hub serve": ("127.0.0.1", 8780, "/api/v1/health"),
    "servicecycle console serve": ("127.0.0.1", 8790, "/console/login"),
}


def using_it() -> list[str]:
    """The `servicecycle ...` lines of the README's "Using it" code block, as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Using it\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("servicecycle ")]


def fresh_clone(target: Path) -> Path:
    """The files git tracks, as the working tree has them, copied to ``target``: what a
    fresh clone holds, without what running the README in the checkout left there
    (a ``site.toml``, a ``servicecycle-restaurant/``). Without git: the whole checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return copy_checkout(target)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _server(line: str) -> tuple[str, int, str] | None:
    command = line.split("#", 1)[0].strip()
    return SERVERS.get(command)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def _serve(line: str, address: tuple[str, int, str], cwd: Path, env: dict[str, str]) -> str:
    """Start a server line, wait for its address to answer, stop it; a failure in words."""
    host, port, path = address
    server = subprocess.Popen(
        ["bash", "-c", f"exec {line}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                return f"exited {server.returncode} before serving: {server.stderr.read()}"
            try:
                with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    return f"{host}:{port}{path} never answered"
                time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=20)
        # uvicorn shuts down cleanly, then dies of the signal it caught (systemd counts
        # that as a clean stop)
        clean = code in (0, -signal.SIGTERM)
        return "" if clean else f"exited {code} on SIGTERM: {server.stderr.read()}"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for stream in (server.stdout, server.stderr):
            if stream is not None:
                stream.close()


def test_the_block_is_found_and_ends_with_the_configuration():
    lines = using_it()
    assert len(lines) >= 10
    assert lines[-1].startswith("servicecycle --config site.toml config show")


def test_every_command_of_using_it_runs_as_written(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    env = {
        **os.environ,
        # `servicecycle` as `source .venv/bin/activate` finds it: the one of this environment
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SERVICECYCLE_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "100",
        "NO_COLOR": "1",
    }
    failures = []
    for line in using_it():
        address = _server(line)
        if address is not None:
            if not _port_free(address[0], address[1]):
                # another program holds the README's port: this line cannot run as written here
                print(f"not run, {address[0]}:{address[1]} is in use: {line}")
                continue
            problem = _serve(line, address, clone, env)
            if problem:
                failures.append(f"{line}\n  {problem}")
            continue
        try:
            done = subprocess.run(
                ["bash", "-c", line], cwd=clone, env=env, capture_output=True, text=True, timeout=90
            )
        except subprocess.TimeoutExpired:
            failures.append(f"{line}\n  did not end in 90 s (a server? add it to SERVERS)")
            continue
        if done.returncode != 0 or "Traceback" in done.stderr:
            failures.append(f"{line}\n  exit {done.returncode}: {done.stderr.strip()[-800:]}")
    assert not failures, "README commands that fail as written:\n" + "\n".join(failures)
    assert (clone / "site.toml").is_file() and (clone / "card.html").is_file()
