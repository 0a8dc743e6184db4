"""The report card as HTML: one rendering for the offline file and the console's page.

Core builds the report (``servicecycle.core.reports``) and knows nothing of
HTML; this package draws it with Jinja2 templates and inline SVG charts, in
the language asked for (see :mod:`.words`). The CLI writes the file
(``servicecycle report --format html``), the console includes the same body
in its page, and the weekly e-mail attaches the same file.
"""

from .render import CSS, context, environment, install, render_document
from .words import FALLBACK, Words, languages

__all__ = [
    "CSS",
    "FALLBACK",
    "Words",
    "context",
    "environment",
    "install",
    "languages",
    "render_document",
]
