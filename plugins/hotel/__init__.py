"""The built-in hotel plugin: its service cycle and the alert rules that watch it."""

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from servicecycle.core import Cycle, hookimpl, load_cycle


@hookimpl
def register_cycles(register: Callable[[Cycle], None]) -> None:
    register(load_cycle(files(__name__) / "cycle.toml"))


@hookimpl
def register_rules(register: Callable[[Any], None]) -> None:
    register(files(__name__) / "rules.toml")
