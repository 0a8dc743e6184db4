"""When, where and with what a benchmark ran: the facts every result file starts with."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def machine_facts(folder: Path, **versions: str) -> dict[str, Any]:
    """The machine, the command and the file system of ``folder``; ``versions`` of the tools."""
    df = subprocess.run(["df", "-T", str(folder)], capture_output=True, text=True, check=False)
    fields = df.stdout.splitlines()[1].split() if df.returncode == 0 else []
    device, fs_type, mount = (fields[0], fields[1], fields[-1]) if fields else ("?", "?", "?")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(redact(arg) for arg in sys.orig_argv),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        **versions,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "filesystem": f"{fs_type} ({device} mounted on {mount}) for {folder}",
    }


def redact(arg: str) -> str:
    """A command-line argument as results may show it: a store URL without its password."""
    from servicecycle.core.store.postgres.url import is_postgres_url, parse_url

    return parse_url(arg).safe if is_postgres_url(arg) else arg
