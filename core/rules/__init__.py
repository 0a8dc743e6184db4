"""Alert rules: declarative conditions on ratings, windows, and the alert lifecycle."""

from ..duration import format_duration, parse_duration
from .book import AlertBook, RuleFault
from .conditions import FIELDS, ConditionError, compile_conditions
from .engine import RuleEngine, Transition
from .loader import LoadedRule, RuleProblem, RuleSet, load_rules_file, load_ruleset
from .rule import TEMPLATE_FIELDS, PythonRule, Rule
from .service import Alerting, site_ruleset

__all__ = [
    "FIELDS",
    "TEMPLATE_FIELDS",
    "AlertBook",
    "Alerting",
    "ConditionError",
    "LoadedRule",
    "PythonRule",
    "Rule",
    "RuleEngine",
    "RuleFault",
    "RuleProblem",
    "RuleSet",
    "Transition",
    "compile_conditions",
    "format_duration",
    "load_rules_file",
    "load_ruleset",
    "parse_duration",
    "site_ruleset",
]
