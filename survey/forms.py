"""Reading the answer form: raw bytes in, a typed answer or a precise refusal out.

The page posts ``application/x-www-form-urlencoded`` (no file uploads, so no
multipart parser is needed). Whatever arrives is attacker-controlled, so the
parser never raises anything but :class:`FormError`, whose status says
whether the request was unreadable (400) or too large (413). Whether the
answer makes sense for the rating (stages, scores, consent) is core's
business: :mod:`servicecycle.core.answers`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from servicecycle.core import MAX_COMMENT, MAX_CONTACT

from .security import CSRF_FIELD

#: More fields than any real page has (a cycle has a handful of stages).
MAX_FIELDS = 64
STAGE_PREFIX = "stage-"
CONSENT_VALUE = "yes"


class FormError(Exception):
    """The form cannot be read (``status`` 400) or a field is too large (413)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class AnswerForm:
    """What the customer sent, as typed values (not yet checked against the cycle)."""

    csrf: str = ""
    stage_scores: dict[str, int] = field(default_factory=dict)
    comment: str = ""
    contact: str = ""
    consent: bool = False


def normalise_newlines(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF but count each as one for ``maxlength``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_answer_form(
    body: bytes,
    stage_ids: Collection[str],
    scale: int,
    *,
    max_comment: int = MAX_COMMENT,
    max_contact: int = MAX_CONTACT,
) -> AnswerForm:
    """Parse the survey form. Fields: ``csrf``, ``stage-<id>`` (``""`` = skipped, else
    1..``scale``), ``comment``, ``consent`` (``yes``), ``contact``. Unknown fields are ignored,
    repeated ones refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError(400, "the form is not UTF-8") from None
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (ValueError, UnicodeDecodeError):
        raise FormError(400, "the form cannot be read") from None
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in seen:
            raise FormError(400, f"field {name[:40]!r} is repeated")
        seen[name] = value
    scores: dict[str, int] = {}
    for name, value in seen.items():
        if not name.startswith(STAGE_PREFIX):
            continue
        stage = name[len(STAGE_PREFIX) :]
        if stage not in stage_ids:
            raise FormError(400, f"unknown stage {stage[:40]!r}")
        if value == "":
            continue  # "does not apply"
        if not (value.isascii() and value.isdigit() and len(value) <= 2):
            raise FormError(400, f"score for stage {stage!r} is not a number")
        score = int(value)
        if not 1 <= score <= scale:
            raise FormError(400, f"score for stage {stage!r} is outside 1..{scale}")
        scores[stage] = score
    comment = normalise_newlines(seen.get("comment", ""))
    if len(comment) > max_comment:
        raise FormError(413, f"comment longer than {max_comment} characters")
    contact = normalise_newlines(seen.get("contact", ""))
    if len(contact) > max_contact:
        raise FormError(413, f"contact longer than {max_contact} characters")
    consent = seen.get("consent")
    if consent not in (None, CONSENT_VALUE):
        raise FormError(400, "consent has an unexpected value")
    csrf = seen.get(CSRF_FIELD, "")
    return AnswerForm(
        csrf=csrf,
        stage_scores=scores,
        comment=comment,
        contact=contact,
        consent=consent == CONSENT_VALUE,
    )
