"""The built-in hotel plugin: its service cycle (and, later, its alert rules)."""

from collections.abc import Callable
from importlib.resources import files

from servicecycle.core import Cycle, hookimpl, load_cycle


@hookimpl
def register_cycles(register: Callable[[Cycle], None]) -> None:
    register(load_cycle(files(__name__) / "cycle.toml"))
