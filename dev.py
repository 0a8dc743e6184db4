#!/usr/bin/env python3
"""Set up a virtual environment and run servicecycle or its tests.

    python3 dev.py start [ARGS...]   the kiosk on the embedded defaults (ARGS: any
                                     `servicecycle` command instead, e.g. `cycles hotel`)
    python3 dev.py test  [PYTEST ARGS...]   lint, format check and the whole test suite
                                            (installs Debian's chromium for the browser
                                            tests and Debian's postgresql for the store's
                                            PostgreSQL tests when missing and apt-get is there),
                                            one pytest worker per CPU (pass -n 0 for one)

Needs only Python >= 3.11 and the package index. The environment lives in
.venv/ and is reinstalled when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".servicecycle-installed"


def ensure_venv() -> None:
    """Create .venv and install the project (editable, with test extras) when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may run on an old Python
        sys.exit(f"servicecycle needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing servicecycle and its test tools into .venv ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


def has_initdb() -> bool:
    """Whether a PostgreSQL server (its initdb) is installed, where Debian or PATH puts it."""
    return (
        any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb") is not None
    )


def run(argv: list[str]) -> int:
    return subprocess.run(argv, cwd=ROOT).returncode


def main(args: list[str]) -> int:
    command, rest = (args[0], args[1:]) if args else ("start", [])
    if command not in {"start", "test"}:
        print(__doc__)
        return 2
    ensure_venv()
    if command == "start":
        return run([str(BIN / "servicecycle"), *(rest or ["kiosk"])])
    browser = ROOT / ".ci" / "install-browser"
    # The end-to-end tests drive a real headless browser (Debian's chromium).
    if browser.exists() and not Path("/usr/bin/chromium").exists() and run(["bash", str(browser)]):
        print("could not install chromium: the browser tests will fail (see above)")
    postgresql = ROOT / ".ci" / "install-postgresql"
    # The PostgreSQL store tests start a throw-away server of their own (Debian's postgresql).
    if postgresql.exists() and not has_initdb() and run(["bash", str(postgresql)]):
        print(
            "could not install postgresql: the PostgreSQL store tests will be skipped (see above)"
        )
    for step in (
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
    ):
        if code := run(step):
            print("lint failed: run `.venv/bin/ruff check --fix . && .venv/bin/ruff format .`")
            return code
    # One worker per CPU (pytest-xdist): every test makes its own folders, ports and servers.
    workers = (
        [] if any(arg.startswith(("-n", "--numprocesses")) for arg in rest) else ["-n", "auto"]
    )
    return run([str(PYTHON), "-m", "pytest", *workers, *rest])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # the kiosk or the tests were stopped: no traceback
        sys.exit(130)
