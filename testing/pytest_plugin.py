"""pytest fixtures for plugin authors (registered through the ``pytest11`` entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import PluginTester


@pytest.fixture
def plugin_tester(tmp_path: Path) -> Iterator[Callable[..., PluginTester]]:
    """Build a :class:`PluginTester` over a fresh data folder: ``plugin_tester(module, "name")``."""
    made: list[PluginTester] = []

    def make(plugin: Any, name: str, **options: Any) -> PluginTester:
        tester = PluginTester(plugin, name, tmp_path / f"data-{len(made)}", **options)
        made.append(tester)
        return tester

    yield make
    for tester in made:
        tester.close()
