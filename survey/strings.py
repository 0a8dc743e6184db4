"""The survey page's own texts, and the rule that a page speaks one language only.

The texts live in ``strings.toml`` (one table per key, one entry per
language) so a translator edits data, not code. A page asks for the keys it
shows plus the cycle texts it shows (stage names); the first language in the
customer's order of preference that has *all* of them wins. A missing
translation therefore moves the whole page to the fallback language, with a
log line naming what is missing, instead of mixing two languages on a screen.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

STRINGS_FILE = Path(__file__).with_name("strings.toml")
#: The language of last resort for pages that know nothing about the customer.
DEFAULT_LANGUAGE = "en"
_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)


@dataclass(frozen=True)
class PageTexts:
    """Every text of one page, all in ``language`` (unless ``mixed`` says otherwise)."""

    language: str
    texts: dict[str, str]
    mixed: bool = False

    def __getitem__(self, key: str) -> str:
        return self.texts[key]

    def __getattr__(self, key: str) -> str:  # lets templates write {{ t.submit }}
        try:
            return self.texts[key]
        except KeyError:
            raise AttributeError(key) from None


class Strings:
    """The UI texts by key and language."""

    def __init__(self, texts: Mapping[str, Mapping[str, str]]) -> None:
        self.texts = {key: dict(by_language) for key, by_language in texts.items()}

    @classmethod
    def load(cls, path: Path = STRINGS_FILE) -> Strings:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        for key, value in data.items():
            if not isinstance(value, dict) or not all(isinstance(t, str) for t in value.values()):
                raise ValueError(f"{path}: [{key}] must map language codes to texts")
        return cls(data)

    @property
    def languages(self) -> list[str]:
        """Languages that have at least one text, in the order first seen."""
        return list(dict.fromkeys(lang for texts in self.texts.values() for lang in texts))

    def page(
        self,
        keys: Iterable[str],
        preferred: Sequence[str],
        extra: Mapping[str, Mapping[str, str]] | None = None,
    ) -> PageTexts:
        """The texts ``keys`` (UI strings) and ``extra`` (e.g. stage names) in one language.

        ``preferred`` is tried in order; the first language that has every text wins.
        """
        wanted: dict[str, Mapping[str, str]] = {k: self.texts.get(k, {}) for k in keys}
        wanted.update(extra or {})
        candidates = list(dict.fromkeys(preferred))
        for language in candidates:
            missing = [k for k, t in wanted.items() if language not in t]
            if not missing:
                if language != candidates[0]:
                    absent = [k for k, t in wanted.items() if candidates[0] not in t]
                    log.warning(
                        "survey page: no %r text for %s; showing the whole page in %r",
                        candidates[0],
                        ", ".join(absent),
                        language,
                    )
                return PageTexts(language, {k: t[language] for k, t in wanted.items()})
        fallback = candidates[-1] if candidates else DEFAULT_LANGUAGE
        log.error(
            "survey page: texts %s have no language in common among %s; mixing languages",
            sorted(wanted),
            candidates,
        )
        texts = {
            k: t.get(fallback) or t.get(DEFAULT_LANGUAGE) or next(iter(t.values()), k)
            for k, t in wanted.items()
        }
        return PageTexts(fallback, texts, mixed=True)


def accepted_languages(header: str | None, limit: int = 10) -> list[str]:
    """Base language codes from an ``Accept-Language`` header, most wanted first.

    Used for pages that cannot know the customer's kiosk language (a broken
    link). Malformed parts are ignored; the header is attacker-controlled.
    """
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:300].split(",")[: limit * 2]):
        match = _LANGUAGE_RANGE.match(part)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        if 0 < quality <= 1:
            ranked.append((-quality, index, match.group(1).lower()))
    return list(dict.fromkeys(code for _, _, code in sorted(ranked)))[:limit]
