"""The report card's words in one language: a report never mixes two.

The words live in ``strings.toml`` (one table per key, one entry per language)
so a translator edits data, not code. A report asks for a language; if any
word lacks it, the whole report is written in English instead, and the log
says which words were missing. Cycle texts (stage and moment names) come
from the plugins, in the same language when they have it.
"""

from __future__ import annotations

import logging
import tomllib
from functools import cache
from importlib.resources import files
from typing import Any

log = logging.getLogger(__name__)

#: The language every word has; the report falls back to it as a whole.
FALLBACK = "en"


@cache
def _table() -> dict[str, dict[str, str]]:
    data = tomllib.loads(files(__package__).joinpath("strings.toml").read_text("utf-8"))
    return {key: dict(texts) for key, texts in data.items()}


def languages() -> list[str]:
    """The languages every word of the report card is written in."""
    table = _table()
    found = dict.fromkeys(lang for texts in table.values() for lang in texts)
    return [lang for lang in found if all(lang in texts for texts in table.values())]


class Words:
    """Every word of a report in :attr:`language`; ``t("key", n=3)`` fills placeholders."""

    def __init__(self, language: str) -> None:
        table = _table()
        missing = [key for key, texts in table.items() if language not in texts]
        if missing:
            log.warning(
                "report card: no %r text for %s; writing the whole report in %r",
                language,
                ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""),
                FALLBACK,
            )
            language = FALLBACK
        self.language = language
        self._texts = {key: texts[language] for key, texts in table.items()}

    def __call__(self, key: str, **values: Any) -> str:
        text = self._texts[key]
        return text.format(**values) if values else text
