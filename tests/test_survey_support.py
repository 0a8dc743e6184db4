"""Helpers shared by the survey tests: a real site on disk, kiosk ratings, form posts.

(Named ``test_survey_*`` to sit with the survey tests; it holds no tests itself.)
"""

from __future__ import annotations

import multiprocessing
import re
import warnings
from pathlib import Path

from servicecycle.core import KioskSession, PluginHost, Rating, Runtime, record_answer

with warnings.catch_warnings():  # Starlette >= 1.x prefers httpx2; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BUILTIN = {"hotel", "health", "banking"}

#: A rule that fires on any bad stage given on the survey page.
SURVEY_RULE = """
[[rules.add]]
id = "site.survey-bad-stage"
kind = "single"
severity = "warning"
when = { kiosk = "survey", score = { le = 2 } }
include_survey = true
key_by = ["site", "stage"]
summary = "A survey rated {stage} {score}"
response = "Call the customer back if they left contact details."
"""

#: Markers that a Python traceback or internal detail leaked into a page.
LEAKS = ("Traceback", 'File "', "servicecycle.", "starlette", "uvicorn", "Exception")


def make_site(
    tmp_path: Path,
    *,
    url: str = "http://127.0.0.1:8765/s/{token}",
    extra: str = "",
    kiosk: str = "",
) -> Runtime:
    """A site configuration file and data folder on disk, opened as the server would."""
    config = tmp_path / "site.toml"
    config.write_text(
        f'data_dir = "data"\n[site]\nid = "lobby"\nname = "Grand Hotel"\n'
        f'[kiosk]\nid = "kiosk-1"\n{kiosk}\n[survey]\nurl = "{url}"\n{extra}',
        encoding="utf-8",
    )
    return Runtime.open(config, plugins=PluginHost.discover(only=BUILTIN))


def kiosk_rating(
    runtime: Runtime, *, language: str = "en", score: int = 2, cycle: str | None = None
) -> tuple[Rating, str]:
    """Record a tap exactly as the kiosk does; return the rating and its survey link."""
    session = KioskSession(runtime, language=language, cycle=cycle)
    tap = session.tap(score)
    return tap.rating, session.survey_link(tap.rating)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def client(app, **kwargs) -> TestClient:
    """A Starlette TestClient for ``app``."""
    return TestClient(app, **kwargs)


def _answer_then_die(config: str, rating_id: str) -> None:
    """In a child: store an answer, record its first stage rating, then die (as on SIGKILL)."""
    import importlib
    import os

    # the module, not core's `answers` function of the same name
    answers_module = importlib.import_module("servicecycle.core.answers")

    runtime = Runtime.open(config, plugins=PluginHost.discover(only=BUILTIN))
    real = answers_module._record
    calls = []

    def record_then_die(runtime, item):
        if calls:
            os._exit(9)  # no cleanup, no flush: the process is simply gone
        calls.append(item)
        return real(runtime, item)

    answers_module._record = record_then_die
    rating = runtime.store.ratings.get(rating_id)
    record_answer(runtime, rating, {"reservation": 2, "stay": 1, "check-out": 4})


def crash_while_answering(config: Path, rating_id: str) -> None:
    """Answer the survey of ``rating_id`` in a child process that dies half way through."""
    child = multiprocessing.get_context("fork").Process(
        target=_answer_then_die, args=(str(config), rating_id)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 9
