"""servicecycle core: the service-cycle model, plugins, recording and storage.

This module's names are the public API: exactly what a plugin (built in or
written outside this repository) may use. Nothing here imports the kiosk, the
CLI or any plugin.
"""

from .access import (
    ROLES,
    SILENCE_CHOICES,
    AccessError,
    AlertDesk,
    FollowUp,
    FollowUpDesk,
    Forbidden,
    KioskDesk,
    ReportDesk,
    ReportQueryError,
    ReportScope,
    Role,
    Session,
    SessionBook,
    SiteAlert,
    User,
    UserBook,
    WeeklyMail,
)
from .alert import Alert, AlertState
from .alerting import DeliveryError, Notification, NotifiedAlert, Notifier
from .answers import (
    MAX_COMMENT,
    MAX_CONTACT,
    AlreadyAnswered,
    AlreadyErased,
    AnswerError,
    AnswerNotFound,
    ErasedAnswer,
    Erasure,
    PruneResult,
    StageScore,
    SurveyAnswer,
    answers,
    complete_answers,
    erase_answer,
    find_answer,
    parse_answer_id,
    prune_answers,
    record_answer,
)
from .catalogue import Catalogue
from .config import Config, KioskSettings, SiteSettings, SurveySettings, load_config
from .cycle import SCALES, Cycle, Moment, Stage, load_cycle
from .errors import (
    ConfigError,
    PluginError,
    RatingError,
    ServiceCycleError,
    StoreError,
    TemplateError,
)
from .export import FORMATS, export
from .fleet import Chain, Hub, ShipStatus
from .hookspecs import hookimpl
from .metrics import MomentFigures, moment_figures
from .pin import PinGuard, PinLocked, hash_pin
from .plugins import ENTRY_POINT_GROUP, LOAD_PLUGINS_ENV, PluginHost, PluginInfo, PluginProblem
from .rating import FLAGS, Rating
from .readiness import SiteWarning, readiness_warnings
from .reasons import Reason, default_reasons
from .recorder import Recorder
from .rules import PythonRule, Rule, RuleFault
from .runtime import Runtime
from .session import AlertingWorker, KioskSession, Tap
from .sites import SiteRegistry
from .store import RatingFilter, Store, StoreBusy, StoreCorruption
from .survey import URL_PLACEHOLDERS, survey_url
from .text import pick, printable
from .tokens import SurveyTokens, TokenClaims, TokenError

__all__ = [
    "ENTRY_POINT_GROUP",
    "FLAGS",
    "FORMATS",
    "LOAD_PLUGINS_ENV",
    "MAX_COMMENT",
    "MAX_CONTACT",
    "ROLES",
    "SCALES",
    "SILENCE_CHOICES",
    "URL_PLACEHOLDERS",
    "AccessError",
    "Alert",
    "AlertDesk",
    "AlertState",
    "AlertingWorker",
    "AlreadyAnswered",
    "AlreadyErased",
    "AnswerError",
    "AnswerNotFound",
    "Catalogue",
    "Chain",
    "Config",
    "ConfigError",
    "Cycle",
    "DeliveryError",
    "ErasedAnswer",
    "Erasure",
    "FollowUp",
    "FollowUpDesk",
    "Forbidden",
    "Hub",
    "KioskDesk",
    "KioskSession",
    "KioskSettings",
    "Moment",
    "MomentFigures",
    "Notification",
    "NotifiedAlert",
    "Notifier",
    "PinGuard",
    "PinLocked",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "PluginProblem",
    "PruneResult",
    "PythonRule",
    "Rating",
    "RatingError",
    "RatingFilter",
    "Reason",
    "Recorder",
    "ReportDesk",
    "ReportQueryError",
    "ReportScope",
    "Role",
    "Rule",
    "RuleFault",
    "Runtime",
    "ServiceCycleError",
    "Session",
    "SessionBook",
    "ShipStatus",
    "SiteAlert",
    "SiteRegistry",
    "SiteSettings",
    "SiteWarning",
    "Stage",
    "StageScore",
    "Store",
    "StoreBusy",
    "StoreCorruption",
    "StoreError",
    "SurveyAnswer",
    "SurveySettings",
    "SurveyTokens",
    "Tap",
    "TemplateError",
    "TokenClaims",
    "TokenError",
    "User",
    "UserBook",
    "WeeklyMail",
    "answers",
    "complete_answers",
    "default_reasons",
    "erase_answer",
    "export",
    "find_answer",
    "hash_pin",
    "hookimpl",
    "load_config",
    "load_cycle",
    "moment_figures",
    "parse_answer_id",
    "pick",
    "printable",
    "prune_answers",
    "readiness_warnings",
    "record_answer",
    "survey_url",
]
