"""Texts in several languages, and the one rule for choosing among them."""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from typing import Annotated, Any

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


#: Characters that change how a terminal or a screen shows what follows them:
#: C0 and C1 controls, DEL, and the bidirectional overrides and isolates.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` made safe to show on a terminal or a kiosk screen, as the text it is.

    Names, comments and reasons come from people and files; an escape
    sequence or a bidi override in one must not move the cursor, recolour the
    screen or reorder what follows. Each such character is shown as its
    escape (``\\x1b``, ``\\u202e``); with ``newlines`` a newline is kept (and a
    tab stays a tab). Markup (``[bold]``) is not this function's business:
    show the result as plain text (``markup=False``, :class:`rich.text.Text`).
    """
    value = str(text)

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if newlines and char in "\n\t":
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSHOWABLE.sub(escape, value)


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 80, 80
_SHORT.maxdict = _SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxset = 6


def shown(value: Any) -> str:
    """A value as an error message may quote it: short, shallow, never failing.

    Files and plugins can hand in a string of a megabyte, lists nested
    thousands deep or an integer of thousands of digits; quoted in full,
    those make messages nobody reads, or raise while being written.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    try:
        return _SHORT.repr(value)
    except Exception:  # a plugin's object whose repr fails
        return f"<a {type(value).__name__}>"
