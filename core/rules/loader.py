"""Reading rules: from TOML files, from plugins, and the site's changes to them.

Each rule is validated on its own: a bad rule is reported with its file,
line, id, the bad key or value and what is allowed, and every other rule
still loads. Plugins register rules through ``register_rules``; the site
configuration can add rules, disable a plugin's rule, or override its
thresholds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..catalogue import Catalogue
from ..plugins import PluginHost
from ..validation import TomlError, data_problem, describe, parse_toml, shown
from .conditions import FIELDS
from .rule import PythonRule, Rule

AnyRule = Rule | PythonRule


@dataclass(frozen=True)
class RuleProblem:
    """A rule that could not be used, said so that its author can fix it."""

    source: str  # a file path, or "plugin NAME"
    line: int | None
    rule: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        who = f" rule {shown(self.rule)}:" if self.rule else ""
        return f"{where}:{who} {self.message}"


@dataclass
class LoadedRule:
    rule: AnyRule
    origin: str  # "plugin hotel", "site", or a file path
    changed_by_site: list[str] = field(default_factory=list)


@dataclass
class RuleSet:
    """Every rule this site runs, where each came from, and what went wrong."""

    rules: dict[str, LoadedRule] = field(default_factory=dict)
    disabled: dict[str, LoadedRule] = field(default_factory=dict)
    problems: list[RuleProblem] = field(default_factory=list)
    #: Rule files each plugin registered (their rule tests live beside them).
    plugin_files: dict[str, list[Path]] = field(default_factory=dict)

    def active(self) -> list[AnyRule]:
        return [loaded.rule for loaded in self.rules.values() if loaded.rule.enabled]

    def add(self, rule: AnyRule, origin: str, line: int | None = None) -> None:
        if rule.id in self.rules:
            self.problems.append(
                RuleProblem(
                    origin,
                    line,
                    rule.id,
                    f"duplicate id; already defined by {self.rules[rule.id].origin}",
                )
            )
            return
        self.rules[rule.id] = LoadedRule(rule, origin)


# -- files ----------------------------------------------------------------------


def parse_rules_text(text: str, source: str) -> tuple[list[tuple[Rule, int]], list[RuleProblem]]:
    """Rules of a TOML text with ``[[rules]]`` tables, each with its line number."""
    try:
        data = parse_toml(text)
    except TomlError as exc:
        return [], [RuleProblem(source, exc.line, None, str(exc))]
    unknown = sorted(set(data) - {"rules", "tests"})
    problems = [
        RuleProblem(source, None, None, f"unknown top-level key {shown(k)}; allowed: rules, tests")
        for k in unknown
    ]
    entries = data.get("rules", [])
    if not isinstance(entries, list):
        return [], [
            *problems,
            RuleProblem(source, None, None, "rules: write each rule as a [[rules]] table"),
        ]
    headers = _header_lines(text, "rules")
    rules = []
    for index, entry in enumerate(entries):
        line = headers[index] if index < len(headers) else None
        rule, problem = build_rule(entry, source, line, text)
        if rule is not None:
            rules.append((rule, line or 0))
        else:
            problems.append(problem)  # type: ignore[arg-type]
    return rules, problems


def load_rules_file(path: Path) -> tuple[list[tuple[Rule, int]], list[RuleProblem]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [RuleProblem(str(path), None, None, f"cannot read: {exc}")]
    return parse_rules_text(text, str(path))


def build_rule(
    entry: Any, source: str, line: int | None = None, text: str | None = None
) -> tuple[Rule | None, RuleProblem | None]:
    """Validate one rule mapping; on failure, a problem naming the most precise line."""
    rule_id = entry.get("id") if isinstance(entry, Mapping) else None
    if not isinstance(entry, Mapping):
        return None, RuleProblem(source, line, None, "each rule must be a table")
    if not isinstance(rule_id, str):
        rule_id = None
    problem = data_problem(entry)
    if problem:
        return None, RuleProblem(source, line, rule_id, problem)
    try:
        return Rule.model_validate(dict(entry)), None
    except ValidationError as exc:
        lines = describe(exc, Rule)
        key_line = _key_line(text, line, exc) if text is not None else None
        return None, RuleProblem(source, key_line or line, rule_id, "; ".join(lines))


_HEADER = "^\\s*\\[\\[\\s*{}\\s*\\]\\]"


def _header_lines(text: str, table: str) -> list[int]:
    pattern = re.compile(_HEADER.format(re.escape(table)))
    return [n for n, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]


def _key_line(text: str, start: int | None, exc: ValidationError) -> int | None:
    """The line of the first offending key inside the rule whose header is on ``start``."""
    if start is None:
        return None
    errors = exc.errors()
    key = next((str(e["loc"][0]) for e in errors if e["loc"]), None)
    if key is None and errors:  # a whole-rule check: its message starts with the key
        match = re.match(r"(?:Value error, )?([a-z_]+)", errors[0]["msg"])
        key = match.group(1) if match else None
    if key is None:
        return start
    key = "for" if key == "for_" else key
    lines = text.splitlines()
    for index in range(start, len(lines)):  # from the line after the header
        if re.match(r"^\s*\[\[", lines[index]):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[index]):
            return index + 1
    return start


# -- plugins ----------------------------------------------------------------------


def collect_plugin_rules(host: PluginHost, ruleset: RuleSet) -> None:
    """Call ``register_rules`` on every plugin; each accepts rules, mappings or rule files."""

    def register_for(plugin: str) -> Callable[[Any], None]:
        origin = f"plugin {plugin}"

        def register(item: Any) -> None:
            if isinstance(item, Rule | PythonRule):
                ruleset.add(item, origin)
                host.note(plugin, "rules", item.id)
            elif isinstance(item, Mapping):
                rule, problem = build_rule(item, origin)
                if rule is None:
                    ruleset.problems.append(problem)  # type: ignore[arg-type]
                    host.report(plugin, "register_rules", str(problem))
                else:
                    register(rule)
            elif hasattr(item, "read_text"):  # a Path or an importlib Traversable
                ruleset.plugin_files.setdefault(plugin, []).append(Path(str(item)))
                rules, problems = parse_rules_text(
                    item.read_text(encoding="utf-8"), f"{origin}: {item}"
                )
                ruleset.problems.extend(problems)
                for problem in problems:
                    host.report(plugin, "register_rules", str(problem))
                for rule, line in rules:
                    ruleset.add(rule, f"{origin} ({Path(str(item)).name}:{line})")
                    host.note(plugin, "rules", rule.id)
            else:
                message = f"register() takes a Rule, a PythonRule, a mapping or a rules file, not {type(item).__name__}"
                ruleset.problems.append(RuleProblem(origin, None, None, message))
                host.report(plugin, "register_rules", message)

        return register

    host.collect("register_rules", register_for)


# -- the site's changes --------------------------------------------------------------


def apply_site_changes(
    ruleset: RuleSet,
    *,
    files: Iterable[Path] = (),
    add: Iterable[Mapping[str, Any]] = (),
    disable: Iterable[str] = (),
    override: Mapping[str, Mapping[str, Any]] | None = None,
    source: str = "site configuration",
) -> None:
    """Add the site's own rules, then disable and override plugin rules."""
    for path in files:
        rules, problems = load_rules_file(path)
        ruleset.problems.extend(problems)
        for rule, line in rules:
            ruleset.add(rule, f"{path}:{line}")
    for index, entry in enumerate(add):
        rule, problem = build_rule(entry, f"{source} rules.add[{index}]")
        if rule is None:
            ruleset.problems.append(problem)  # type: ignore[arg-type]
        else:
            ruleset.add(rule, f"{source}")
    for rule_id in disable:
        loaded = ruleset.rules.pop(rule_id, None)
        if loaded is None:
            ruleset.problems.append(
                RuleProblem(
                    source,
                    None,
                    rule_id,
                    f"rules.disable: no such rule; rules: {', '.join(sorted(ruleset.rules))}",
                )
            )
            continue
        loaded.changed_by_site.append("disabled")
        ruleset.disabled[rule_id] = loaded
    for rule_id, changes in (override or {}).items():
        loaded = ruleset.rules.get(rule_id)
        if loaded is None:
            ruleset.problems.append(
                RuleProblem(
                    source,
                    None,
                    rule_id,
                    f"rules.override: no such rule; rules: {', '.join(sorted(ruleset.rules))}",
                )
            )
            continue
        if isinstance(loaded.rule, PythonRule):
            ruleset.problems.append(
                RuleProblem(
                    source, None, rule_id, "rules.override: Python rules cannot be overridden"
                )
            )
            continue
        if "id" in changes or "kind" in changes:
            ruleset.problems.append(
                RuleProblem(source, None, rule_id, "rules.override: id and kind cannot change")
            )
            continue
        merged = {**loaded.rule.model_dump(by_alias=True, exclude_unset=True), **changes}
        rule, problem = build_rule(merged, f"{source} rules.override.{rule_id}")
        if rule is None:
            ruleset.problems.append(problem)  # type: ignore[arg-type]
            continue
        loaded.rule = rule
        loaded.changed_by_site.append(
            "override: " + ", ".join(f"{k}={shown(v)}" for k, v in changes.items())
        )


