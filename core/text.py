"""Texts in several languages, and the one rule for choosing among them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")

LanguageCode = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN.pattern)]


def _no_blank_texts(value: dict[str, str]) -> dict[str, str]:
    blank = [lang for lang, text in value.items() if not text.strip()]
    if blank:
        raise ValueError(f"empty text for language(s) {', '.join(blank)}")
    return value


#: A text keyed by language code, e.g. ``{"en": "How was your wait?", "tr": "..."}``.
Text = Annotated[dict[LanguageCode, str], AfterValidator(_no_blank_texts)]


def pick(text: Mapping[str, str], language: str, fallback: str) -> str:
    """The text in ``language``, else in ``fallback``, else any text at all.

    Screens that must never mix languages check :func:`has` for every text
    first and choose one language for the whole screen.
    """
    if language in text:
        return text[language]
    if fallback in text:
        return text[fallback]
    return next(iter(text.values()), "")


def missing(texts: Mapping[str, Mapping[str, str]], language: str) -> list[str]:
    """Names of the texts (keyed by a label for logging) lacking ``language``."""
    return [name for name, text in texts.items() if language not in text]
