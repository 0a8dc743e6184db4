"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and catch what they should.

import-linter builds the real import graph (indirect imports too), so this
adds to tests/test_architecture.py what a per-file scan cannot see. The guard
runs the very same contracts over a planted tree that breaks each of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def lint_imports(cwd: Path, config_file: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config_file)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def test_lint_imports_is_installed():
    assert LINT_IMPORTS.exists(), "pip install -e '.[test]' installs import-linter"


def test_every_import_contract_is_kept():
    contracts = config()["contracts"]
    assert {c["id"] for c in contracts} >= {
        "core-is-independent",
        "core-internals",
        "front-ends-apart",
        "front-ends-below-cli",
        "postgres-engine-private",
        "rules-fed-by-the-change-feed",
        "folder-engine-private",
        "hub-below-cli",
        "console-below-hub",
        "reportcard-renders-only",
    }
    output = lint_imports(ROOT, ROOT / "pyproject.toml")
    assert output.startswith("exit 0"), output
    assert f"Contracts: {len(contracts)} kept, 0 broken." in output, output


PLANTED = {
    # one violation per contract
    "core/__init__.py": "",
    "core/rating.py": "import textual\n",  # core-is-independent
    "core/store/__init__.py": "",
    "core/store/postgres/__init__.py": "",
    "core/store/segment.py": "",
    "core/store/table.py": "",
    "core/store/partitions.py": "",
    "core/rules/__init__.py": "",
    "core/rules/follow.py": "from servicecycle.core.store import segment\n",  # rules-fed-by-...
    "cli/__init__.py": "from servicecycle.core.store import postgres\n",  # postgres-engine-private
    "kiosk/__init__.py": "from servicecycle.core import rating\n",  # core-internals
    "survey/__init__.py": "import servicecycle.kiosk\n",  # front-ends-apart
    "plugins/__init__.py": "import servicecycle.testing\n",  # front-ends-below-cli
    "testing/__init__.py": "",
    "hub/__init__.py": "import servicecycle.plugins\n",  # hub-below-cli
    "console/__init__.py": "import servicecycle.hub\n",  # console-below-hub
    "reportcard/__init__.py": "import starlette\n",  # reportcard-renders-only
    "deploy/__init__.py": "",
    "core/store/locks.py": "",
    "core/store/maintenance.py": "",
    "core/store/migrate.py": "",
    "core/reports/__init__.py": "",
    "core/reports/collect.py": "",
    "core/reports/scan.py": "",
    "core/reports/upkeep.py": "",
    "cli/store.py": "",
    "core/answers.py": "from servicecycle.core.store import locks\n",  # folder-engine-private
}


def test_a_planted_violation_of_each_contract_is_caught(tmp_path):
    """The same contracts over a small tree that breaks every one of them."""
    for name, text in PLANTED.items():
        path = tmp_path / "servicecycle" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    body = (ROOT / "pyproject.toml").read_text()
    section = body[body.index("[tool.importlinter]") :]
    section = section[: section.index("\n[tool.", 1)] if "\n[tool." in section[1:] else section
    (tmp_path / "contracts.toml").write_text(section)
    output = lint_imports(tmp_path, tmp_path / "contracts.toml", {"PYTHONPATH": str(tmp_path)})
    assert output.startswith("exit 1"), output
    contracts = config()["contracts"]
    assert f"Contracts: 0 kept, {len(contracts)} broken." in output, output
    for planted in (
        "servicecycle.core.rating -> textual",
        "servicecycle.cli -> servicecycle.core.store.postgres",
        "servicecycle.kiosk -> servicecycle.core.rating",
        "servicecycle.survey -> servicecycle.kiosk",
        "servicecycle.plugins -> servicecycle.testing",
        "servicecycle.hub -> servicecycle.plugins",
        "servicecycle.console -> servicecycle.hub",
        "servicecycle.reportcard -> starlette",
        "servicecycle.core.rules.follow -> servicecycle.core.store.segment",
    ):
        assert planted in output, output


@pytest.mark.parametrize("contract", ["core-is-independent", "core-internals"])
def test_the_architecture_tests_and_the_contracts_agree(contract):
    """tests/test_architecture.py keeps its own scan; the contracts say the same thing."""
    found = {c["id"]: c for c in config()["contracts"]}[contract]
    if contract == "core-is-independent":
        assert set(found["forbidden_modules"]) == {
            *(
                f"servicecycle.{n}"
                for n in (
                    "kiosk",
                    "cli",
                    "plugins",
                    "survey",
                    "hub",
                    "console",
                    "reportcard",
                    "testing",
                )
            ),
            *("textual", "starlette", "uvicorn", "jinja2"),
        }
    else:
        assert "servicecycle.kiosk" not in found["allowed_importers"]
        assert found["protected_modules"] == ["servicecycle.core.*"]