def check_against_catalogue(ruleset: RuleSet, catalogue: Catalogue) -> None:
    """Refuse rules naming cycles, stages or moments that do not exist."""
    for rule_id, loaded in list(ruleset.rules.items()):
        message = _catalogue_problem(loaded.rule, catalogue)
        if message:
            ruleset.problems.append(RuleProblem(loaded.origin, None, rule_id, message))
            del ruleset.rules[rule_id]


def _catalogue_problem(rule: AnyRule, catalogue: Catalogue) -> str | None:
    cycles = (
        [catalogue.cycles[rule.cycle]]
        if rule.cycle in catalogue.cycles
        else list(catalogue.cycles.values())
    )
    if rule.cycle is not None and rule.cycle not in catalogue.cycles:
        return (
            f"cycle = {rule.cycle!r}: unknown; known cycles: {', '.join(sorted(catalogue.cycles))}"
        )
    moments = {m.id for c in cycles for _, m in c.moments()}
    stages = {s.id for c in cycles for s in c.stages}
    known = {"moment": moments, "stage": stages, "cycle": set(catalogue.cycles)}
    for part in ("scope", "when"):
        for name, condition in getattr(rule, part).items():
            if name not in known or name not in FIELDS:
                continue
            values = _condition_values(condition)
            unknown = sorted(v for v in values if isinstance(v, str) and v not in known[name])
            if unknown:
                where = f" of cycle {rule.cycle!r}" if rule.cycle else ""
                return (
                    f"{part}.{name}: {', '.join(map(shown, unknown[:5]))} not a {name}{where}; "
                    f"known: {', '.join(sorted(known[name]))}"
                )
    return None


