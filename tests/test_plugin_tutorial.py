"""The plugin tutorial (docs/plugin-tutorial.md), run step by step, so it stays true.

Files shown with ``title="path"`` are written; ``console`` blocks are run in
order and the lines they show under a command must appear in its output.
``pip install -e DIR`` is run as a real pip build of DIR into a private folder
(on ``PYTHONPATH``), so the test never changes the environment it runs in.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import pip_install_command, with_plugins

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "plugin-tutorial.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def steps() -> list[tuple[str, str, str]]:
    """(kind, title or '', body) for each file and console block, in order."""
    found = []
    for lang, info, body in BLOCK.findall(TUTORIAL.read_text(encoding="utf-8")):
        title = re.search(r'title="([^"]+)"', info)
        if title:
            found.append(("file", title.group(1), body))
        elif lang == "console":
            found.append(("console", "", body))
    return found


def command(line: str, site: Path) -> list[str]:
    words = shlex.split(line)
    if words[:3] == ["pip", "install", "-e"]:
        return pip_install_command(words[3], site)
    if words[0] == "servicecycle":
        return [sys.executable, "-m", "servicecycle.cli.main", *words[1:]]
    if words[0] == "pytest":
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *words[1:]]
    raise AssertionError(f"the tutorial runs a command this test does not know: {line}")


@pytest.mark.slow
def test_the_tutorial_works_as_written(tmp_path):
    site = tmp_path / "site"
    env = {
        **os.environ,
        **with_plugins(site, "restaurant"),
        "COLUMNS": "120",
        "NO_COLOR": "1",
        "SERVICECYCLE_DATA_DIR": str(tmp_path / "data"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    ran = 0
    for kind, title, body in steps():
        if kind == "file":
            path = tmp_path / title
            assert path.parent.exists(), f"{title}: the tutorial writes into a folder not yet made"
            path.write_text(body, encoding="utf-8")
            continue
        pending: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                pending.append((line[2:], []))
            elif line.strip() and pending:
                pending[-1][1].append(line.strip())
        for line, expected in pending:
            result = subprocess.run(
                command(line, site),
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"$ {line}\n{output}"
            for text in expected:
                assert text in output, f"$ {line}: expected {text!r} in\n{output}"
            ran += 1
    assert ran >= 7  # every command of the tutorial ran
