"""Where a follow-up survey for a rating lives."""

from __future__ import annotations

import re
from urllib.parse import quote

from .config import SurveySettings
from .plugins import PluginHost
from .rating import Rating

#: ``{name}`` placeholders a ``[survey] url`` template may use, and what each becomes.
URL_PLACEHOLDERS: dict[str, str] = {
    "token": "the rating's signed, expiring survey token",
    "rating": "the rating id (unsigned: an external tool cannot check it)",
    "moment": "the moment id the customer rated",
    "score": "the score the customer gave",
    "cycle": "the cycle id",
    "language": "the language the customer used on the kiosk",
}
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill_url(template: str, rating: Rating, token: str) -> str:
    """``template`` with every known placeholder replaced by its URL-quoted value."""
    values = {
        "token": token,
        "rating": rating.id,
        "moment": rating.moment,
        "score": str(rating.score),
        "cycle": rating.cycle,
        "language": rating.language,
    }

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else quote(value, safe="")

    return PLACEHOLDER.sub(replace, template)


def survey_url(plugins: PluginHost, settings: SurveySettings, rating: Rating, token: str) -> str:
    """A plugin's ``survey_url`` answer if any, else the configured URL template."""
    answer = plugins.first("survey_url", rating=rating, token=token)
    if isinstance(answer, str) and answer:
        return answer
    return fill_url(settings.url, rating, token)