def _condition_values(condition: Any) -> list[Any]:
    if isinstance(condition, Mapping):
        condition = next(iter(condition.values()), [])
    return list(condition) if isinstance(condition, list) else [condition]


def ruleset_from_files(paths: Iterable[Path], catalogue: Catalogue) -> RuleSet:
    """Only the rules of these files (to check, test or try them), checked against the catalogue."""
    ruleset = RuleSet()
    for path in paths:
        rules, problems = load_rules_file(path)
        ruleset.problems.extend(problems)
        for rule, line in rules:
            ruleset.add(rule, f"{path}:{line}", line)
    check_against_catalogue(ruleset, catalogue)
    return ruleset


def load_ruleset(
    host: PluginHost,
    catalogue: Catalogue,
    *,
    files: Iterable[Path] = (),
    add: Iterable[Mapping[str, Any]] = (),
    disable: Iterable[str] = (),
    override: Mapping[str, Mapping[str, Any]] | None = None,
    source: str = "site configuration",
) -> RuleSet:
    """Plugin rules, then the site's changes, then a check against the catalogue."""
    ruleset = RuleSet()
    collect_plugin_rules(host, ruleset)
    apply_site_changes(
        ruleset, files=files, add=add, disable=disable, override=override, source=source
    )
    check_against_catalogue(ruleset, catalogue)
    return ruleset
