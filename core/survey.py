"""Where a follow-up survey for a rating lives."""

from __future__ import annotations

from urllib.parse import quote

from .config import SurveySettings
from .plugins import PluginHost
from .rating import Rating


def survey_url(plugins: PluginHost, settings: SurveySettings, rating: Rating, token: str) -> str:
    """A plugin's ``survey_url`` answer if any, else the configured URL template."""
    answer = plugins.first("survey_url", rating=rating, token=token)
    if isinstance(answer, str) and answer:
        return answer
    return settings.url.replace("{token}", quote(token, safe=""))
