"""Guard tests in datasette's manner: every hook is documented and tested."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from servicecycle.core import PluginHost

ROOT = Path(__file__).resolve().parent.parent
HOOKS = PluginHost().hook_names


def test_there_are_hooks():
    assert {"register_cycles", "rating_recorded", "alert_changed", "survey_url"} <= set(HOOKS)


@pytest.fixture(scope="module")
def documented() -> set[str]:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    return set(re.findall(r"^### `(\w+)\(", text, flags=re.MULTILINE))


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook, documented):
    assert hook in documented, f"docs/hooks.md needs a '### `{hook}(...)`' section"


def test_no_documented_hook_is_missing_from_core(documented):
    assert documented <= set(HOOKS)


@pytest.fixture(scope="module")
def test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return names


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook, test_names):
    assert any(n.startswith(f"test_hook_{hook}") for n in test_names), (
        f"add a test named test_hook_{hook}..."
    )
