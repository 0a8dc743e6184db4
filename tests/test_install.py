"""servicecycle as a site installs it (docs/kiosk.md, "Setting up a real kiosk").

A wheel is built from a copy of this checkout, installed with its dependencies
into a fresh virtual environment (no editable install, nothing of the test
environment on its path), and used from there: its own `servicecycle` checks the
shipped example and a file it writes itself, writes the systemd units it
carries and runs their commands, and runs the kiosk on a pseudo-terminal until a
tap is stored. Dependencies come from the package index through pip (its cache
and configured wheel folders keep this to seconds).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from servicecycle.core import Runtime, Store

from .test_kiosk_cli import Terminal

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: What a checkout holds that a fresh clone does not (as .gitignore says).
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "snapshot_report.html",
)
#: Where docs/kiosk.md puts the program and the configuration; the units name them.
UNIT_VENV, UNIT_CONFIG = "/var/lib/servicecycle/venv", "/etc/servicecycle/site.toml"


def copy_checkout(target: Path) -> Path:
    """The project's files as a fresh clone has them, copied to ``target`` (the tree
    others are editing is never built in, nor written to)."""
    shutil.copytree(ROOT, target, ignore=NOT_IN_A_CLONE, symlinks=True)
    return target


@dataclass
class Installed:
    wheel: Path
    venv: Path
    source: Path  # the copied checkout (examples/ and docs/ as shipped)
    home: Path

    @property
    def servicecycle(self) -> Path:
        return self.venv / "bin" / "servicecycle"

    def env(self, **more: str) -> dict[str, str]:
        """A user's environment: the system's PATH, nothing of the test environment."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "COLUMNS": "100",
            "NO_COLOR": "1",
            **more,
        }

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.servicecycle), *args],
            capture_output=True,
            text=True,
            env=self.env(**env),
            cwd=self.home,
            timeout=60,
        )


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 180) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("install")
    source = copy_checkout(base / "servicecycle")
    dist = base / "dist"
    # as docs/kiosk.md does it: python -m build (no isolation: this environment's setuptools)
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)], source
    )
    [wheel] = dist.glob("servicecycle-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)])
    home = base / "home"
    home.mkdir()
    return Installed(wheel, venv, source, home)


def test_the_wheel_holds_every_file_the_program_reads(installed):
    """Every non-Python file in a package folder (strings, stylesheet, cycles, rules,
    survey pages, the site template, the units) is in the wheel."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    expected = set()
    for package, folder in setup["package-dir"].items():
        prefix = package.replace(".", "/")
        for path in (ROOT / folder).rglob("*"):
            if (
                path.is_file()
                and path.suffix not in {".py", ".pyc"}
                and "__pycache__" not in path.parts
            ):
                expected.add(f"{prefix}/{path.relative_to(ROOT / folder).as_posix()}")
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert expected - names == set()
    for needed in (
        "servicecycle/kiosk/kiosk.tcss",
        "servicecycle/kiosk/strings.toml",
        "servicecycle/core/reasons.toml",
        "servicecycle/plugins/hotel/cycle.toml",
        "servicecycle/survey/templates/form.html",
        "servicecycle/cli/templates/site.toml.j2",
        "servicecycle/deploy/systemd/servicecycle-kiosk@.service",
    ):
        assert needed in names


def test_the_installed_program_checks_the_example_and_a_file_it_writes(installed):
    version = installed.run("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"servicecycle, version {installed.wheel.name.split('-')[1]}"
    example = installed.source / "examples" / "site.toml"
    checked = installed.run("config", "check", str(example))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"{example}: ok"
    site = installed.home / "site.toml"
    made = installed.run("config", "init", "--industry", "banking", "-o", str(site))
    assert made.returncode == 0, made.stderr
    checked = installed.run("config", "check", str(site))
    assert checked.returncode == 0, checked.stderr
    assert "warning: survey.url:" in checked.stderr
    shown = installed.run("--config", str(site), "config", "show")
    assert shown.returncode == 0, shown.stderr
    assert '"moment": "wait-time"' in shown.stdout


def test_the_units_it_carries_run_its_commands(installed):
    units = installed.home / "units"
    written = installed.run("config", "init", "--systemd", str(units))
    assert written.returncode == 0, written.stderr
    site = installed.home / "unit-site.toml"
    assert installed.run("config", "init", "--industry", "hotel", "-o", str(site)).returncode == 0
    for unit in sorted(units.iterdir()):
        text = unit.read_text(encoding="utf-8")
        assert UNIT_VENV in text and UNIT_CONFIG in text
        text = text.replace(UNIT_VENV, str(installed.venv)).replace(UNIT_CONFIG, str(site))
        unit.write_text(text, encoding="utf-8")
        commands = re.findall(r"^(ExecStartPre|ExecStart)=(.*)$", text, re.M)
        ours = [(key, line.split()) for key, line in commands if str(installed.venv) in line]
        assert [key for key, _ in ours] == ["ExecStartPre", "ExecStart"], unit.name
        (_, check), (_, start) = ours
        assert check[1:] == ["config", "check", str(site)]
        done = subprocess.run(check, capture_output=True, text=True, env=installed.env())
        assert done.returncode == 0, (unit.name, done.stderr)
        helped = subprocess.run(
            [*start, "--help"], capture_output=True, text=True, env=installed.env()
        )
        assert helped.returncode == 0, (unit.name, helped.stderr)  # the command exists as written
    analyze = shutil.which("systemd-analyze")
    if analyze:  # the syntax, as systemd reads it (an instance of the kiosk's template unit)
        shutil.copy(
            units / "servicecycle-kiosk@.service", units / "servicecycle-kiosk@tty1.service"
        )
        names = [
            "servicecycle-kiosk@tty1.service",
            "servicecycle-survey.service",
            "servicecycle-alerts.service",
            "servicecycle-hub.service",
            "servicecycle-console.service",
        ]
        done = subprocess.run(
            [analyze, "verify", "--man=no", *(f"./{n}" for n in names)],
            capture_output=True,
            text=True,
            cwd=units,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_installed_kiosk_runs_on_a_terminal_and_stores_a_tap(installed, host):
    site = installed.home / "kiosk-site.toml"
    made = installed.run("config", "init", "--industry", "health", "-o", str(site))
    assert made.returncode == 0, made.stderr
    _, _, moment = Runtime.open(site, plugins=host).kiosk_moment()  # the one the file names
    question = moment.question["en"]
    data_dir = installed.home / "data"
    argv = [str(installed.servicecycle), "--config", str(site), "--data-dir", str(data_dir)]
    argv += ["kiosk", "--log-file", str(installed.home / "kiosk.log")]
    env = installed.env(TERM="xterm-256color")
    del env["COLUMNS"]  # the terminal's own size, as on a console
    term = Terminal(argv, env, (120, 32))
    try:
        term.read_until(question.encode())
        term.send(b"4", settle=0.8)
        with Store(data_dir) as store:
            assert [(r.moment, r.score) for r in store.ratings.query()] == [(moment.id, 4)]
        os.kill(term.pid, signal.SIGTERM)
        assert term.wait() == 0
    finally:
        term.close()
