"""The kiosk's own UI words, and how a screen gets all of its texts in one language.

The words live in ``strings.toml`` beside this file (one table per text, keyed
by language code) so translators edit data, not code. A screen never picks a
language itself: it hands every text it will show (its UI words, the question,
the reason labels, the site name) to :meth:`KioskSession.screen_language`, and
core chooses one language for the whole screen, falling back as a block and
logging what was missing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from servicecycle.core import KioskSession

Texts = dict[str, Mapping[str, str]]


@cache
def strings() -> dict[str, dict[str, str]]:
    """Every UI text, flattened to ``"section.name" -> {language: text}``."""
    data = tomllib.loads((files(__package__) / "strings.toml").read_text(encoding="utf-8"))
    flat: dict[str, dict[str, str]] = {}

    def walk(prefix: str, table: dict[str, Any]) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                flat[name] = dict(value)
            elif isinstance(value, dict):
                walk(name, value)

    walk("", data)
    return flat


class Verbatim(Mapping[str, str]):
    """A text that reads the same in every language (a site's name, a URL).

    It is handed to ``screen_language`` like any other text but never forces a
    fallback, because a proper name has no translation to be missing.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def __getitem__(self, language: str) -> str:
        return self.text

    def __contains__(self, language: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def ui(keys: Iterable[str]) -> Texts:
    """The named UI texts, ready to merge with a screen's other texts."""
    table = strings()
    return {key: table[key] for key in keys}


def localise(session: KioskSession, keys: Iterable[str], extra: Texts | None = None) -> ScreenTexts:
    """All texts of one screen in one language, chosen by core."""
    language, texts = session.screen_language({**ui(keys), **(extra or {})})
    return ScreenTexts(language, texts)


class ScreenTexts(dict[str, str]):
    """The texts of one screen, all in :attr:`language`."""

    def __init__(self, language: str, texts: Mapping[str, str]) -> None:
        super().__init__(texts)
        self.language = language

    def fill(self, key: str, **values: object) -> str:
        """A text with its placeholders filled in (``{top}``, ``{seconds}``...)."""
        return self[key].format(**values)
