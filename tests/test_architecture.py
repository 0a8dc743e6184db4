"""The folders tell the architecture; these tests keep the arrows pointing one way.

core ← plugins, core ← kiosk, and core knows neither. Plugins use only the
public `servicecycle.core` module, exactly what an outside author has.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports_of(folder: str, root: Path = ROOT) -> list[tuple[str, str]]:
    """(file, imported module) for every import in a folder's Python files."""
    found = []
    for path in sorted((root / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(root)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((str(path.relative_to(root)), node.module))
    return found


def test_core_knows_nothing_of_kiosk_cli_survey_or_plugins():
    forbidden = (
        "servicecycle.kiosk",
        "servicecycle.cli",
        "servicecycle.plugins",
        "servicecycle.survey",
        "servicecycle.hub",
        "servicecycle.console",
        "servicecycle.reportcard",
        "servicecycle.testing",
        "textual",
        "starlette",
        "uvicorn",
        "jinja2",
    )
    bad = [(f, m) for f, m in imports_of("core") if m.startswith(forbidden)]
    assert bad == []


def test_plugins_use_only_the_public_core_module():
    bad = [
        (f, m)
        for f, m in imports_of("plugins")
        if m.startswith("servicecycle") and m != "servicecycle.core"
    ]
    assert bad == []


@pytest.mark.parametrize("folder", ["kiosk", "survey"])
def test_kiosk_and_survey_talk_to_the_public_core_only(folder):
    """No business logic in the screens or pages: they call what core exports."""
    bad = [
        (f, m)
        for f, m in imports_of(folder)
        if m.startswith("servicecycle") and m != "servicecycle.core"
    ]
    assert bad == []


def test_the_hub_talks_to_the_public_core_and_serves_the_survey_pages():
    """The hub's front-end decides nothing: it calls what core exports (and mounts the survey app)."""
    bad = [
        (f, m)
        for f, m in imports_of("hub")
        if m.startswith("servicecycle")
        and m != "servicecycle.core"
        and not m.startswith(
            ("servicecycle.survey", "servicecycle.console", "servicecycle.reportcard")
        )
    ]
    assert bad == []


def test_the_console_talks_to_the_public_core_and_borrows_the_survey_defences():
    """Every page goes through core's AlertDesk; headers and CSRF are the survey app's."""
    bad = [
        (f, m)
        for f, m in imports_of("console")
        if m.startswith("servicecycle")
        and m != "servicecycle.core"
        and m != "servicecycle.survey.security"
        and m != "servicecycle.reportcard"
    ]
    assert bad == []


def test_the_report_card_renders_core_reports_and_nothing_else():
    """One rendering for the file, the page and the e-mail: core's reports in, HTML out."""
    bad = [
        (f, m)
        for f, m in imports_of("reportcard")
        if (m.startswith("servicecycle") and not m.startswith("servicecycle.core"))
        or m.startswith(("textual", "starlette", "uvicorn"))
    ]
    assert bad == []
    assert {m for _, m in imports_of("reportcard")} >= {"jinja2", "servicecycle.core.reports.model"}


@pytest.mark.parametrize(
    "folder", ["core", "plugins", "kiosk", "survey", "hub", "console", "reportcard"]
)
def test_no_relative_imports_escape_their_folder(folder):
    for path in (ROOT / folder).rglob("*.py"):
        depth = len(path.relative_to(ROOT / folder).parts) - 1
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level <= depth + 1, f"{path}: relative import leaves {folder}/"


def test_the_guard_catches_a_forbidden_import(tmp_path):
    """The scanner itself works: a planted bad import is found."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text("import os\nfrom servicecycle.kiosk import app\n")
    assert imports_of("core", tmp_path) == [
        ("core/bad.py", "os"),
        ("core/bad.py", "servicecycle.kiosk"),
    ]


def test_every_package_folder_is_in_the_distribution():
    """A folder missing from `packages` works in an editable install and is lost in a wheel."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    mapping = setup["package-dir"]
    expected = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in relative:
                expected.add(".".join((package, *relative)))
    assert sorted(expected - listed) == []
