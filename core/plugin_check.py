"""Checking a plugin the way its users will meet it: everything it registers, precisely.

`servicecycle plugin check` and `servicecycle.testing` both call this: problems
(which stop a plugin from working) and warnings (which make it worse to use, such
as a question missing in one of the cycle's languages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import Catalogue
from .cycle import Cycle
from .errors import ServiceCycleError
from .plugins import PluginHost
from .rules.checks import run_rule_tests
from .rules.loader import RuleSet, load_ruleset


@dataclass
class PluginReport:
    plugin: str
    cycles: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    rule_tests: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_cycle(cycle: Cycle) -> list[str]:
    """Warnings about a valid cycle: missing translations, moments with nothing to offer."""
    warnings = []
    for path, text in cycle.texts().items():
        missing = [lang for lang in cycle.languages if lang not in text]
        if missing:
            warnings.append(f"cycle {cycle.id!r}: {path} has no text in {', '.join(missing)}")
    used: set[str] = set()
    for stage, moment in cycle.moments():
        where = f"cycle {cycle.id!r}: moment {moment.id!r} (stage {stage.id!r})"
        if not moment.reasons:
            warnings.append(f"{where}: no reasons; the kiosk cannot ask what went wrong")
        if len(moment.reasons) > 6:
            warnings.append(f"{where}: {len(moment.reasons)} reasons; the kiosk shows the first 6")
        used.update(moment.reasons, moment.praise)
    for reason_id in sorted(used):
        reason = cycle.available_reasons[reason_id]
        missing = [lang for lang in cycle.languages if lang not in reason.label]
        if missing:
            warnings.append(
                f"cycle {cycle.id!r}: reason {reason_id!r} has no label in {', '.join(missing)}"
            )
    if not cycle.critical_moments():
        warnings.append(f"cycle {cycle.id!r}: no moment is marked critical")
    return warnings


def check_plugins(host: PluginHost, names: list[str] | None = None) -> list[PluginReport]:
    """A report per plugin (all loaded and failed ones, or just ``names``)."""
    catalogue = Catalogue.from_plugins(host)
    ruleset = load_ruleset(host, catalogue)
    known = sorted(set(host.infos) | {p.plugin for p in host.problems})
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ServiceCycleError(
                f"no plugin named {', '.join(map(repr, unknown))}; plugins: {', '.join(known) or '(none)'}"
            )
    return [_report(name, host, catalogue, ruleset) for name in (names or known)]


def _report(name: str, host: PluginHost, catalogue: Catalogue, ruleset: RuleSet) -> PluginReport:
    report = PluginReport(name)
    report.problems += [p.message for p in host.problems if p.plugin == name]
    for cycle_id, origin in sorted(catalogue.origin.items()):
        if origin == name:
            report.cycles.append(cycle_id)
            report.warnings += check_cycle(catalogue.cycles[cycle_id])
    origin = f"plugin {name}"
    report.rules = sorted(
        rule_id for rule_id, loaded in ruleset.rules.items() if loaded.origin.startswith(origin)
    )
    report.problems += [str(p) for p in ruleset.problems if str(p).startswith(origin)]
    for path in ruleset.plugin_files.get(name, []):
        tests = Path(str(path)).with_name(f"{Path(str(path)).stem}_test.toml")
        if not tests.exists():
            report.warnings.append(f"{path}: no rule tests (expected {tests.name} beside it)")
            continue
        try:
            results = run_rule_tests(tests, catalogue)
        except ServiceCycleError as exc:
            report.problems.append(str(exc))
            continue
        report.rule_tests += len(results)
        for result in results:
            report.problems += [f"{tests.name}: {result.name}: {f}" for f in result.failures]
    report.problems = list(dict.fromkeys(report.problems))  # rule problems reach us twice
    if not report.cycles and not report.rules and not report.problems:
        report.warnings.append("registers no cycles and no rules")
    return report
